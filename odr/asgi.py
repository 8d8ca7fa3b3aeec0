"""ASGI entry point: HTTP and the WebSockets of mediation chat and live notifications."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from odr.asyncdb import tune_gil  # noqa: E402
from odr.ws_auth import TokenOrSessionAuthMiddlewareStack  # noqa: E402
from odr.ws_routes import websocket_urlpatterns  # noqa: E402

tune_gil()
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            TokenOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
