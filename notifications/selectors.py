"""Reads of notifications, always scoped to the person asking (no one reads another's bell)."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import QuerySet

from notifications import conf
from notifications.backends import all_backends
from notifications.catalog import EVENTS
from notifications.models import Notification, Preference
from odr.joined import prepared, table


def notifications_for(*, user, unread: bool | None = None) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs


def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


@cache
def _unread_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    recipient = qn(Notification._meta.get_field("recipient").column)
    # PostgreSQL: one array parameter, so one prepared statement for any number of people.
    # Elsewhere (SQLite, never prepared): the ids are spliced in below as %s placeholders.
    among = "= ANY(%s)" if vendor == "postgresql" else "IN ({ids})"
    return (f"SELECT {recipient}, COUNT(*) FROM {table(Notification)} "  # noqa: S608
            f"WHERE {recipient} {among} AND {qn('read_at')} IS NULL GROUP BY {recipient}")


def unread_counts(*, user_ids) -> dict[int, int]:
    """Unread counts of several people in one grouped query. Every notification the relay
    writes is pushed with its recipient's count, so the query is written once and prepared,
    not compiled by the ORM each time."""
    ids = list(user_ids)
    if not ids:
        return {}
    sql = _unread_sql(connection.vendor)
    if connection.vendor == "postgresql":
        sql, params = prepared("unread_counts", sql), [ids]
    else:
        sql, params = sql.replace("{ids}", ", ".join(["%s"] * len(ids))), ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def preference_of(*, user) -> Preference:
    """The saved preference, or an unsaved one holding the defaults."""
    pref = Preference.objects.filter(user=user).first()
    return pref or Preference(user=user, language=conf.default_language())


def channel_enabled(*, pref: Preference, event: str, channel: str) -> bool:
    """The user's override if any, otherwise the channel's own default for the event."""
    override = (pref.channels or {}).get(event, {}).get(channel)
    if isinstance(override, bool):
        return override
    backend = all_backends().get(channel)
    return backend.enabled_by_default(event) if backend else False


def preference_matrix(*, pref: Preference) -> dict[str, dict[str, bool]]:
    """Every event × every configured channel, effective values (what the UI shows)."""
    return {event: {name: channel_enabled(pref=pref, event=event, channel=name)
                    for name in all_backends()} for event in EVENTS}
