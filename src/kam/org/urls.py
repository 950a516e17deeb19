from django.urls import path

from kam.org import views

urlpatterns = [
    path("quotas/", views.quota_list, name="quota_list"),  # PIPE-7
]
