"""WebSocket authentication: the browser's session, or `?token=` / `Authorization: Token` for API
clients (DRF tokens), so a partner-side mediator tool can connect without cookies."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    try:
        return Token.objects.select_related("user").get(key=key).user
    except Token.DoesNotExist:
        return None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        key = None
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value.lower().startswith(b"token "):
                key = value.split()[1].decode()
        if not key:
            key = (parse_qs(scope.get("query_string", b"").decode()).get("token") or [None])[0]
        if key:
            user = await _user_for_token(key)
            if user is not None:
                scope["user"] = user
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):  # noqa: N802 (mirrors Channels' naming)
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
