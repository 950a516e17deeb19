from django.urls import path  # noqa: F401

from kam.sales import views  # noqa: F401

urlpatterns: list = [
    # --- pipeline (s1)
    path("opportunities/", views.opportunity_list, name="opportunity_list"),
    path("opportunities/board/", views.opportunity_board, name="opportunity_board"),
    path("accounts/<int:pk>/opportunities/new/", views.opportunity_create, name="opportunity_create"),
    path("accounts/<int:pk>/opportunities/", views.account_opportunities, name="account_opportunities"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:pk>/gate/<int:item>/", views.opportunity_gate_check, name="opportunity_gate_check"),
    path("opportunities/<int:pk>/advance/", views.opportunity_advance, name="opportunity_advance"),
    path("opportunities/<int:pk>/close/", views.opportunity_close, name="opportunity_close"),
    # --- sales records (s2)
    path("sales/import/", views.sales_import_page, name="sales_import"),
    path("accounts/<int:pk>/sales-history/", views.account_sales_history, name="account_sales_history"),
    # --- forecasts [h2]
    # --- funnel, result review, archive [h3]
    # --- work plans [h4]
    # --- samples, costs, positioning pages [h5]
]
