"""API tokens: one query finds the token's user and, on PostgreSQL, the user's groups and shops
too, so the role checks of the request that follows (cases.roles) ask the database nothing more.

Every token-authenticated API call goes through it, and the two role look-ups it saves were a
fifth of the queries of a filing or an offer. The same look-up serves HTTP (DRF) and WebSockets, so an
inactive user's token opens neither."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from odr.joined import Joined, columns, fetch_one, table


@cache
def _token_sql(vendor: str) -> str:
    """Written once, by hand: building this query with the ORM cost more than running it."""
    from django.contrib.auth import get_user_model

    from cases.models import Seller

    user = get_user_model()
    roles = ""
    if vendor == "postgresql":
        groups, group = user.groups.through, user.groups.field.related_model
        roles = (
            f", ARRAY(SELECT g.name FROM {table(groups)} ug JOIN {table(group)} g"  # noqa: S608
            " ON g.id = ug.group_id WHERE ug.user_id = u.id) AS odr_groups"
            f", ARRAY(SELECT s.seller_id FROM {table(Seller.staff.through)} s"
            " WHERE s.user_id = u.id) AS odr_seller_ids")
    # Table and column names come from the models; the key is a query parameter.
    return (f"SELECT {columns('u', user)}{roles} FROM {table(Token)} t "  # noqa: S608
            f"JOIN {table(user)} u ON u.id = t.user_id WHERE t.key = %s")


@cache
def _user_row() -> Joined:
    from django.contrib.auth import get_user_model

    return Joined(get_user_model())


def _active_token(key: str) -> Token | None:
    row = fetch_one("token", _token_sql(connection.vendor), [key])
    if row is None:
        return None
    (user,), roles = _user_row().instances(row)
    if not user.is_active:
        return None
    if roles:  # PostgreSQL: the user's groups and shops came with it
        user._odr_groups = frozenset(roles[0])
        user._odr_seller_ids = frozenset(roles[1])
    return Token(key=key, user=user)


def user_for_token(key: str):
    """The active user this token belongs to, its role caches filled when the database could
    give them in the same query; None for an unknown token or an inactive user."""
    token = _active_token(key)
    return token.user if token is not None else None


class RoleAwareTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token …`, with the roles loaded in the same query."""

    def authenticate_credentials(self, key):
        token = _active_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return (token.user, token)
