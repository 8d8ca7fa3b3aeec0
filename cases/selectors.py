"""Reads of cases, always scoped to the reader's relation to the case (this is what keeps
anyone from seeing a case that is not theirs), with a fixed number of queries per call."""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from cases import roles
from cases.models import Case, DeadlineExtension, Offer, Seller, Shipment, State, TimelineEntry

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
