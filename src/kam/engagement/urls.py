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
    path("me/notifications/", views.notification_settings, name="notification_settings"),
    # ENG-5, ENG-6: executive sponsors and plans, events; ENG-7: campaigns
    path("sponsors/", views.sponsor_list, name="sponsor_list"),
    path("accounts/<int:pk>/sponsors/new/", views.sponsor_create, name="sponsor_create"),
    path("accounts/<int:pk>/sponsors-campaigns/", views.account_sponsors_campaigns, name="account_sponsors_campaigns"),
    path("executive-plans/", views.plan_list, name="plan_list"),
    path("accounts/<int:pk>/executive-plans/new/", views.plan_create, name="plan_create"),
    path("events/", views.event_list, name="event_list"),
    path("events/new/", views.event_create, name="event_create"),
    path("events/<int:pk>/", views.event_detail, name="event_detail"),
    path("events/<int:pk>/edit/", views.event_edit, name="event_edit"),
    path("events/<int:pk>/invite/", views.event_invite, name="event_invite"),
    path("events/<int:pk>/send/", views.event_send, name="event_send"),
    path("events/<int:pk>/invitations/<int:invitation>/", views.event_answer, name="event_answer"),
    path("events/<int:pk>/follow-ups/", views.event_follow_ups, name="event_follow_ups"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/participants/", views.campaign_participant_add, name="campaign_participant_add"),
    path(
        "campaigns/<int:pk>/participants/<int:participant>/",
        views.campaign_participant_edit,
        name="campaign_participant_edit",
    ),  # fmt: skip
]
