"""WebSocket routes of this app."""

from django.urls import path

from notifications.consumers import NotificationConsumer

websocket_urlpatterns: list = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]
