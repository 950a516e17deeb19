from django.urls import path

from kam.accounts import views

urlpatterns = [
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("accounts/<int:pk>/archive/", views.account_archive, name="account_archive"),
    path("accounts/<int:pk>/updates/", views.account_update_add, name="account_update_add"),
    path("accounts/<int:pk>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("accounts/<int:pk>/attachments/<int:attachment_pk>/", views.attachment_download, name="attachment_download"),
    path("accounts/<int:pk>/team/", views.team_member_set, name="team_member_set"),
    path("accounts/<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("accounts/<int:pk>/contacts/<int:contact_pk>/position/", views.position_edit, name="position_edit"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/positions/new/", views.position_add, name="position_add"),
    path("contacts/<int:pk>/personal/", views.contact_personal_file, name="contact_personal_file"),
    path("visitors/", views.visitor_list, name="visitor_list"),
    path("visitors/new/", views.visitor_create, name="visitor_create"),
    path("visitors/<int:pk>/promote/", views.visitor_promote, name="visitor_promote"),
    path("search/", views.search_page, name="search"),
    path("io/", views.import_page, name="import_page"),
    path("io/templates/<str:entity>/<str:fmt>/", views.import_template, name="import_template"),
    path("io/reports/<str:token>/", views.import_report, name="import_report"),
    path("io/export/<str:entity>/", views.export_download, name="export_download"),
]
