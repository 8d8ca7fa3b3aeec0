"""Case events, published after commit to whoever subscribed (chat system messages, live
updates, notifications, statistics, assignment, escrow delivery). Subscribers are registered
explicitly in their app's `ready()`; a failing subscriber is logged and never affects the case
or the other subscribers.

Money is never decided here: escrow instructions are outbox rows written in the transaction
itself (escrow.services.escrow_instruct). An event may carry the ids of instructions written
beside it, and its dispatch only starts their delivery (the sweep does it if this is lost)."""

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import transaction

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
    # event's dispatch (escrow's subscriber), so the request sends one message, not two.
    escrow_ids: tuple[str, ...] = ()


Subscriber = Callable[[CaseEvent], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> Subscriber:
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def publish_on_commit(event: CaseEvent) -> None:
    """After commit, run the subscribers: in a Celery worker when ODR_EVENTS_ASYNC is on (the
    production path: the request that changed the case does not wait for chat lines,
    notifications and assignment), inline otherwise (the embedded default and the tests)."""
    if getattr(settings, "ODR_EVENTS_ASYNC", False):
        transaction.on_commit(lambda: _enqueue(event))
    else:
        transaction.on_commit(lambda: dispatch(event))


def _enqueue(event: CaseEvent) -> None:
    from cases.tasks import case_event_dispatch

    try:
        # A short argsrepr: Celery would otherwise saferepr() the whole event for its logs.
        case_event_dispatch.apply_async(
            (asdict(event),), argsrepr=f"(case {event.case_id}: {event.action})")
    except Exception:  # broker unreachable: do the work here rather than lose it
        log.exception("could not enqueue %s; dispatching inline", event)
        dispatch(event)


def dispatch(event: CaseEvent) -> None:
    for fn in list(_subscribers):
        try:
            fn(event)
        except Exception:
            log.exception("case event subscriber %s failed for %s", fn, event)
