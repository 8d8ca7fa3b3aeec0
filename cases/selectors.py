"""Reads of cases, always scoped to the reader's relation to the case (this is what keeps
anyone from seeing a case that is not theirs), with a fixed number of queries per call."""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from cases import roles
from cases.models import (
    Buyer,
    Case,
    DeadlineExtension,
    Offer,
    Order,
    Payment,
    Seller,
    Shipment,
    State,
    TimelineEntry,
)
from odr.joined import Joined, columns, fetch_one, table
from partners.models import Partner

User = get_user_model()

# Actions that are not transitions of the state machine but are offered to users all the same.
_SYSTEM_ONLY = {
    "seller_deadline_passed", "buyer_deadline_passed", "return_deadline_passed",
    "appeal_window_passed", "close",
}


def cases_visible_to(user) -> QuerySet[Case]:
    qs = Case.objects.all()
    if roles.is_supervisor(user):
        return qs
    visible = Q(buyer__user=user) | Q(
        Exists(Seller.staff.through.objects.filter(seller_id=OuterRef("seller_id"), user_id=user.pk))
    )
    if roles.is_mediator(user):
        visible |= Q(mediator=user) | Q(state=State.IN_MEDIATION, mediator__isnull=True)
    return qs.filter(visible)


def case_list(*, user) -> QuerySet[Case]:
    return cases_visible_to(user).select_related("buyer", "seller", "marketplace", "order")


def case_get(*, user, case_id: int) -> Case | None:
    """The case with everything its page shows, or None if the user may not see it."""
    shipments = Shipment.objects.select_related("carrier").prefetch_related("events")
    return (
        cases_visible_to(user)
        .select_related("buyer", "seller", "marketplace", "order__marketplace", "order__seller",
                        "payment__partner", "mediator")
        .prefetch_related(
            "order__lines",
            Prefetch("order__shipments", queryset=shipments),
            Prefetch("timeline", queryset=TimelineEntry.objects.select_related("actor")),
            Prefetch("offers", queryset=Offer.objects.order_by("created_at", "pk")),
            "evidence", "decisions", "appeals", "extensions",
        )
        .filter(pk=case_id)
        .first()
    )


def case_transitions_for(case: Case, user) -> list[str]:
    """Workflow transitions this user may take now (state, conditions and permission)."""
    names = [t.name for t in case.get_available_user_state_transitions(user)]
    return sorted(n for n in names if n not in _SYSTEM_ONLY or roles.is_system(user))


def case_actions_for(case: Case, user) -> list[str]:
    """Everything this user may do on the case now: the transitions plus the actions that do
    not move the state. Pages and the API render exactly this list."""
    actions = set(case_transitions_for(case, user))
    if "accept_settlement" in actions:
        mediator_offer = next((o for o in reversed(list(case.offers.all()))
                               if o.status == Offer.Status.OPEN and o.author_role == "mediator"),
                              None)
        already = mediator_offer and (
            (roles.is_case_buyer(user, case) and mediator_offer.buyer_accepted_at)
            or (roles.is_case_seller(user, case) and mediator_offer.seller_accepted_at)
        )
        if mediator_offer is None or already:
            actions.discard("accept_settlement")
    if case.state != State.CLOSED and (roles.is_party(user, case)
                                       or roles.is_case_mediator(user, case)):
        actions.add("add_evidence")
    if case.state == State.AWAITING_RETURN and roles.is_case_buyer(user, case):
        actions.add("return_ship")
    if case.state == State.IN_MEDIATION and roles.is_case_mediator(user, case):
        actions.add("propose_settlement")
    if case.state in (State.IN_MEDIATION, State.DECIDED, State.UNDER_APPEAL):
        if roles.is_supervisor(user):
            actions.add("assign")
        elif roles.is_mediator(user) and case.mediator_id is None and not _conflicted(user, case):
            actions.add("take")
    if case.state == State.IN_MEDIATION and roles.is_case_mediator(user, case):
        actions.add("evidence_request")
    actions.update(_extension_actions(case, user))
    return sorted(actions)


def case_has_no_extensions(case: Case) -> None:
    """Tell the case it has no deadline extension (known from the query that loaded it, or
    because it was filed this instant): `actions` then asks the database nothing about them.
    An evaluated empty result of the real relation, as a prefetch leaves it: `.all()` is
    answered from it, while `.filter()` and the like still ask the database."""
    empty = DeadlineExtension.objects.filter(case_id=case.pk)
    empty._result_cache = []
    empty._prefetch_done = True
    case._prefetched_objects_cache = {**getattr(case, "_prefetched_objects_cache", {}),
                                      "extensions": empty}


def _conflicted(user, case: Case) -> bool:
    from mediators.services import mediator_conflicts

    return bool(mediator_conflicts(mediator=user, case=case))


def _extension_actions(case: Case, user) -> set[str]:
    """More time: the party the running deadline is against may ask once; the other party,
    the mediator or a supervisor decides a pending request."""
    from cases.services.deadlines import _EXTENDABLE, deadline_acting_party

    if case.state not in _EXTENDABLE or case.due_at is None or case.due_at <= timezone.now():
        return set()
    extensions = list(case.extensions.all())
    pending = next((e for e in extensions if e.status == "pending"), None)
    party = ("buyer" if roles.is_case_buyer(user, case)
             else "seller" if roles.is_case_seller(user, case) else None)
    if pending is not None:
        decides = (roles.is_case_mediator(user, case) or roles.is_supervisor(user)
                   or (party is not None and party != pending.requester_role))
        return {"extension_decide"} if decides else set()
    asked = {e.requester_role for e in extensions}
    if party and party not in asked and deadline_acting_party(case) == party:
        return {"extension_request"}
    return set()


# --- the hot reads, in hand-written SQL (odr/joined.py says why) ---------------------------
_FILING_ROW = Joined(Order, Partner, Buyer, Seller, Payment)
# An id no row can have (a 64-bit key): nothing to ask, and the drivers would refuse it.
_MAX_ID = 2**63 - 1


def _joined_row(joined: Joined, name: str, sql: str, key: int, *params) -> tuple[list, list] | None:
    """The model instances (and trailing columns) of the one row `sql` gives for the id `key`
    and `params`, or None: no such row, or an id no row can have."""
    if not 0 < key <= _MAX_ID:
        return None
    row = fetch_one(name, sql, [key, *params])
    return None if row is None else joined.instances(row)


@cache
def _filing_sql(vendor: str) -> str:
    # Table and column names come from the models; the values are query parameters.
    return (
        f"SELECT {columns('o', Order)}, {columns('m', Partner)}, {columns('b', Buyer)}, "  # noqa: S608
        f"{columns('s', Seller)}, {columns('p', Payment)} "
        f"FROM {table(Order)} o JOIN {table(Partner)} m ON m.id = o.marketplace_id "
        f"JOIN {table(Buyer)} b ON b.id = o.buyer_id JOIN {table(Seller)} s ON s.id = o.seller_id "
        f"LEFT JOIN {table(Payment)} p ON p.id = "
        f"(SELECT MIN(p1.id) FROM {table(Payment)} p1 WHERE p1.order_id = o.id) "
        "WHERE o.id = %s AND b.user_id = %s"
    )


def order_for_filing(*, order_id: int, user_id: int | None) -> tuple[Order, Payment | None] | None:
    """The order a buyer files against, with its marketplace, buyer, seller and first payment,
    in one query; None unless the order is this user's (someone else's order looks exactly
    like a missing one)."""
    found = _joined_row(_FILING_ROW, "order_for_filing", _filing_sql(connection.vendor), order_id,
                        user_id or -1)
    if found is None:
        return None
    (order, marketplace, buyer, seller, payment), _ = found
    order.marketplace, order.buyer, order.seller = marketplace, buyer, seller
    if payment is not None:
        payment.order = order
    return order, payment


_LOCK_ROW = Joined(Case, Partner, Buyer, Seller, Order)


@cache
def _lock_sql(vendor: str) -> str:
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
    return (
        f"SELECT {columns('c', Case)}, {columns('m', Partner)}, {columns('b', Buyer)}, "  # noqa: S608
        f"{columns('s', Seller)}, {columns('o', Order)}, "
        f"EXISTS (SELECT 1 FROM {table(DeadlineExtension)} x WHERE x.case_id = c.id) "
        f"FROM {table(Case)} c JOIN {table(Partner)} m ON m.id = c.marketplace_id "
        f"JOIN {table(Buyer)} b ON b.id = c.buyer_id JOIN {table(Seller)} s ON s.id = c.seller_id "
        f"JOIN {table(Order)} o ON o.id = c.order_id WHERE c.id = %s{lock}"
    )


def case_for_update(case_id: int) -> Case | None:
    """The case row locked for this transaction (`FOR UPDATE OF` the case alone on PostgreSQL;
    SQLite's writer lock serialises instead), with the rows a transition's answer shows:
    marketplace, buyer, seller, order; the payment is loaded by the few transitions that move
    money, when they need it. Whether the case has any deadline extension comes in the same
    query: most cases have none, and `actions` then needs no query for them."""
    assert transaction.get_connection().in_atomic_block, "case_for_update needs a transaction"
    found = _joined_row(_LOCK_ROW, "case_for_update", _lock_sql(connection.vendor), case_id)
    if found is None:
        return None
    (case, marketplace, buyer, seller, order), (has_extensions,) = found
    case.marketplace, case.buyer, case.seller, case.order = marketplace, buyer, seller, order
    if not has_extensions:
        case_has_no_extensions(case)
    return case


_NOTICE_ROW = Joined(Case, Buyer, User, Seller, Order, User)


@cache
def _notice_sql(vendor: str) -> str:
    return (
        f"SELECT {columns('c', Case)}, {columns('b', Buyer)}, {columns('bu', User)}, "  # noqa: S608
        f"{columns('s', Seller)}, {columns('o', Order)}, {columns('mu', User)} "
        f"FROM {table(Case)} c JOIN {table(Buyer)} b ON b.id = c.buyer_id "
        f"LEFT JOIN {table(User)} bu ON bu.id = b.user_id "
        f"JOIN {table(Seller)} s ON s.id = c.seller_id JOIN {table(Order)} o ON o.id = c.order_id "
        f"LEFT JOIN {table(User)} mu ON mu.id = c.mediator_id WHERE c.id = %s"
    )


def case_for_notice(case_id: int) -> Case | None:
    """The case a case event tells people about, with what the notifications read: its buyer
    and the buyer's user, seller, order and mediator; one query (every event of the relay
    runs it)."""
    found = _joined_row(_NOTICE_ROW, "case_for_notice", _notice_sql(connection.vendor), case_id)
    if found is None:
        return None
    (case, buyer, buyer_user, seller, order, mediator), _ = found
    buyer.user = buyer_user
    case.buyer, case.seller, case.order, case.mediator = buyer, seller, order, mediator
    return case


_CHAT_ROW = Joined(Case, Buyer)


@cache
def _case_with_buyer_sql(vendor: str) -> str:
    return (
        f"SELECT {columns('c', Case)}, {columns('b', Buyer)} FROM {table(Case)} c "  # noqa: S608
        f"JOIN {table(Buyer)} b ON b.id = c.buyer_id WHERE c.id = %s"
    )


def case_with_buyer(case_id: int) -> Case | None:
    """The case and its buyer, in one prepared query: what the chat checks every message
    against (who may write, whether the chat is still open)."""
    found = _joined_row(_CHAT_ROW, "case_with_buyer", _case_with_buyer_sql(connection.vendor),
                        case_id)
    if found is None:
        return None
    (case, buyer), _ = found
    case.buyer = buyer
    return case
