"""WebSocket routes of this app."""

from django.urls import path

from mediation.consumers import CaseChatConsumer

websocket_urlpatterns: list = [
    path("ws/cases/<int:case_id>/", CaseChatConsumer.as_asgi()),
]
