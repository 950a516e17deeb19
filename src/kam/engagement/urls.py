from django.urls import path

from kam.engagement import views

urlpatterns = [
    path("activities/", views.activity_list, name="activity_list"),
    path("activities/new/", views.activity_create, name="activity_create"),
    path("activities/accounts/", views.account_options, name="activity_account_options"),
    path("activities/contacts/", views.contact_options, name="activity_contact_options"),
    path("activities/<int:pk>/", views.activity_detail, name="activity_detail"),
    path("activities/<int:pk>/edit/", views.activity_edit, name="activity_edit"),
    path("activities/<int:pk>/archive/", views.activity_archive, name="activity_archive"),
    path("accounts/<int:pk>/timeline/", views.account_timeline, name="account_timeline"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/new/", views.task_create, name="task_create"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task_edit"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("tasks/<int:pk>/reopen/", views.task_reopen, name="task_reopen"),
    path("tasks/<int:pk>/cancel/", views.task_cancel, name="task_cancel"),
    path("reminders/", views.reminder_list, name="reminder_list"),
    path("reminders/<int:pk>/read/", views.reminder_read, name="reminder_read"),
    path("reminders/<int:pk>/dismiss/", views.reminder_dismiss, name="reminder_dismiss"),
    path("cadence/", views.cadence_breaches, name="cadence_breaches"),
]
