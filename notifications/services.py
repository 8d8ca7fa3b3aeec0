"""Every write of the notifications app.

`notify` is the public contract other apps call: it records one Notification per recipient and
one Delivery per outward channel in a transaction, and after commit pushes the bell and enqueues
the sends. Sending happens in Celery (`delivery_send`), never inside anyone's transaction, so a
failing email or SMS gateway can never hold up or roll back a case.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from cases import roles
from cases.errors import NotFound
from notifications import conf
from notifications.backends import PermanentDeliveryError, all_backends, get_backend
from notifications.catalog import render
from notifications.models import Delivery, Notification, Preference
from notifications.push import push_notification, push_unread
from notifications.selectors import channel_enabled, unread_count, unread_counts
from odr.inserts import insert_many

log = logging.getLogger(__name__)

SKIP_DISABLED = "disabled in preferences"
SKIP_NO_ADDRESS = "no address for this channel"
SKIP_READ = "read in app before quiet hours ended"


class DeliveryRetry(Exception):
    """Raised by `delivery_send` when a failed send has attempts left: Celery retries it."""


# --- notify ----------------------------------------------------------------------------------------
def _recipients(users: Iterable) -> list:
    """Each real, active person once; the system actor and anonymous users are nobody."""
    seen, out = set(), []
    for user in users or []:
        if user is None or roles.is_system(user) or getattr(user, "pk", None) is None:
            continue
        if not user.is_active or user.pk in seen:
            continue
        seen.add(user.pk)
        out.append(user)
    return out


def _language(user, pref: Preference | None, case) -> str:
    """The recipient's chosen language; without a choice, a buyer gets the language they filed
    in, anyone else the site default (Vietnamese)."""
    if pref is not None:
        return pref.language
    if case is not None and case.buyer.user_id == user.pk and case.language in ("vi", "en"):
        return case.language
    return conf.default_language()


def quiet_until(*, pref: Preference | None, now: datetime) -> datetime | None:
    """When the recipient's quiet hours (wall clock in Vietnam) end, if `now` is inside them."""
    if pref is None or pref.quiet_start is None or pref.quiet_end is None:
        return None
    start, end = pref.quiet_start, pref.quiet_end
    if start == end:
        return None
    tz = ZoneInfo(conf.timezone_name())
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:
        inside = start <= t < end
        end_date = today
    else:  # overnight, e.g. 22:00–07:00
        inside = t >= start or t < end
        end_date = today if t < end else today + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(end_date, time(end.hour, end.minute), tzinfo=tz)


def _plan(*, user, pref: Preference | None, event: str, now: datetime) -> list[Delivery]:
    effective = pref or Preference(user=user)
    held = quiet_until(pref=pref, now=now)
    rows = []
    for name, backend in all_backends().items():
        row = Delivery(channel=name, created_at=now, updated_at=now)
        if not channel_enabled(pref=effective, event=event, channel=name):
            row.status, row.last_error = Delivery.Status.SKIPPED, SKIP_DISABLED
        elif not backend.address(user):
            row.status, row.last_error = Delivery.Status.SKIPPED, SKIP_NO_ADDRESS
        elif held is not None and backend.held_in_quiet_hours:
            row.not_before = held
        rows.append(row)
    return rows


def notify(*, event: str, users: Iterable, case=None, context: dict | None = None,
           entry_id: int | None = None) -> list[Notification]:
    """Tell each of `users` about `event` (optionally about `case`), each in their own language.

    Skips inactive users and the system; with `entry_id` (the timeline entry that caused it) a
    replay of the same event creates nothing new. Delivery is scheduled after commit."""
    people = _recipients(users)
    if not people:
        return []
    prefs = {p.user_id: p for p in Preference.objects.filter(user_id__in=[u.pk for u in people])}
    now = timezone.now()
    record = partial(_record, event=event, case=case, context=context, entry_id=entry_id,
                     prefs=prefs, now=now)
    try:
        return record(people)
    except IntegrityError:
        # A replay of an event already told (rare: the relay commits an event's notifications
        # with its removal from the outbox, so no read is spent on it beforehand). The
        # constraint notif_once_per_entry refused it; tell only who was not told.
        if entry_id is None:
            raise
        done = set(Notification.objects.filter(entry_id=entry_id, event=event,
                                               recipient_id__in=[u.pk for u in people])
                   .values_list("recipient_id", flat=True))
        return record([u for u in people if u.pk not in done])


def _record(people: list, *, event: str, case, context: dict | None, entry_id: int | None,
            prefs: dict, now: datetime) -> list[Notification]:
    """One INSERT for the notifications and one for their deliveries, whatever the number of
    recipients (a shop may have many staff), in a savepoint of their own."""
    with transaction.atomic():
        pending = []
        for user in people:
            pref = prefs.get(user.pk)
            language = _language(user, pref, case)
            title, body, url = render(event=event, context=context, case=case, language=language)
            pending.append((user, pref, Notification(
                recipient=user, event=event, case=case, entry_id=entry_id, language=language,
                title=title, body=body, url=url, context=context or {}, created_at=now,
            )))
        created = insert_many([n for _, _, n in pending])
        deliveries = []
        for (user, pref, _), notification in zip(pending, created, strict=True):
            for row in _plan(user=user, pref=pref, event=event, now=now):
                row.notification = notification
                deliveries.append(row)
        insert_many(deliveries)
        if created:
            due = [row.pk for row in deliveries
                   if row.status == Delivery.Status.PENDING and row.not_before is None]
            transaction.on_commit(partial(_after_commit, created, due), robust=True)
    return created


def _after_commit(notifications: list[Notification], due: list[int]) -> None:
    """Push each new notification to its recipient's bell, then enqueue the sends that are due
    now (the rows were just written: nothing else has touched them yet, so what `notify` holds
    in memory is what was committed)."""
    unread = unread_counts(user_ids={n.recipient_id for n in notifications})
    for notification in notifications:
        push_notification(notification, unread.get(notification.recipient_id, 0))
    if not conf.enqueue_on_commit():
        return
    for delivery_id in due:
        delivery_enqueue(delivery_id=delivery_id)


def delivery_enqueue(*, delivery_id: int) -> None:
    """Hand one send to Celery. Never raises: a broker outage leaves the row pending and the
    periodic sweep sends it later."""
    from notifications.tasks import deliver

    try:
        deliver.delay(delivery_id)
    except Exception:
        log.warning("could not enqueue delivery %s; the sweep will retry it", delivery_id, exc_info=True)


# --- sending -----------------------------------------------------------------------------------------
def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt (a lease, so two workers never send it at once)."""
    claimed = Delivery.objects.filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now),
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=delivery_id, status=Delivery.Status.PENDING,
    ).update(claimed_until=now + timedelta(seconds=conf.lease_seconds()),
             attempts=F("attempts") + 1, updated_at=now)
    return claimed == 1


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> Delivery | None:
    """One attempt at one delivery. Returns it as recorded, or None when there was nothing to do
    (already sent, skipped, held, or another worker holds it). Raises DeliveryRetry after a
    failure that has attempts left, so the Celery task retries with backoff."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("notification__recipient").get(pk=delivery_id)
    backend = get_backend(delivery.channel)
    error, permanent = "", False
    if backend is None:
        error, permanent = f"backend {delivery.channel!r} is not configured", True
    else:
        try:
            backend.send(delivery.notification)
        except PermanentDeliveryError as exc:
            error, permanent = f"{type(exc).__name__}: {exc}", True
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
    done = timezone.now()
    delivery.claimed_until, delivery.updated_at = None, done
    if not error:
        delivery.status, delivery.sent_at, delivery.last_error = Delivery.Status.SENT, done, ""
    else:
        delivery.last_error = error[:2000]
        if permanent or delivery.attempts >= conf.max_attempts():
            delivery.status = Delivery.Status.FAILED
            log.warning("delivery %s (%s) failed for good after %s attempts: %s", delivery.pk,
                        delivery.channel, delivery.attempts, error)
    delivery.save(update_fields=["status", "sent_at", "last_error", "claimed_until", "updated_at"])
    if error and delivery.status == Delivery.Status.PENDING:
        raise DeliveryRetry(error)
    return delivery


def deliveries_release(*, now: datetime | None = None, batch: int = 500) -> int:
    """The periodic sweep: send what quiet hours held once they end (unless already read in the
    app), and re-enqueue pending sends nobody touched for a long time (a lost enqueue, a dead
    worker). Returns how many were enqueued."""
    now = now or timezone.now()
    held = list(Delivery.objects.filter(status=Delivery.Status.PENDING, not_before__lte=now)
                .select_related("notification").order_by("not_before", "pk")[:batch])
    ids: list[int] = []
    for delivery in held:
        if delivery.notification.read_at is not None:
            Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
                status=Delivery.Status.SKIPPED, last_error=SKIP_READ, updated_at=now)
            continue
        if Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING,
                                   not_before=delivery.not_before).update(not_before=None, updated_at=now):
            ids.append(delivery.pk)
    stale = now - timedelta(seconds=conf.stale_seconds())
    for delivery_id in list(
        Delivery.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                                status=Delivery.Status.PENDING, not_before__isnull=True,
                                updated_at__lte=stale)
        .order_by("pk").values_list("pk", flat=True)[:batch]
    ):
        if Delivery.objects.filter(pk=delivery_id, updated_at__lte=stale).update(updated_at=now):
            ids.append(delivery_id)
    for delivery_id in ids:
        delivery_enqueue(delivery_id=delivery_id)
    return len(ids)


@transaction.atomic
def delivery_retry(*, delivery_id: int) -> bool:
    """Support staff send a failed delivery again (admin action): a fresh set of attempts."""
    updated = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.FAILED).update(
        status=Delivery.Status.PENDING, attempts=0, claimed_until=None, not_before=None,
        updated_at=timezone.now())
    if updated:
        transaction.on_commit(partial(delivery_enqueue, delivery_id=delivery_id), robust=True)
    return bool(updated)


# --- reading -------------------------------------------------------------------------------------------
def notification_mark_read(*, user, notification_id: int) -> Notification:
    """Mark one of the user's own notifications read (someone else's looks like a missing one)."""
    with transaction.atomic():
        notification = Notification.objects.filter(pk=notification_id, recipient=user).first()
        if notification is None:
            raise NotFound("Notification not found")
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        transaction.on_commit(partial(_push_count, user.pk), robust=True)
    return notification


def notifications_mark_all_read(*, user) -> int:
    with transaction.atomic():
        marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(
            read_at=timezone.now())
        transaction.on_commit(partial(_push_count, user.pk), robust=True)
    return marked


def _push_count(user_id: int) -> None:
    push_unread(user_id, unread_count(user_id=user_id))


# --- preferences -------------------------------------------------------------------------------------
def preference_update(*, user, language: str | None = None, channels: dict | None = None,
                      quiet_start: time | None = None, quiet_end: time | None = None,
                      set_quiet_hours: bool = False, replace_channels: bool = False) -> Preference:
    """Save what the user changed; `channels` are per-event per-channel overrides, merged into
    the saved ones (or replacing them with `replace_channels`). Input is validated by the caller
    (the API serializer knows the events and channels)."""
    with transaction.atomic():
        pref, _ = Preference.objects.select_for_update().get_or_create(
            user=user, defaults={"language": conf.default_language()})
        if language is not None:
            pref.language = language
        if channels is not None:
            merged = {} if replace_channels else {k: dict(v) for k, v in (pref.channels or {}).items()}
            for event, per_channel in channels.items():
                merged.setdefault(event, {}).update(per_channel)
            pref.channels = merged
        if set_quiet_hours:
            pref.quiet_start, pref.quiet_end = quiet_start, quiet_end
        pref.save()
    return pref
