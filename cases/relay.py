"""The relay of the case-event outbox: dispatches committed PendingEvent rows to the
subscribers and deletes them. `manage.py relay_case_events` runs `relay_forever`.

Several relays may run: each claims events with SKIP LOCKED, oldest first. One relay
dispatches a case's events in order. To keep that order with several, give each a partition
(`Partition(index, count)`: the cases whose id modulo `count` is `index`); relays without
partitions may dispatch two events of one case at the same time (chat system lines would then
take their sequence numbers in either order). Needs psycopg2 (the driver odr pins) for LISTEN."""

import logging
import select
import time
from functools import cache
from typing import NamedTuple

from django.db import connection, transaction

from cases.events import dispatch, event_of
from cases.models import PendingEvent, TimelineEntry
from odr.joined import Joined, columns, fetch_one, prepared, table

log = logging.getLogger(__name__)

CHANNEL = "odr_case_events"  # NOTIFYed by the trigger of migration cases 0003


class Partition(NamedTuple):
    """The cases one of `count` relays dispatches: those whose id modulo `count` is `index`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Partition":
        """`"1/4"` → the second of four partitions."""
        index, _, count = text.partition("/")
        if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
            raise ValueError(f"partition {text!r}: want I/N with 0 <= I < N, e.g. 0/2")
        return cls(int(index), int(count))


ALL = Partition(0, 1)
_ENTRY = Joined(TimelineEntry)
_ESCROW_IDS = PendingEvent._meta.get_field("escrow_ids")  # its converter reads the RETURNING


@cache
def _claim_sql(vendor: str, partitioned: bool) -> str:
    """Take the oldest pending event (of the partition) off the outbox in one statement: the
    DELETE is undone if the dispatch fails, so the event stays until it is done. Table names
    come from the models; the values are query parameters."""
    skip = " FOR UPDATE OF p SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    # Modulo: PostgreSQL's mod() keeps the text free of "%" so it can be prepared; SQLite has
    # only the operator ("%%" for the driver's parameter style).
    modulo = "mod(e.case_id, %s)" if vendor == "postgresql" else "e.case_id %% %s"
    where = f" WHERE {modulo} = %s" if partitioned else ""
    return (
        f"DELETE FROM {table(PendingEvent)} WHERE id = (SELECT p.id FROM {table(PendingEvent)} p "  # noqa: S608
        f"JOIN {table(TimelineEntry)} e ON e.id = p.entry_id{where} ORDER BY p.id LIMIT 1{skip}) "
        "RETURNING entry_id, escrow_ids"
    )


@cache
def _entry_sql(vendor: str) -> str:
    return f"SELECT {columns('e', TimelineEntry)} FROM {table(TimelineEntry)} e WHERE e.id = %s"  # noqa: S608


def _claim(partition: Partition):
    """The oldest pending event of `partition`, deleted in the current transaction; None when
    there is none (or every one is being dispatched by another relay)."""
    partitioned = partition.count > 1
    name = "relay_claim_partition" if partitioned else "relay_claim"
    with connection.cursor() as cursor:
        cursor.execute(prepared(name, _claim_sql(connection.vendor, partitioned)),
                       [partition.count, partition.index] if partitioned else [])
        claimed = cursor.fetchone()
    if claimed is None:
        return None
    entry_id, escrow_ids = claimed
    (entry,), _ = _ENTRY.instances(fetch_one("relay_entry", _entry_sql(connection.vendor), [entry_id]))
    return event_of(entry, _ESCROW_IDS.from_db_value(escrow_ids, None, connection))


def relay_pending(limit: int = 100, partition: Partition = ALL) -> int:
    """Dispatch up to `limit` pending events, oldest first, and return how many. Each event has
    its own transaction: the subscribers' writes commit with the event's deletion (a crash
    redoes the event whole, never half). The locks a subscriber takes (a case, a chat room)
    are held until the event's last subscriber is done, some milliseconds."""
    done = 0
    while done < limit:
        with transaction.atomic():
            event = _claim(partition)
            if event is None:
                break
            dispatch(event)
        done += 1
    return done


def relay_all(batch: int = 100, partition: Partition = ALL) -> int:
    """Dispatch everything pending now; returns how many."""
    total = 0
    while n := relay_pending(batch, partition):
        total += n
    return total


def open_session() -> None:
    """Set up this thread's database session for relaying (again after a reconnect), before
    draining: LISTEN, so an event committed while draining still wakes the next wait; and
    commits that do not wait for the disk. What a relay transaction commits is derived from
    the event (chat line, notifications, statistics) together with the event's deletion, so if
    PostgreSQL itself crashes and loses its last fraction of a second of such commits, their
    events are pending again and dispatched again: nothing is lost, at worst a notification
    already sent goes out twice. The request's own commit, and the event in it, stay
    synchronous, and so does a relay transaction in which a subscriber takes a decision
    (cases.events.require_durable_commit). Saves the relay a disk flush per event."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:  # (re)connects if needed, so LISTEN goes to this session
        if getattr(connection, "odr_listening", None) is not connection.connection:
            cur.execute(f"LISTEN {CHANNEL}")
            cur.execute("SET synchronous_commit TO off")
            connection.odr_listening = connection.connection


def wait_for_events(timeout: float) -> bool:
    """Block until new events are announced or `timeout` seconds pass; True if announced. On
    PostgreSQL the outbox's trigger NOTIFYs at each commit that adds events; elsewhere this
    only sleeps (the relay then polls)."""
    if connection.vendor != "postgresql":
        time.sleep(timeout)
        return False
    open_session()
    session = connection.connection
    with connection.wrap_database_errors:  # a lost server is Django's OperationalError
        if not session.notifies:
            ready, _, _ = select.select([session], [], [], timeout)
            if ready:
                session.poll()
    announced = bool(session.notifies)
    session.notifies.clear()
    return announced


def relay_forever(*, batch: int = 100, poll_seconds: float = 5.0, partition: Partition = ALL,
                  stop=lambda: False) -> None:
    """Drain the outbox, wait for the next announcement (or `poll_seconds`), repeat. Any
    failure (a lost database, a subscriber's after-commit hook raising) is logged and retried
    after a pause; the events wait in their table meanwhile."""
    while not stop():
        try:
            open_session()
            if relay_pending(batch, partition) < batch:
                wait_for_events(poll_seconds)
        except Exception:
            log.exception("case-event relay failed; retrying in 1 s")
            connection.close()
            time.sleep(1)
