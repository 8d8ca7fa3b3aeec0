"""Reads of notifications, always scoped to the person asking (no one reads another's bell)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from notifications import conf
from notifications.backends import all_backends
from notifications.catalog import EVENTS
from notifications.models import Notification, Preference


def notifications_for(*, user, unread: bool | None = None) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs


def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def unread_counts(*, user_ids) -> dict[int, int]:
    """Unread counts of several people in one grouped query."""
    rows = (Notification.objects.filter(recipient_id__in=list(user_ids), read_at__isnull=True)
            .values("recipient_id").annotate(n=Count("pk")))
    return {row["recipient_id"]: row["n"] for row in rows}


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
