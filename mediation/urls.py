"""URL routes of this app (included under /api/v1/)."""

from django.urls import path

from mediation import api

urlpatterns: list = [
    path("cases/<int:pk>/messages/", api.MessagesView.as_view(), name="chat-messages"),
    path("cases/<int:pk>/messages/read/", api.ReadView.as_view(), name="chat-read"),
    path("cases/<int:pk>/messages/<int:seq>/pin/", api.MessagePinView.as_view(), name="chat-pin"),
    path("cases/<int:pk>/messages/<int:seq>/unpin/", api.MessageUnpinView.as_view(),
         name="chat-unpin"),
    path("cases/<int:pk>/messages/<int:seq>/redact/", api.MessageRedactView.as_view(),
         name="chat-redact"),
    path("chat/unread/", api.UnreadView.as_view(), name="chat-unread"),
]
