"""All WebSocket routes, gathered from the apps that own them."""

from mediation.routing import websocket_urlpatterns as mediation_routes
from notifications.routing import websocket_urlpatterns as notification_routes

websocket_urlpatterns = [*mediation_routes, *notification_routes]
