"""The relay of the case-event outbox: dispatches committed PendingEvent rows to the
subscribers and deletes them. `manage.py relay_case_events` runs `relay_forever`.

Several relays may run: each claims events with SKIP LOCKED, oldest first. One relay
dispatches a case's events in order; with several, two events of one case may be dispatched at
the same time (chat system lines would then take their sequence numbers in either order), so
run one unless it cannot keep up. Needs psycopg2 (the driver odr pins) for LISTEN."""

import logging
import select
import time

from django.db import connection, transaction

from cases.events import dispatch, event_of
from cases.models import PendingEvent

log = logging.getLogger(__name__)

CHANNEL = "odr_case_events"  # NOTIFYed by the trigger of migration cases 0003


def relay_pending(limit: int = 100) -> int:
    """Dispatch up to `limit` pending events, oldest first, and return how many. Each event has
    its own transaction: the subscribers' writes commit with the event's deletion (a crash
    redoes the event whole, never half). The locks a subscriber takes (a case, a chat room)
    are held until the event's last subscriber is done, some milliseconds."""
    done = 0
    while done < limit:
        with transaction.atomic():
            pending = (PendingEvent.objects.select_for_update(skip_locked=True, of=("self",))
                       .select_related("entry").order_by("pk").first())
            if pending is None:
                break
            dispatch(event_of(pending.entry, pending.escrow_ids))
            pending.delete()
        done += 1
    return done


def relay_all(batch: int = 100) -> int:
    """Dispatch everything pending now; returns how many."""
    total = 0
    while n := relay_pending(batch):
        total += n
    return total


def listen() -> None:
    """LISTEN on this thread's database session (again after a reconnect): called before
    draining, so an event committed while draining still wakes the next wait."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:  # (re)connects if needed, so LISTEN goes to this session
        if getattr(connection, "odr_listening", None) is not connection.connection:
            cur.execute(f"LISTEN {CHANNEL}")
            connection.odr_listening = connection.connection


def wait_for_events(timeout: float) -> bool:
    """Block until new events are announced or `timeout` seconds pass; True if announced. On
    PostgreSQL the outbox's trigger NOTIFYs at each commit that adds events; elsewhere this
    only sleeps (the relay then polls)."""
    if connection.vendor != "postgresql":
        time.sleep(timeout)
        return False
    listen()
    session = connection.connection
    with connection.wrap_database_errors:  # a lost server is Django's OperationalError
        if not session.notifies:
            ready, _, _ = select.select([session], [], [], timeout)
            if ready:
                session.poll()
    announced = bool(session.notifies)
    session.notifies.clear()
    return announced


def relay_forever(*, batch: int = 100, poll_seconds: float = 5.0, stop=lambda: False) -> None:
    """Drain the outbox, wait for the next announcement (or `poll_seconds`), repeat. Any
    failure (a lost database, a subscriber's after-commit hook raising) is logged and retried
    after a pause; the events wait in their table meanwhile."""
    while not stop():
        try:
            listen()
            if relay_pending(batch) < batch:
                wait_for_events(poll_seconds)
        except Exception:
            log.exception("case-event relay failed; retrying in 1 s")
            connection.close()
            time.sleep(1)
