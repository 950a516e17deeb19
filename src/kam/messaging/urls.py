from django.urls import path

from kam.messaging import views

urlpatterns = [
    path("messages/send/", views.send, name="message_send"),
    path("messages/send/recipients/", views.recipient_options, name="message_recipient_options"),
    path("messages/send/preview/", views.send_preview, name="message_send_preview"),
    path("messages/outbox/", views.batch_list, name="message_batch_list"),
    path("messages/outbox/<int:pk>/", views.batch_detail, name="message_batch_detail"),
    path("messages/<int:pk>/", views.message_detail, name="message_detail"),
    path("messages/templates/", views.template_list, name="message_template_list"),
    path("messages/templates/new/", views.template_create, name="message_template_create"),
    path("messages/templates/<int:pk>/edit/", views.template_edit, name="message_template_edit"),
    path("messages/templates/<int:pk>/archive/", views.template_archive, name="message_template_archive"),
    path("messages/audiences/", views.audience_list, name="message_audience_list"),
    path("messages/audiences/new/", views.audience_create, name="message_audience_create"),
    path("messages/audiences/<int:pk>/edit/", views.audience_edit, name="message_audience_edit"),
    path("messages/audiences/<int:pk>/archive/", views.audience_archive, name="message_audience_archive"),
    path("messages/greetings/", views.greeting_list, name="message_greeting_list"),
    path("messages/greetings/<int:pk>/send/", views.greeting_send, name="message_greeting_send"),
    path("contacts/<int:pk>/messages/", views.contact_messages, name="contact_messages"),
    path("contacts/<int:pk>/message-consents/<str:kind>/", views.contact_consent, name="contact_message_consent"),
]
