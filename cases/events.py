"""Case events, announced after commit to whoever subscribed (chat system messages, live
updates, notifications, statistics, assignment, escrow delivery). Subscribers are registered
explicitly in their app's `ready()`; a failing subscriber is logged and never affects the case
or the other subscribers.

An event is a timeline entry: `announce(entry)` is called by the service that wrote it, in the
same transaction. With ODR_EVENTS_ASYNC on (the production path) it writes a PendingEvent row
there — the transactional outbox — and the relay process (cases.relay, `manage.py
relay_case_events`) dispatches it after commit. The request publishes nothing: an event exists
exactly when the change it records was committed, and is not lost if a process dies after the
commit. Off (the embedded default and the tests), the subscribers run inline after commit.

Money is never decided here: escrow instructions are outbox rows of their own, written in the
transaction itself (escrow.services.escrow_instruct). An event may carry the ids of
instructions written beside it, and its dispatch only starts their delivery (the escrow sweep
does it if that is lost)."""

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.db import connection, transaction

from odr.joined import prepared, table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseEvent:
    case_id: int
    entry_id: int | None  # the timeline entry that records it
    action: str
    from_state: str
    to_state: str
    actor_id: int | None
    actor_role: str
    data: dict = field(default_factory=dict)
    # Escrow instructions written in the same transaction: their delivery is started by this
    # event's dispatch (escrow's subscriber), so the request itself sends nothing.
    escrow_ids: tuple[str, ...] = ()


Subscriber = Callable[[CaseEvent], None]
_subscribers: list[Subscriber] = []
# What each subscriber says it wants (absent: every event). Asked before its savepoint is
# opened: a subscriber with nothing to do costs the relay no round trip at all.
_wants: dict[Subscriber, Callable[[CaseEvent], bool]] = {}


def subscribe(fn: Subscriber, *, wants: Callable[[CaseEvent], bool] | None = None) -> Subscriber:
    """Register `fn` for case events; `wants(event)`, if given, picks the events it acts on."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    if wants is not None:
        _wants[fn] = wants
    return fn


def event_of(entry, escrow_ids: Iterable[str] = ()) -> CaseEvent:
    """The event a timeline entry records (the relay rebuilds it from the same two things)."""
    return CaseEvent(
        case_id=entry.case_id, entry_id=entry.pk, action=entry.action,
        from_state=entry.from_state, to_state=entry.to_state, actor_id=entry.actor_id,
        actor_role=entry.actor_role, data=entry.data or {},
        escrow_ids=tuple(str(i) for i in escrow_ids),
    )


@cache
def _outbox_sql(vendor: str) -> str:
    from cases.models import PendingEvent

    # The table name comes from the model; the values are query parameters.
    return f"INSERT INTO {table(PendingEvent)} (entry_id, escrow_ids) VALUES (%s, %s)"  # noqa: S608


def announce(entry, escrow_ids: Iterable[str] = ()) -> None:
    """Announce the event `entry` records once its transaction commits: through the outbox when
    ODR_EVENTS_ASYNC is on, inline after commit otherwise."""
    if getattr(settings, "ODR_EVENTS_ASYNC", False):
        with connection.cursor() as cursor:  # every write of the request pays it: no ORM
            cursor.execute(prepared("outbox", _outbox_sql(connection.vendor)),
                           [entry.pk, json.dumps([str(i) for i in escrow_ids])])
    else:
        event = event_of(entry, escrow_ids)
        transaction.on_commit(lambda: dispatch(event))


def require_durable_commit() -> None:
    """For a subscriber that decides something people will be told about (the automatic
    assignment of a mediator): the relay commits without waiting for the disk (cases.relay
    says why that is safe for derived data), and a decision lost in a crash of PostgreSQL and
    taken again could come out differently. This makes the relay's current transaction wait."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO on")


def dispatch(event: CaseEvent) -> None:
    """Run every subscriber, each in its own transaction (a savepoint inside the relay's), so
    one that fails — even on a database error — rolls back alone and the others still run."""
    for fn in list(_subscribers):
        wants = _wants.get(fn)
        try:
            if wants is None or wants(event):
                with transaction.atomic():
                    fn(event)
        except Exception:
            log.exception("case event subscriber %s failed for %s", fn, event)
