"""The hot reads in hand-written SQL (odr/joined.py, cases.selectors): the rows come back
as the ORM would give them, the lock takes the case row alone, and on PostgreSQL with
persistent connections the statements are prepared once per session."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases import services
from cases.models import Case, DeadlineExtension, Order, Payment
from cases.selectors import case_for_notice, case_for_update, case_with_buyer, order_for_filing
from odr.auth import user_for_token
from odr.joined import fetch_one, positional
from tests import factories as f
from tests.races import needs_postgres, race


def _file(buyer_user, order) -> Case:
    return services.case_file(actor=buyer_user, order_id=order.pk, reason="damaged",
                              desired_outcome="full_refund", claimed_amount=100_000,
                              description="Hộp bị móp")


@pytest.mark.django_db
def test_the_filing_read_gives_what_the_orm_gives(order, buyer_user):
    order.marketplace.policy = {"filing_window_days_after_delivery": 7}
    order.marketplace.save()
    delivered = timezone.now() - timedelta(days=2)
    Order.objects.filter(pk=order.pk).update(delivered_at=delivered)

    found, payment = order_for_filing(order_id=order.pk, user_id=buyer_user.pk)

    expected = Order.objects.select_related("marketplace", "buyer", "seller").get(pk=order.pk)
    assert found == expected and payment == Payment.objects.filter(order=order).first()
    assert found.delivered_at == delivered  # a real, aware datetime on SQLite as well
    assert found.marketplace.policy == {"filing_window_days_after_delivery": 7}  # JSON, decoded
    assert (found.buyer, found.seller, found.marketplace) == (
        expected.buyer, expected.seller, expected.marketplace)
    assert payment.amount == expected.payments.first().amount and payment.order is found


@pytest.mark.django_db
def test_the_filing_read_finds_only_the_buyers_own_order(order, stranger):
    assert order_for_filing(order_id=order.pk, user_id=stranger.pk) is None
    assert order_for_filing(order_id=order.pk, user_id=None) is None
    assert order_for_filing(order_id=order.pk + 10_000, user_id=order.buyer.user_id) is None
    assert order_for_filing(order_id=10**20, user_id=order.buyer.user_id) is None  # not a 500


@pytest.mark.django_db
def test_an_id_beyond_any_key_is_404_not_500(api, buyer_user, order):
    client = api(buyer_user)
    assert client.post(f"/api/v1/cases/{10**20}/offer/", {"remedy": "partial_refund",
                       "amount": 1_000}, format="json").status_code == 404
    filed = client.post("/api/v1/cases/", {"order": 10**20, "reason": "damaged",
                        "desired_outcome": "full_refund", "claimed_amount": 1_000,
                        "description": "Vỡ"}, format="json")
    assert filed.status_code == 404, filed.content


@pytest.mark.django_db
def test_an_order_without_payment_reads_with_none(buyer_user):
    unpaid = f.OrderFactory(buyer__user=buyer_user, total=50_000)
    found, payment = order_for_filing(order_id=unpaid.pk, user_id=buyer_user.pk)
    assert found.pk == unpaid.pk and payment is None


@pytest.mark.django_db
def test_the_first_of_several_payments_is_the_one_read(order, buyer_user):
    first = Payment.objects.filter(order=order).order_by("pk").first()
    f.PaymentFactory(order=order, amount=1_000)
    assert order_for_filing(order_id=order.pk, user_id=buyer_user.pk)[1] == first


@pytest.mark.django_db
def test_the_lock_read_gives_the_case_and_whether_it_has_extensions(order, buyer_user):
    case = _file(buyer_user, order)
    with transaction.atomic():
        locked = case_for_update(case.pk)
        assert locked == case and locked.state == case.state and locked.filed_at == case.filed_at
        assert (locked.order, locked.buyer, locked.seller, locked.marketplace) == (
            case.order, case.buyer, case.seller, case.marketplace)
        with CaptureQueriesContext(connection) as seen:
            assert list(locked.extensions.all()) == []
        assert len(seen) == 0  # known empty from the lock's own query

    DeadlineExtension.objects.create(case=case, requested_by=buyer_user, requester_role="buyer",
                                     state=case.state, days=2, reason="Đi công tác",
                                     old_due_at=case.due_at, new_due_at=case.due_at)
    with transaction.atomic():
        locked = case_for_update(case.pk)
        assert locked.extensions.count() == 1
    with transaction.atomic():
        assert case_for_update(case.pk + 10_000) is None


@pytest.mark.django_db
def test_the_notice_read_gives_the_case_with_its_people(order, buyer_user, mediator_user):
    case = _file(buyer_user, order)
    found = case_for_notice(case.pk)
    assert found == case and found.state == case.state and found.filed_at == case.filed_at
    with CaptureQueriesContext(connection) as seen:
        assert (found.buyer, found.buyer.user, found.seller, found.order) == (
            case.buyer, buyer_user, case.seller, case.order)
        assert found.mediator is None
    assert len(seen) == 0  # all in the one query
    Case.objects.filter(pk=case.pk).update(mediator=mediator_user)
    assert case_for_notice(case.pk).mediator == mediator_user
    assert case_for_notice(case.pk + 10_000) is None and case_for_notice(10**20) is None


@pytest.mark.django_db
def test_the_notice_read_of_a_buyer_without_an_account(order, buyer_user):
    case = _file(buyer_user, order)
    type(case.buyer).objects.filter(pk=case.buyer_id).update(user=None)
    found = case_for_notice(case.pk)
    assert found.buyer.user_id is None and found.buyer.user is None


@pytest.mark.django_db(transaction=True)
def test_the_lock_read_needs_a_transaction(order, buyer_user):
    case = _file(buyer_user, order)
    with pytest.raises(AssertionError):
        case_for_update(case.pk)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_holds_the_case_row_and_not_its_order(order, buyer_user):
    case = _file(buyer_user, order)

    def other_session(table: str, pk: int):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])  # noqa: S608
            return cursor.fetchone()[0]

    with transaction.atomic():
        case_for_update(case.pk)
        on_case, on_order = race(lambda: other_session("cases_case", case.pk),
                                 lambda: other_session("cases_order", order.pk))
    assert isinstance(on_case, DatabaseError)  # "could not obtain lock"
    assert on_order == order.pk


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_persistent_connections_prepare_once_per_session(monkeypatch, order, buyer_user):
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 60)
    case = _file(buyer_user, order)
    connection.close()

    def statements_run():
        with transaction.atomic(), CaptureQueriesContext(connection) as seen:
            assert case_for_update(case.pk) == case
        return [q["sql"].split()[0] for q in seen.captured_queries]

    assert statements_run() == ["PREPARE", "EXECUTE"]
    assert statements_run() == ["EXECUTE"]
    with pytest.raises(RuntimeError), transaction.atomic():  # a rollback keeps the statement
        case_for_update(case.pk)
        raise RuntimeError
    assert statements_run() == ["EXECUTE"]
    connection.close()  # a new session has none
    assert statements_run() == ["PREPARE", "EXECUTE"]


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_token_lookups_survive_new_sessions(monkeypatch, buyer_user):
    """The token lookup is a request's first query: the statement must be prepared on the
    session the request's health check and connect leave, not on the one before."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 60)
    key = Token.objects.create(user=buyer_user).key
    connection.close()
    for _ in range(3):
        assert user_for_token(key) == buyer_user
    for _ in range(3):
        connection.close()
        assert user_for_token(key) == buyer_user
        assert user_for_token(key) == buyer_user


@pytest.mark.django_db
def test_short_lived_connections_run_the_sql_as_it_is(order, buyer_user):
    """CONN_MAX_AGE=0 (a request's connection ends with it): preparing would cost a round trip
    per request for nothing. (The ASGI processes' database threads keep theirs: see the test
    of them below.)"""
    assert connection.settings_dict["CONN_MAX_AGE"] == 0
    with CaptureQueriesContext(connection) as seen:
        assert fetch_one("probe", "SELECT %s + 1", [41]) == (42,)
    assert [q["sql"] for q in seen.captured_queries] == ["SELECT 41 + 1"]


@pytest.mark.django_db
def test_the_chat_read_gives_the_case_and_its_buyer_as_the_orm_does(order, buyer_user):
    case = _file(buyer_user, order)
    found = case_with_buyer(case.pk)
    expected = Case.objects.select_related("buyer").get(pk=case.pk)
    assert found == expected and found.buyer == expected.buyer
    assert found.filed_at == expected.filed_at and found.state == expected.state
    assert case_with_buyer(case.pk + 10_000) is None and case_with_buyer(10**20) is None


def test_named_placeholders_become_positional_in_order():
    assert positional("SELECT %(a)s, %(b)s WHERE x = %(a)s") == (
        "SELECT %s, %s WHERE x = %s", ["a", "b", "a"])


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_thread_of_an_asgi_process_prepares_although_conn_max_age_is_0(
        order, buyer_user, settings):
    """The chat's queries run on odr/asyncdb.py's threads, each keeping its connection for the
    life of the process: they are prepared there, and not anywhere with
    ODR_PREPARED_STATEMENTS off (behind PgBouncer in transaction mode)."""
    from asgiref.sync import async_to_sync

    from odr.asyncdb import db, pool_close

    case = _file(buyer_user, order)
    assert connection.settings_dict["CONN_MAX_AGE"] == 0

    def statements_run():
        with CaptureQueriesContext(connection) as seen:
            assert case_with_buyer(case.pk) == case
        return [q["sql"].split()[0] for q in seen.captured_queries]

    pool_close()
    settings.ODR_ASYNC_DB_THREADS = 1  # one thread, one session: prepared once, then executed
    try:
        ran = [async_to_sync(db(statements_run))() for _ in range(3)]
        assert ran == [["PREPARE", "EXECUTE"], ["EXECUTE"], ["EXECUTE"]]
        settings.ODR_PREPARED_STATEMENTS = False
        assert async_to_sync(db(statements_run))() == ["SELECT"]
    finally:
        pool_close()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_session_whose_statements_were_lost_runs_plain_sql_until_replaced(monkeypatch):
    """A proxy that moved us to another session, or a migration that changed a column, makes
    PostgreSQL refuse an EXECUTE: that call fails, later ones run the SQL as it is (instead of
    failing for the connection's whole life), and a new session prepares again."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 60)
    connection.close()

    def run():
        with CaptureQueriesContext(connection) as seen:
            assert fetch_one("probe", "SELECT %s + 1", [41]) == (42,)
        return [q["sql"].split()[0] for q in seen.captured_queries]

    try:
        assert run() == ["PREPARE", "EXECUTE"]
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")  # what another session behind a proxy looks like
        with pytest.raises(DatabaseError, match="does not exist"):
            fetch_one("probe", "SELECT %s + 1", [41])
        assert run() == ["SELECT"] and run() == ["SELECT"]
        connection.close()
        assert run() == ["PREPARE", "EXECUTE"]
    finally:
        connection.close()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_thread_whose_statements_were_lost_gets_a_new_session(settings):
    from asgiref.sync import async_to_sync

    from odr.asyncdb import db, pool_close

    def run():
        with CaptureQueriesContext(connection) as seen:
            assert fetch_one("probe", "SELECT %s + 1", [41]) == (42,)
        return [q["sql"].split()[0] for q in seen.captured_queries]

    def lose_them():
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")

    pool_close()
    settings.ODR_ASYNC_DB_THREADS = 1
    try:
        assert async_to_sync(db(run))() == ["PREPARE", "EXECUTE"]
        async_to_sync(db(lose_them))()
        with pytest.raises(DatabaseError, match="does not exist"):
            async_to_sync(db(run))()
        assert async_to_sync(db(run))() == ["PREPARE", "EXECUTE"]  # a fresh session
        assert async_to_sync(db(run))() == ["EXECUTE"]
    finally:
        pool_close()
