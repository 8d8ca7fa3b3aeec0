"""The hot endpoints use a fixed number of queries whatever the size of the data: the same count
with 1 and with 20 cases / timeline entries / offers / evidence / shipment events / order lines /
seller staff. Each count is also pinned, so a new query shows up here first.

Writes are counted twice: the request itself on the production path (ODR_EVENTS_ASYNC: the case
event is an outbox row written in the request's transaction, dispatched later by the relay),
and with the subscribers run inline after commit, as the embedded default (`make run` without
Redis) does."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Evidence, Offer, Shipment, ShipmentEvent, TimelineEntry
from cases.services import case_counter_offer, case_file, case_offer
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production_events(settings):
    """Case events through the outbox, as in production (the inline variants switch it off)."""
    settings.ODR_EVENTS_ASYNC = True

FILE_BODY = {"reason": "damaged", "desired_outcome": "full_refund", "claimed_amount": 450_000,
             "description": "Hộp chè bị móp, gói bên trong rách."}
OFFER_BODY = {"remedy": "partial_refund", "amount": 100_000, "note": "Hỗ trợ 100.000 ₫"}
COUNTER_BODY = {"remedy": "partial_refund", "amount": 300_000, "note": "Xin 300.000 ₫"}

# Pinned counts (update deliberately, with the reason, when an endpoint changes), counted on the
# embedded SQLite test database: savepoints included (the test wraps each request in a
# transaction, so the request's own atomic block is a SAVEPOINT … RELEASE pair).
# (Tests authenticate without a token; over HTTP the token lookup adds one query to each.)
# Filing: order (+ marketplace, buyer, seller and its first payment: one hand-written query),
# case (the one-open-case-per-order constraint is the check), timeline entry, hold instruction,
# the actor's shops (for `actions`), the case event's outbox row + 2 savepoint lines. It was 13:
# the 201 re-read the case (+ the reader's groups), the payment was read twice (then once, on
# its own), an EXISTS query checked for an open case, `actions` read deadline extensions.
FILING_QUERIES = 8
# Inline: no outbox row; + the `file` event's subscribers (notifications, chat), each in a
# savepoint (2 lines each: 27 before subscribers had their own savepoints). 37 before the chat
# line stopped reading before it inserts and notify stopped reading back what it wrote; 35
# before subscribers said which events they want (the statistics' and the mediators' skip a
# filing: no savepoint for them), the chat line dropped its redundant outer savepoint and
# notify stopped checking for a replay before it inserts (the constraint refuses one).
FILING_QUERIES_INLINE = 28
# Offer / counter-offer: lock (+ marketplace, buyer, seller, order, and whether any deadline
# extension exists), the actor's shops, offers superseded, offer, case, timeline entry, outbox
# row + 2 savepoint lines. They were 20 with the answer re-reading the whole dossier (groups + case + 9
# prefetches), then 9 with `actions` reading the deadline extensions (now only when some exist).
# Over HTTP with a token on PostgreSQL, the actor's shops come with the token (odr/auth.py).
OFFER_QUERIES = 9
COUNTER_OFFER_QUERIES = 9
# Detail: the reader's groups and shops, the case (+ order with its marketplace and seller,
# payment, …), 9 prefetches. Was 14: the order's marketplace and seller took a query each.
DETAIL_QUERIES_BUYER = 12
DETAIL_QUERIES_SELLER = 12
LIST_QUERIES_BUYER = 3


def _shop(n_staff: int):
    staff = [f.UserFactory() for _ in range(n_staff)]
    return f.SellerFactory(staff_users=staff), staff


def _order_with_lines(*, buyer, seller, n_lines: int):
    order = f.paid_order(buyer=buyer, seller=seller)
    for i in range(n_lines - 1):  # the factory adds one line
        order.lines.create(sku=f"SKU-{i}", name=f"Hàng {i}", quantity=1, unit_price=1_000)
    return order


def _world(n: int):
    """A buyer with n earlier cases, a shop with n staff, an order with n lines."""
    buyer_user = f.UserFactory()
    buyer = f.BuyerFactory(user=buyer_user)
    shop, staff = _shop(n)
    for _ in range(n):
        earlier = f.paid_order(buyer=buyer, seller=shop)
        case_file(actor=buyer_user, order_id=earlier.pk, **FILE_BODY)
    order = _order_with_lines(buyer=buyer, seller=shop, n_lines=n)
    return buyer_user, staff, order


def _fresh(user):
    """The user as a request sees it: no memberships cached on the object yet."""
    return type(user).objects.get(pk=user.pk)


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _filing_queries(api, django_capture_on_commit_callbacks, n: int, *, inline: bool) -> int:
    from django.conf import settings

    buyer_user, _, order = _world(n)
    settings.ODR_EVENTS_ASYNC = not inline
    client = api(_fresh(buyer_user))

    def post():
        with django_capture_on_commit_callbacks(execute=inline):
            r = client.post("/api/v1/cases/", {**FILE_BODY, "order": order.pk}, format="json")
        assert r.status_code == 201, r.content

    return _count(post)


@pytest.mark.parametrize(("inline", "pinned"), [(False, FILING_QUERIES),
                                                (True, FILING_QUERIES_INLINE)])
def test_filing_query_count_does_not_grow(api, django_capture_on_commit_callbacks, inline,
                                          pinned):
    small = _filing_queries(api, django_capture_on_commit_callbacks, 1, inline=inline)
    large = _filing_queries(api, django_capture_on_commit_callbacks, 20, inline=inline)
    assert (small, large) == (pinned, pinned)


def test_filing_query_count_pinned(api, django_assert_num_queries, settings,
                                   django_capture_on_commit_callbacks):
    settings.ODR_EVENTS_ASYNC = False
    buyer_user, _, order = _world(1)
    client = api(_fresh(buyer_user))
    with django_assert_num_queries(FILING_QUERIES_INLINE), \
            django_capture_on_commit_callbacks(execute=True):
        r = client.post("/api/v1/cases/", {**FILE_BODY, "order": order.pk}, format="json")
    assert r.status_code == 201


def _negotiating_case(n: int):
    """A case the seller has offered on and the buyer countered n times (n offers, 2n + 1
    timeline entries), of a shop with n staff; back with the seller to answer."""
    buyer_user, staff, order = _world(n)
    case = case_file(actor=buyer_user, order_id=order.pk, **FILE_BODY)
    for _ in range(n):
        case_offer(case_id=case.pk, actor=staff[0], **OFFER_BODY)
        case_counter_offer(case_id=case.pk, actor=buyer_user, **COUNTER_BODY)
    return case, buyer_user, staff[-1]


def _transition_queries(api, n: int) -> tuple[int, int]:
    case, buyer_user, seller_user = _negotiating_case(n)
    seller, buyer = api(_fresh(seller_user)), api(_fresh(buyer_user))

    def offer():
        r = seller.post(f"/api/v1/cases/{case.pk}/offer/", OFFER_BODY, format="json")
        assert r.status_code == 200, r.content

    def counter():
        r = buyer.post(f"/api/v1/cases/{case.pk}/counter-offer/", COUNTER_BODY, format="json")
        assert r.status_code == 200, r.content

    return _count(offer), _count(counter)


def test_transition_query_counts_do_not_grow(api):
    pinned = (OFFER_QUERIES, COUNTER_OFFER_QUERIES)
    assert [_transition_queries(api, 1), _transition_queries(api, 20)] == [pinned, pinned]


def _rich_case(n: int):
    """A filed case with n timeline entries by distinct actors, n offers, n evidence files, n
    shipments with n events each, an order of n lines, a shop of n staff."""
    buyer_user, staff, order = _world(1)
    case = case_file(actor=buyer_user, order_id=order.pk, **FILE_BODY)
    for i in range(n - 1):
        order.lines.create(sku=f"X-{i}", name="x", quantity=1, unit_price=1)
    carrier = f.carrier("ghn")
    now = timezone.now()
    for i in range(n):
        actor = staff[i % len(staff)] if i % 2 else f.UserFactory()
        TimelineEntry.objects.create(case=case, actor=actor, actor_role="seller", action="note",
                                     from_state=case.state, to_state=case.state)
        Offer.objects.create(case=case, author=staff[0], author_role=Offer.Author.SELLER,
                             remedy="partial_refund", amount=1_000 + i,
                             status=Offer.Status.SUPERSEDED)
        Evidence.objects.create(case=case, uploaded_by=buyer_user, uploader_role="buyer",
                                file=f"evidence/{i}.pdf", original_name=f"{i}.pdf",
                                content_type="application/pdf", size=10, sha256="0" * 64)
        shipment = Shipment.objects.create(carrier=carrier, tracking_number=f"GHN{case.pk}-{i:04d}",
                                           order=order)
        for j in range(n):
            ShipmentEvent.objects.create(shipment=shipment, status="in_transit",
                                         occurred_at=now - timedelta(hours=j),
                                         description=f"event {j}")
    return case, buyer_user, staff[0]


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_case_detail_query_count_does_not_grow(api, who):
    counts = []
    for n in (1, 20):
        case, buyer_user, seller_user = _rich_case(n)
        client = api(buyer_user if who == "buyer" else seller_user)

        def get(client=client, case=case):
            r = client.get(f"/api/v1/cases/{case.pk}/")
            assert r.status_code == 200, r.content

        counts.append(_count(get))
    pinned = DETAIL_QUERIES_BUYER if who == "buyer" else DETAIL_QUERIES_SELLER
    assert counts == [pinned, pinned]


def test_case_detail_query_count_pinned(api, django_assert_num_queries):
    case, buyer_user, _ = _rich_case(5)
    client = api(buyer_user)
    with django_assert_num_queries(DETAIL_QUERIES_BUYER):
        assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 200


def _list_queries(api, n: int) -> int:
    buyer_user, _, _ = _world(n)

    def get():
        r = api(buyer_user).get("/api/v1/cases/")
        assert r.status_code == 200 and r.json()["count"] == n, r.content

    return _count(get)


def test_case_list_query_count_does_not_grow(api):
    assert [_list_queries(api, 1), _list_queries(api, 20)] == [LIST_QUERIES_BUYER] * 2


def test_case_list_query_count_pinned(api, django_assert_num_queries):
    buyer_user, _, _ = _world(3)
    with django_assert_num_queries(LIST_QUERIES_BUYER):
        assert api(buyer_user).get("/api/v1/cases/").status_code == 200
