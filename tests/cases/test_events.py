"""Case events reach their subscribers after commit: inline, or through the outbox and its
relay (cases.relay)."""

import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from cases import events
from cases.models import PendingEvent, TimelineEntry
from cases.relay import Partition, open_session, relay_pending, wait_for_events
from escrow.models import EscrowInstruction
from tests import factories as f
from tests.cases.helpers import file_case
from tests.races import needs_postgres, race


@pytest.fixture
def seen():
    got = []

    def subscriber(event):
        got.append((event.action, event.to_state))

    events.subscribe(subscriber)
    yield got
    events._subscribers.remove(subscriber)


@pytest.fixture
def order_factory(order):
    """More paid orders of the same buyer and shop."""
    return lambda: f.paid_order(buyer=order.buyer, seller=order.seller)


@pytest.fixture
def outbox(settings):
    settings.ODR_EVENTS_ASYNC = True


@pytest.fixture
def published():
    """Task messages handed to the broker, in order (Celery's own publish signal)."""
    from celery.signals import before_task_publish

    sent = []

    def record(sender=None, body=None, **kwargs):
        sent.append((sender, list(body[0]) if body else None))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


@pytest.mark.django_db
def test_inline_subscribers_run_after_commit_only(order, buyer_user, seen,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        file_case(order, buyer_user)
    assert seen == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert ("file", "awaiting_seller") in seen
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db
def test_the_outbox_path_publishes_nothing_and_the_relay_dispatches(
        order, buyer_user, seen, outbox, published, django_capture_on_commit_callbacks):
    """The filing writes its event in its own transaction and sends no message at all; the
    relay dispatches it (escrow's subscriber then starts the hold's delivery) and deletes it."""
    with django_capture_on_commit_callbacks(execute=True):
        case = file_case(order, buyer_user)
    hold = EscrowInstruction.objects.get(case=case, kind="hold")
    entry = TimelineEntry.objects.get(case=case, action="file")
    pending = PendingEvent.objects.get()
    assert (pending.entry_id, pending.escrow_ids) == (entry.pk, [str(hold.pk)])
    assert seen == [] and published == []

    assert relay_pending() == 1
    assert seen == [("file", "awaiting_seller")]
    assert published == [("escrow.deliver", [str(hold.pk)])]
    assert not PendingEvent.objects.exists()
    assert relay_pending() == 0


@pytest.mark.django_db
def test_the_relayed_event_is_what_the_timeline_entry_recorded(order, buyer_user, seller_user,
                                                                outbox):
    from cases import services

    got = []
    events.subscribe(got.append)
    try:
        case = file_case(order, buyer_user)
        services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund",
                            amount=100_000)
        relay_pending()
    finally:
        events._subscribers.remove(got.append)
    offer = case.offers.get()
    assert got[-1] == events.CaseEvent(
        case_id=case.pk, entry_id=TimelineEntry.objects.get(case=case, action="make_offer").pk,
        action="make_offer", from_state="awaiting_seller", to_state="awaiting_buyer",
        actor_id=seller_user.pk, actor_role="seller",
        data={"offer": offer.pk, "remedy": "partial_refund", "amount": 100_000}, escrow_ids=())
    assert [e.action for e in got] == ["file", "make_offer"]  # oldest first


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event(order, buyer_user, outbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        file_case(order, buyer_user)
        assert PendingEvent.objects.count() == 1
        raise RuntimeError("the request failed after the filing")
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db
def test_a_failing_subscriber_rolls_back_alone(order, buyer_user, seen, outbox):
    """One subscriber raising — even on a database error, which aborts a PostgreSQL
    transaction — neither stops the others nor keeps the event in the outbox."""
    wrote = []

    def broken_sql(event):
        TimelineEntry.objects.create(case_id=event.case_id, actor_role="system",
                                     action="half-done", to_state=event.to_state)
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    def writer(event):
        wrote.append(TimelineEntry.objects.create(case_id=event.case_id, actor_role="system",
                                                  action="note", to_state=event.to_state).pk)

    events._subscribers[:0] = [broken_sql, writer]
    try:
        file_case(order, buyer_user)
        assert relay_pending() == 1
    finally:
        events._subscribers.remove(broken_sql)
        events._subscribers.remove(writer)
    assert seen == [("file", "awaiting_seller")]
    assert TimelineEntry.objects.filter(pk__in=wrote).count() == 1
    assert not TimelineEntry.objects.filter(action="half-done").exists()
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db
def test_an_event_interrupted_midway_is_redone_whole(order, buyer_user, outbox):
    """A relay that dies while dispatching (here: SystemExit, which no subscriber guard
    catches) takes the subscribers' writes back with it; the event stays for the next relay."""
    calls = []

    def writer(event):
        TimelineEntry.objects.create(case_id=event.case_id, actor_role="system", action="note")
        calls.append(event.entry_id)
        if len(calls) == 1:
            raise SystemExit("killed")

    events.subscribe(writer)
    try:
        file_case(order, buyer_user)
        with pytest.raises(SystemExit):
            relay_pending()
        assert PendingEvent.objects.count() == 1
        assert not TimelineEntry.objects.filter(action="note").exists()
        assert relay_pending() == 1
    finally:
        events._subscribers.remove(writer)
    assert TimelineEntry.objects.filter(action="note").count() == 1
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db
def test_the_relay_dispatches_at_most_its_batch(order_factory, buyer_user, outbox):
    for _ in range(3):
        file_case(order_factory(), buyer_user)
    assert relay_pending(limit=2) == 2
    assert PendingEvent.objects.count() == 1
    call_command("relay_case_events", "--once")
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db
def test_partitioned_relays_each_dispatch_their_own_cases_in_order(order_factory, buyer_user,
                                                                   seller_user, seen, outbox):
    """Relay 0/2 takes the even case ids, 1/2 the odd ones, each oldest first, so several
    relays share the work and each case's events still come in order."""
    from cases import services

    cases = [file_case(order_factory(), buyer_user) for _ in range(4)]
    for case in cases:
        services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund",
                            amount=100_000)
    got = []
    events.subscribe(got.append)
    try:
        assert relay_pending(partition=Partition(1, 2)) == 4  # consecutive ids: 2 odd cases
        assert {e.case_id % 2 for e in got} == {1}
        assert PendingEvent.objects.count() == 4
        call_command("relay_case_events", "--once", "--partition", "0/2")
    finally:
        events._subscribers.remove(got.append)
    assert len(got) == 8 and {e.case_id % 2 for e in got[4:]} == {0}
    for case in cases:  # each case: its filing, then its offer
        assert [e.action for e in got if e.case_id == case.pk] == ["file", "make_offer"]
    assert not PendingEvent.objects.exists()


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1", "a/b", "0/0"])
def test_a_partition_outside_its_count_is_refused(text):
    with pytest.raises(ValueError):
        Partition.parse(text)
    with pytest.raises(CommandError, match="partition"):
        call_command("relay_case_events", "--once", "--partition", text)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_relay_session_listens_and_commits_without_waiting_for_the_disk():
    try:
        open_session()
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("off",)
            cursor.execute("SELECT pg_listening_channels()")
            assert cursor.fetchall() == [("odr_case_events",)]
    finally:
        connection.close()  # the next test gets a plain session
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_relays_never_dispatch_an_event_twice(order_factory, buyer_user, outbox):
    for _ in range(12):
        file_case(order_factory(), buyer_user)
    dispatched, lock, other_relay_busy = [], threading.Lock(), threading.Event()

    def recorder(event):
        with lock:
            dispatched.append(event.entry_id)
            first = len(dispatched) == 1
        if first:  # hold the first event until the other relay has claimed one of its own
            assert other_relay_busy.wait(20)
        else:
            other_relay_busy.set()

    events.subscribe(recorder)
    try:
        first, second = race(relay_pending, relay_pending)
    finally:
        events._subscribers.remove(recorder)
    assert first + second == 12 and first > 0 and second > 0
    assert sorted(dispatched) == sorted(set(dispatched)) and len(dispatched) == 12
    assert not PendingEvent.objects.exists()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_outbox_row_is_a_prepared_insert_on_persistent_connections(
        monkeypatch, order_factory, buyer_user, outbox):
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    with CaptureQueriesContext(connection) as seen:
        cases = [file_case(order_factory(), buyer_user) for _ in range(2)]
    outbox_sql = [q["sql"].split()[0] for q in seen.captured_queries if "odr_outbox" in q["sql"]]
    assert outbox_sql == ["PREPARE", "EXECUTE", "EXECUTE"]  # prepared once per session
    holds = {str(h.pk) for h in EscrowInstruction.objects.filter(case__in=cases, kind="hold")}
    assert {i for p in PendingEvent.objects.all() for i in p.escrow_ids} == holds
    connection.close()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_relay_prepares_its_statements_once_per_session(
        monkeypatch, order_factory, buyer_user, seller_user, outbox):
    """As `relay_case_events` runs it (a session for its whole life): the claim, the entry, the
    case for notifications, the statistics' stale mark, the chat line's number and insert and
    the bell's unread count are each prepared once, then executed, and they do what they did
    unprepared."""
    from cases import services
    from stats.models import RollupDay
    from stats.rollup import VN_TZ

    cases = [file_case(order_factory(), buyer_user) for _ in range(2)]
    for case in cases:
        services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund",
                            amount=100_000)
    days = {c.filed_at.astimezone(VN_TZ).date() for c in cases}
    RollupDay.objects.bulk_create([RollupDay(day=d, version=5) for d in days])
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    try:
        with CaptureQueriesContext(connection) as seen:
            assert relay_pending() == 4
        for name in ("relay_claim", "relay_entry", "case_for_notice", "case_day_stale",
                     "chat_next_seq", "insert_mediation_chatmessage", "unread_counts",
                     "insert_notifications_notification"):
            ran = [q["sql"].split()[0] for q in seen.captured_queries
                   if f"odr_{name}" in q["sql"].split("(")[0].split()]
            assert ran[0] == "PREPARE" and ran.count("PREPARE") == 1 and "EXECUTE" in ran, name
    finally:
        connection.close()
    assert not PendingEvent.objects.exists()
    # the two offers (the filings do not make a day stale), one bump each
    assert sum(RollupDay.objects.filter(day__in=days).values_list("version", flat=True)) == \
        5 * len(days) + 2


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_decision_in_the_relay_waits_for_the_disk(order, buyer_user):
    """The relay's session commits without waiting for the disk; a subscriber that decides
    (the automatic assignment) makes its transaction wait, and only that one."""
    try:
        open_session()
        with transaction.atomic():
            events.require_durable_commit()
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone() == ("on",)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("off",)
    finally:
        connection.close()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_commit_wakes_the_waiting_relay(order, buyer_user, outbox):
    """The outbox's trigger NOTIFYs at commit: the waiting relay wakes at once rather than at
    its timeout; with nothing committed it sleeps the whole timeout."""
    woke = {}

    def waiting_relay():
        wait_for_events(0.01)  # LISTEN on this thread's session
        started.set()
        t0 = time.monotonic()
        woke["announced"] = wait_for_events(20)
        woke["after"] = time.monotonic() - t0
        connection.close()

    started = threading.Event()
    relay = threading.Thread(target=waiting_relay)
    relay.start()
    assert started.wait(10)
    time.sleep(0.2)
    file_case(order, buyer_user)  # commits (autocommit outside a transaction)
    relay.join(25)
    assert woke["announced"] is True and woke["after"] < 5

    try:
        t0 = time.monotonic()
        assert wait_for_events(0.3) is False
        assert time.monotonic() - t0 >= 0.3
    finally:
        connection.close()  # ends this session's LISTEN


@pytest.mark.django_db
def test_messages_from_before_the_outbox_are_still_dispatched(seen):
    """During a rolling deploy old web processes still publish `cases.dispatch_event`."""
    from cases.tasks import case_event_dispatch

    case_event_dispatch.apply(kwargs={"event": {
        "case_id": 1, "entry_id": None, "action": "x", "from_state": "a", "to_state": "b",
        "actor_id": None, "actor_role": "system", "data": {}, "from_a_newer_version": 1}})
    assert seen == [("x", "b")]


def _event(**changes) -> events.CaseEvent:
    base = dict(case_id=1, entry_id=1, action="make_offer", from_state="awaiting_seller",
                to_state="awaiting_buyer", actor_id=None, actor_role="seller")
    return events.CaseEvent(**{**base, **changes})


@pytest.mark.django_db
def test_a_subscriber_that_does_not_want_an_event_costs_no_savepoint(monkeypatch):
    """`wants` is asked before the subscriber's savepoint: an event it does not want costs the
    relay no statement at all; one it wants runs in a savepoint as before."""
    monkeypatch.setattr(events, "_subscribers", [])
    monkeypatch.setattr(events, "_wants", {})
    got = []
    events.subscribe(got.append, wants=lambda event: event.action == "make_offer")
    filing, offer = _event(action="file"), _event()
    with transaction.atomic(), CaptureQueriesContext(connection) as seen:
        events.dispatch(filing)
    assert got == [] and seen.captured_queries == []
    with transaction.atomic(), CaptureQueriesContext(connection) as seen:
        events.dispatch(offer)
    assert got == [offer]
    assert [q["sql"].split()[0] for q in seen.captured_queries] == ["SAVEPOINT", "RELEASE"]


@pytest.mark.django_db
def test_a_failing_wants_is_logged_and_the_others_still_run(monkeypatch, caplog):
    monkeypatch.setattr(events, "_subscribers", [])
    monkeypatch.setattr(events, "_wants", {})
    first, second = [], []

    def confused(event):
        raise KeyError("no idea")

    events.subscribe(first.append, wants=confused)
    events.subscribe(second.append)
    events.dispatch(_event())
    assert first == [] and second == [_event()]
    assert "subscriber" in caplog.text and "failed" in caplog.text


def test_the_apps_subscribers_want_only_the_events_they_act_on():
    from escrow.services import carries_instructions
    from escrow.services import on_case_event as escrow_subscriber
    from mediators.services import concerns_mediators
    from mediators.services import on_case_event as mediators_subscriber
    from stats.rollup import changes_a_filed_case
    from stats.rollup import on_case_event as stats_subscriber

    assert events._wants[escrow_subscriber] is carries_instructions
    assert events._wants[mediators_subscriber] is concerns_mediators
    assert events._wants[stats_subscriber] is changes_a_filed_case
    assert not carries_instructions(_event()) and carries_instructions(_event(escrow_ids=("x",)))
    assert not concerns_mediators(_event())
    assert concerns_mediators(_event(action="escalate", from_state="awaiting_buyer",
                                     to_state="in_mediation"))
    assert concerns_mediators(_event(action="evidence_add", to_state="in_mediation",
                                     from_state="in_mediation", actor_role="buyer"))
    assert not concerns_mediators(_event(action="evidence_add", to_state="in_mediation",
                                         from_state="in_mediation", actor_role="mediator"))
    assert not changes_a_filed_case(_event(action="file")) and changes_a_filed_case(_event())
