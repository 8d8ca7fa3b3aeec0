"""Case events, published after commit to whoever subscribed (chat system messages, live
updates, notifications). Subscribers are registered explicitly in their app's `ready()`; a
failing subscriber is logged and never affects the case or the other subscribers.

Money never moves through here: escrow instructions are outbox rows written in the
transaction itself (escrow.services.escrow_instruct)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

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


Subscriber = Callable[[CaseEvent], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> Subscriber:
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def publish_on_commit(event: CaseEvent) -> None:
    transaction.on_commit(lambda: dispatch(event))


def dispatch(event: CaseEvent) -> None:
    for fn in list(_subscribers):
        try:
            fn(event)
        except Exception:
            log.exception("case event subscriber %s failed for %s", fn, event)
