"""The relay of the case-event outbox: dispatches committed PendingEvent rows to the
subscribers and deletes them. `manage.py relay_case_events` runs `relay_forever`; any number
of relays may run (each claims events with SKIP LOCKED)."""

import logging
import select
import time

from django.db import DatabaseError, InterfaceError, connection, transaction

from cases.events import dispatch, event_of
from cases.models import PendingEvent

log = logging.getLogger(__name__)

CHANNEL = "odr_case_events"  # NOTIFYed by the trigger of migration cases 0003


def relay_pending(limit: int = 100) -> int:
    """Dispatch up to `limit` pending events, oldest first, and return how many. Each event has
    its own transaction: the subscribers' writes commit with the event's deletion (a crash
    redoes the event whole, never half), and a case a subscriber locks stays locked for one
    event, not for a batch."""
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


def wait_for_events(timeout: float) -> bool:
    """Block until new events are announced or `timeout` seconds pass; True if announced. On
    PostgreSQL the outbox's trigger NOTIFYs at each commit that adds events; elsewhere this
    only sleeps (the relay then polls)."""
    if connection.vendor != "postgresql":
        time.sleep(timeout)
        return False
    with connection.cursor() as cur:  # (re)connects if needed, so LISTEN goes to this session
        session = connection.connection
        if getattr(connection, "odr_listening", None) is not session:
            cur.execute(f"LISTEN {CHANNEL}")
            connection.odr_listening = session
    if not session.notifies:
        ready, _, _ = select.select([session], [], [], timeout)
        if ready:
            session.poll()
    announced = bool(session.notifies)
    session.notifies.clear()
    return announced


def relay_forever(*, batch: int = 100, poll_seconds: float = 5.0, stop=lambda: False) -> None:
    """Drain the outbox, wait for the next announcement (or `poll_seconds`), repeat. A lost
    database connection is logged and retried; the events wait in their table meanwhile."""
    while not stop():
        try:
            if relay_pending(batch) < batch:
                wait_for_events(poll_seconds)
        except (DatabaseError, InterfaceError):
            log.exception("case-event relay: database unavailable; retrying in 1 s")
            connection.close()
            time.sleep(1)
