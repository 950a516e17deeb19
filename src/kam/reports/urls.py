from django.urls import path

from kam.reports import views

urlpatterns = [
    path("reports/weekly/", views.weekly_report_list, name="weekly_report_list"),
    path("reports/weekly/generate/", views.weekly_report_generate, name="weekly_report_generate"),
    path("reports/weekly/<int:pk>/", views.weekly_report_detail, name="weekly_report_detail"),
    path("reports/weekly/<int:pk>/xlsx/", views.weekly_report_xlsx, name="weekly_report_xlsx"),
]
