"""The hot INSERTs (odr/inserts.py): the row written is the one `save()` would write, the new
instance is as `save()` leaves it, and on PostgreSQL with persistent connections the statement
is prepared once per session."""

import uuid

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F, Value
from django.db.models.expressions import DatabaseDefault
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case, Offer, TimelineEntry
from escrow.models import EscrowInstruction
from odr.inserts import PREPARED_ROWS, insert, insert_many
from tests.cases.helpers import file_case
from tests.races import needs_postgres


def _row(model, pk) -> dict:
    return model.objects.filter(pk=pk).values().get()


@pytest.mark.django_db
def test_the_row_is_the_one_save_writes(order, buyer_user, seller_user):
    case = file_case(order, buyer_user)
    made = dict(case=case, actor=seller_user, actor_role="seller", action="note",
                from_state="awaiting_seller", to_state="awaiting_seller",
                reason="Ghi chú có dấu: đã gọi điện", data={"a": [1, "hai"], "b": None})
    fast = insert(TimelineEntry(**made))
    slow = TimelineEntry(**made)
    slow.save()

    assert fast.pk is not None and fast.pk != slow.pk
    assert not fast._state.adding and fast._state.db == "default"
    fast_row, slow_row = _row(TimelineEntry, fast.pk), _row(TimelineEntry, slow.pk)
    for row in (fast_row, slow_row):
        row.pop("id"), row.pop("created_at")
    assert fast_row == slow_row
    assert fast_row["data"] == {"a": [1, "hai"], "b": None}  # JSON, not a string


@pytest.mark.django_db
def test_defaults_and_auto_now_are_applied_as_save_applies_them(order, buyer_user):
    before = timezone.now()
    case = file_case(order, buyer_user)  # the filing inserts its case with insert()
    assert case.state == "awaiting_seller" and case.currency == "VND"  # field defaults
    assert case.updated_at >= before  # auto_now, stamped by pre_save as save() does
    assert _row(Case, case.pk)["updated_at"] == case.updated_at
    offer = insert(Offer(case=case, author=buyer_user, author_role="buyer",
                         remedy="partial_refund", amount=1_000))
    assert offer.status == "open" and offer.note == "" and offer.created_at >= before
    assert _row(Offer, offer.pk)["status"] == "open"


@pytest.mark.django_db
def test_a_key_set_beforehand_is_written(order, buyer_user):
    case = file_case(order, buyer_user)
    hold = EscrowInstruction.objects.get(case=case, kind="hold")
    key = uuid.uuid4()
    now = timezone.now()
    made = insert(EscrowInstruction(id=key, case=case, payment_id=hold.payment_id,
                                    partner_id=hold.partner_id, kind="refund", amount=10,
                                    status="cancelled", created_at=now, next_attempt_at=now,
                                    give_up_at=now))
    assert made.pk == key and EscrowInstruction.objects.get(pk=key).amount == 10


@pytest.mark.django_db
def test_a_refused_row_raises_djangos_integrity_error(order, buyer_user):
    case = file_case(order, buyer_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(Case(order=case.order, buyer=case.buyer, seller=case.seller,
                    marketplace=case.marketplace, reason="damaged", desired_outcome="full_refund",
                    claimed_amount=1, description="lần hai"))  # one open case per order


@pytest.mark.django_db
def test_a_database_default_is_refused_not_written_as_null(order, buyer_user):
    entry = TimelineEntry(case=file_case(order, buyer_user), actor_role="system", action="x")
    entry.reason = DatabaseDefault(Value(""))
    with pytest.raises(TypeError, match="database defaults"):
        insert(entry)


@pytest.fixture
def case_on_a_new_persistent_session(monkeypatch, order, buyer_user):
    """A filed case, then a persistent connection (CONN_MAX_AGE 60) on a new session, which
    has prepared nothing yet; closed again after the test."""
    case = file_case(order, buyer_user)
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    yield case
    connection.close()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_prepared_once_per_session_and_kept_across_a_rollback(case_on_a_new_persistent_session):
    case = case_on_a_new_persistent_session
    with CaptureQueriesContext(connection) as seen:
        with pytest.raises(RuntimeError), transaction.atomic():
            insert(TimelineEntry(case=case, actor_role="system", action="one"))
            raise RuntimeError("rolled back")
        with transaction.atomic():
            insert(TimelineEntry(case=case, actor_role="system", action="two"))
        insert(TimelineEntry(case=case, actor_role="system", action="three"))
    ran = [q["sql"].split()[0] for q in seen.captured_queries
           if "odr_insert_cases_timelineentry" in q["sql"]]
    assert ran == ["PREPARE", "EXECUTE", "EXECUTE", "EXECUTE"]
    assert list(TimelineEntry.objects.filter(case=case, action__in=["one", "two", "three"])
                .values_list("action", flat=True).order_by("pk")) == ["two", "three"]


@pytest.mark.django_db
def test_many_rows_in_one_statement_each_get_their_own_key(order, buyer_user):
    case = file_case(order, buyer_user)
    entries = [TimelineEntry(case=case, actor_role="system", action=f"note-{i}", data={"i": i})
               for i in range(3)]
    with CaptureQueriesContext(connection) as seen:
        assert insert_many(entries) is entries
    assert len([q for q in seen.captured_queries if "INSERT" in q["sql"]]) == 1
    assert [TimelineEntry.objects.get(pk=e.pk).data for e in entries] == [
        {"i": 0}, {"i": 1}, {"i": 2}]  # each key is its own row's, in the order written
    assert all(not e._state.adding for e in entries)
    assert insert_many([]) == []


def test_one_model_and_one_kind_of_key_per_statement(order):
    with pytest.raises(TypeError, match="one model"):
        insert_many([TimelineEntry(actor_role="x"), Offer(amount=1)])


@pytest.mark.django_db
def test_what_save_would_refuse_or_compute_is_refused(order, buyer_user):
    from cases.models import Case as CaseModel

    case = file_case(order, buyer_user)
    with pytest.raises(ValueError, match="unsaved related object"):
        insert(TimelineEntry(case=CaseModel(order=order), actor_role="x"))
    with pytest.raises(TypeError, match="expressions"):
        insert(Offer(case=case, author_role="buyer", remedy="partial_refund",
                     amount=F("amount") + 1))
    assert not Offer.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_a_long_list_goes_in_bulk_creates_batches(order, buyer_user):
    """Beyond PREPARED_ROWS the rows go as text in the batches bulk_create would use: one
    statement on PostgreSQL (a fixed number of queries whatever the number of recipients),
    several within SQLite's limit on parameters."""
    case = file_case(order, buyer_user)
    n = 400  # 11 parameters a row: beyond SQLite's 999 in one statement
    entries = [TimelineEntry(case=case, actor_role="system", action="n", data={"i": i})
               for i in range(n)]
    with CaptureQueriesContext(connection) as seen:
        insert_many(entries)
    inserts = [q["sql"] for q in seen.captured_queries if "cases_timelineentry" in q["sql"]]
    batch = connection.ops.bulk_batch_size(
        [f for f in TimelineEntry._meta.concrete_fields if not f.primary_key], entries)
    assert len(inserts) == -(-n // batch) and (len(inserts) == 1) == (batch >= n)
    assert [TimelineEntry.objects.get(pk=e.pk).data["i"] for e in entries] == list(range(n))


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_short_lists_are_prepared_long_ones_sent_as_text(case_on_a_new_persistent_session):
    case = case_on_a_new_persistent_session
    rows = lambda n: [TimelineEntry(case=case, actor_role="system", action="n")  # noqa: E731
                      for _ in range(n)]
    with CaptureQueriesContext(connection) as seen:
        insert_many(rows(PREPARED_ROWS))
        insert_many(rows(PREPARED_ROWS))
        insert_many(rows(PREPARED_ROWS + 1))
    ran = [q["sql"].split()[0] for q in seen.captured_queries if "cases_timelineentry" in q["sql"]]
    assert ran == ["PREPARE", "EXECUTE", "EXECUTE", "INSERT"]
    assert TimelineEntry.objects.filter(case=case, action="n").count() == 3 * PREPARED_ROWS + 1
