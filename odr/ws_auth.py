"""WebSocket authentication: the browser's session, or `?token=` / `Authorization: Token` for API
clients (DRF tokens), so a partner-side mediator tool can connect without cookies.

A token is looked up in the async DB pool (odr/asyncdb.py) and, when it names a user, the
session middleware is skipped: an API client has no session, and each skipped lookup is one
hop less per connect (2,000 sockets reconnecting at once is the case that matters)."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack

from odr.asyncdb import db_deferrable


def _user_for_token(key: str):
    from odr.auth import user_for_token

    return user_for_token(key)


def _token(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value.lower().startswith(b"token "):
            parts = value.split()
            return parts[1].decode() if len(parts) > 1 else None
    return (parse_qs(scope.get("query_string", b"").decode()).get("token") or [None])[0]


class TokenOrSessionAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.by_session = AuthMiddlewareStack(inner)

    async def __call__(self, scope, receive, send):
        key = _token(scope)
        if key:
            user = await db_deferrable(_user_for_token)(key)
            if user is not None:
                return await self.inner({**scope, "user": user}, receive, send)
        return await self.by_session(scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):  # noqa: N802 (mirrors Channels' naming)
    return TokenOrSessionAuthMiddleware(inner)
