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
    path("sales/forecast/", views.sales_forecast, name="sales_forecast"),
    # --- funnel, result review, archive [h3]
    path("sales/funnel/", views.sales_funnel, name="sales_funnel"),
    path("sales/review/", views.sales_review, name="sales_review"),
    path("opportunities/<int:pk>/archive/", views.opportunity_archive, name="opportunity_archive"),
    path("opportunities/<int:pk>/restore/", views.opportunity_restore, name="opportunity_restore"),
    # --- work plans [h4]
    path("sales/plans/", views.work_plan, name="work_plan"),
    # --- samples, costs, positioning pages [h5]
    path("accounts/<int:pk>/positioning/", views.account_positioning, name="account_positioning"),
    path("accounts/<int:pk>/samples/", views.account_samples, name="account_samples"),
    path("accounts/<int:pk>/samples/new/", views.sample_create, name="sample_create"),
    path("samples/<int:pk>/edit/", views.sample_edit, name="sample_edit"),
    path("samples/<int:pk>/archive/", views.sample_archive, name="sample_archive"),
    path("accounts/<int:pk>/costs/", views.account_costs, name="account_costs"),
    path("accounts/<int:pk>/costs/new/", views.cost_create, name="cost_create"),
    path("costs/<int:pk>/edit/", views.cost_edit, name="cost_edit"),
    path("costs/<int:pk>/archive/", views.cost_archive, name="cost_archive"),
    path("accounts/<int:pk>/development-return/", views.account_development_return, name="account_development_return"),
]
