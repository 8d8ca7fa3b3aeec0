"""Every move of a case through its workflow, one service per action.

Each service: locks the case row (PostgreSQL `SELECT … FOR UPDATE OF case`; the FSM's
ConcurrentTransitionMixin is the backstop on SQLite), checks the transition for this actor,
applies it, sets the next deadline, saves, writes the timeline and any escrow instruction in
the same transaction, and leaves notifications and chat messages to after commit.
"""

from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition, has_transition_perm

from cases import roles
from cases.errors import ActionNotAllowed, Conflict, InvalidInput, NotFound
from cases.models import (
    Appeal,
    Case,
    Decision,
    Evidence,
    Offer,
    Outcome,
    Remedy,
    Shipment,
    State,
)
from cases.policy import due_at_for_state, policy_for
from cases.selectors import case_for_update, case_transitions_for
from cases.services.filing import timeline_record
from escrow.services import escrow_instruct, escrow_outstanding
from odr.inserts import insert

SYSTEM = roles.SYSTEM


# --- the common path ------------------------------------------------------------------------
def _lock(case_id: int, actor) -> Case:
    """The case, locked for this transaction, if the actor may see it (404 otherwise)."""
    case = case_for_update(case_id)
    if case is None or not (roles.is_system(actor) or roles.can_view(actor, case)):
        raise NotFound("Case not found")
    case._as_locked = {name: getattr(case, name) for name in _SAVED}
    return case


# Columns a transition may change; _finish writes only those that did (plus updated_at).
_SAVED = [f.attname for f in Case._meta.concrete_fields if not f.primary_key]


def _changed(case: Case) -> list[str] | None:
    """The columns changed since _lock read the row, or None when it did not (save them all)."""
    before = getattr(case, "_as_locked", None)
    if before is None:
        return None
    return [name for name in _SAVED if getattr(case, name) != before[name]] + ["updated_at"]


def _require(case: Case, actor, action: str) -> None:
    """Refuse early, before input is validated: the user learns what they may do instead."""
    if not has_transition_perm(getattr(case, action), actor):
        raise ActionNotAllowed(action, case_transitions_for(case, actor), case.state)


def _apply(case: Case, actor, action: str, *args, **kwargs) -> str:
    """Run the transition named `action`; returns the state it left."""
    _require(case, actor, action)
    method = getattr(case, action)
    from_state = case.state
    method(*args, **kwargs)
    return from_state


def _finish(case: Case, actor, action: str, from_state: str, reason: str = "",
            data: dict | None = None) -> Case:
    now = timezone.now()
    if case.state != from_state and case.state not in (State.RESOLVED, State.CLOSED):
        case.due_at = due_at_for_state(state=case.state, policy=policy_for(case.marketplace), now=now)
        case.reminded_at = None
    try:
        case.save(update_fields=_changed(case))
    except ConcurrentTransition as exc:
        raise Conflict("The case changed meanwhile; reload and try again",
                       code="concurrent_update") from exc
    case._as_locked = {name: getattr(case, name) for name in _SAVED}
    timeline_record(case=case, actor=actor, action=action, from_state=from_state,
                    to_state=case.state, reason=reason, data=data)
    if case.state == State.RESOLVED and from_state != State.RESOLVED:
        _settle_escrow(case)
    return case


def _settle_escrow(case: Case) -> None:
    """Refund what the outcome gives the buyer, release the rest of the held amount to the
    seller. With no payment to move, the case closes at once."""
    refund = case.refund_amount
    release = case.claimed_amount - refund
    if case.payment_id is None:
        from_state = case.state
        case.close()
        case.save()
        timeline_record(case=case, actor=SYSTEM, action="close", from_state=from_state,
                        reason="Không có khoản thanh toán cần xử lý.")
        return
    escrow_instruct(case=case, kind="refund", amount=refund, reason=f"{case.reference} {case.outcome}")
    escrow_instruct(case=case, kind="release", amount=release,
                    reason=f"{case.reference} {case.outcome}")


def _transition(*, case_id: int, actor, action: str, reason: str = "", data: dict | None = None,
                args: tuple = (), kwargs: dict | None = None) -> Case:
    with transaction.atomic():
        case = _lock(case_id, actor)
        from_state = _apply(case, actor, action, *args, **(kwargs or {}))
        return _finish(case, actor, action, from_state, reason, data)


def _check_amount(case: Case, remedy: str, amount: int, field: str = "amount") -> int:
    if remedy not in Remedy.values:
        raise InvalidInput("Unknown remedy", fields={"remedy": ["Phương án không hợp lệ."]})
    if remedy == Remedy.REPLACEMENT:
        return 0
    if not isinstance(amount, int) or amount <= 0 or amount > case.claimed_amount:
        raise InvalidInput("Bad amount", fields={
            field: [f"Số tiền phải từ 1 đến {case.claimed_amount} ₫ (số tiền đang tranh chấp)."]})
    return amount


def _evidence_of(case: Case, actor, evidence_ids: list[str]) -> list[str]:
    found = list(Evidence.objects.filter(case=case, uploaded_by=actor, uid__in=evidence_ids)
                 .values_list("uid", flat=True))
    return [str(u) for u in found]


# --- seller ---------------------------------------------------------------------------------
def case_accept_claim(*, case_id: int, actor, reason: str = "") -> Case:
    with transaction.atomic():
        case = _lock(case_id, actor)
        from_state = _apply(case, actor, "accept_claim")
        Offer.objects.filter(case=case, status=Offer.Status.OPEN).update(
            status=Offer.Status.ACCEPTED, seller_accepted_at=timezone.now())
        return _finish(case, actor, "accept_claim", from_state, reason,
                       {"outcome": case.outcome, "refund_amount": case.refund_amount})


def case_offer(*, case_id: int, actor, remedy: str, amount: int, note: str = "") -> Case:
    """The seller proposes something other than the claim (partial refund, replacement, …)."""
    with transaction.atomic():
        case = _lock(case_id, actor)
        _require(case, actor, "make_offer")
        amount = _check_amount(case, remedy, amount)
        from_state = _apply(case, actor, "make_offer", remedy, amount)
        Offer.objects.filter(case=case, status=Offer.Status.OPEN).update(
            status=Offer.Status.SUPERSEDED)
        offer = insert(Offer(case=case, author=actor, author_role=Offer.Author.SELLER,
                             remedy=remedy, amount=amount, note=note))
        return _finish(case, actor, "make_offer", from_state, note,
                       {"offer": offer.pk, "remedy": remedy, "amount": amount})


def case_contest(*, case_id: int, actor, reason: str, evidence_ids: list[str]) -> Case:
    """The seller rejects the claim; a rejection must come with the seller's own evidence."""
    with transaction.atomic():
        case = _lock(case_id, actor)
        _require(case, actor, "contest")
        if not reason.strip():
            raise InvalidInput("Reason required", fields={"reason": ["Vui lòng nêu lý do."]})
        evidence = _evidence_of(case, actor, evidence_ids or [])
        if not evidence:
            raise InvalidInput("Evidence required", code="evidence_required", fields={
                "evidence_ids": ["Cần ít nhất một bằng chứng do người bán tải lên."]})
        from_state = _apply(case, actor, "contest")
        Offer.objects.filter(case=case, status=Offer.Status.OPEN).update(
            status=Offer.Status.REJECTED)
        return _finish(case, actor, "contest", from_state, reason, {"evidence": evidence})


def case_confirm_return(*, case_id: int, actor, reason: str = "") -> Case:
    return _transition(case_id=case_id, actor=actor, action="confirm_return", reason=reason)


def case_dispute_return(*, case_id: int, actor, reason: str) -> Case:
    if not reason.strip():
        raise InvalidInput("Reason required", fields={"reason": ["Vui lòng nêu lý do."]})
    return _transition(case_id=case_id, actor=actor, action="dispute_return", reason=reason)


# --- buyer ----------------------------------------------------------------------------------
def case_accept_offer(*, case_id: int, actor, reason: str = "") -> Case:
    with transaction.atomic():
        case = _lock(case_id, actor)
        from_state = _apply(case, actor, "accept_offer")
        Offer.objects.filter(case=case, status=Offer.Status.OPEN).update(
            status=Offer.Status.ACCEPTED, buyer_accepted_at=timezone.now())
        return _finish(case, actor, "accept_offer", from_state, reason,
                       {"outcome": case.outcome, "refund_amount": case.refund_amount})


def case_counter_offer(*, case_id: int, actor, remedy: str, amount: int, note: str = "") -> Case:
    with transaction.atomic():
        case = _lock(case_id, actor)
        _require(case, actor, "counter_offer")
        amount = _check_amount(case, remedy, amount)
        from_state = _apply(case, actor, "counter_offer", remedy, amount)
        Offer.objects.filter(case=case, status=Offer.Status.OPEN).update(
            status=Offer.Status.REJECTED)
        offer = insert(Offer(case=case, author=actor, author_role=Offer.Author.BUYER,
                             remedy=remedy, amount=amount, note=note))
        return _finish(case, actor, "counter_offer", from_state, note,
                       {"offer": offer.pk, "remedy": remedy, "amount": amount})


def case_withdraw(*, case_id: int, actor, reason: str = "") -> Case:
    return _transition(case_id=case_id, actor=actor, action="withdraw", reason=reason)


def case_return_ship(*, case_id: int, actor, carrier_code: str, tracking_number: str) -> Shipment:
    """The buyer tells us how the item goes back; the ship-by clock stops, a transit clock runs."""
    from cases.services.records import shipment_event_record
    from partners.models import Partner

    with transaction.atomic():
        case = _lock(case_id, actor)
        if case.state != State.AWAITING_RETURN or not roles.is_case_buyer(actor, case):
            raise ActionNotAllowed("return_ship", case_transitions_for(case, actor), case.state)
        carrier = Partner.objects.filter(code=carrier_code, kind=Partner.Kind.CARRIER).first()
        if carrier is None:
            raise InvalidInput("Unknown carrier", fields={"carrier": ["Đơn vị vận chuyển không hợp lệ."]})
        if not tracking_number.strip():
            raise InvalidInput("Tracking required", fields={"tracking_number": ["Bắt buộc."]})
        shipment, _ = shipment_event_record(
            carrier=carrier, tracking_number=tracking_number.strip(), order=case.order,
            status=Shipment.Status.CREATED, occurred_at=timezone.now(),
            direction=Shipment.Direction.RETURN, description="Người mua tạo vận đơn hoàn hàng",
        )
        case.due_at = timezone.now() + timezone.timedelta(
            days=policy_for(case.marketplace).return_transit_days)
        case.save()
        timeline_record(case=case, actor=actor, action="return_ship", from_state=case.state,
                        data={"carrier": carrier.code, "tracking_number": tracking_number})
        return shipment


def case_return_delivered(*, case_id: int, delivered_at) -> Case | None:
    """The carrier reports the return delivered: the seller's confirmation clock starts."""
    from cases.calendar import add_working_days

    with transaction.atomic():
        case = _lock(case_id, SYSTEM)
        if case.state != State.AWAITING_RETURN:
            return None
        policy = policy_for(case.marketplace)
        case.due_at = add_working_days(delivered_at, policy.return_confirm_working_days)
        case.reminded_at = None
        case.save()
        timeline_record(case=case, actor=SYSTEM, action="return_delivered", from_state=case.state,
                        data={"delivered_at": delivered_at.isoformat()})
        return case


# --- either party ---------------------------------------------------------------------------
def case_escalate(*, case_id: int, actor, reason: str) -> Case:
    if not reason.strip():
        raise InvalidInput("Reason required", fields={"reason": ["Vui lòng nêu lý do."]})
    with transaction.atomic():
        case = _lock(case_id, actor)
        from_state = _apply(case, actor, "escalate")
        Offer.objects.filter(case=case, status=Offer.Status.OPEN).update(
            status=Offer.Status.REJECTED)
        return _finish(case, actor, "escalate", from_state, reason)


def case_appeal(*, case_id: int, actor, grounds: str) -> Case:
    if not grounds.strip():
        raise InvalidInput("Grounds required", fields={"grounds": ["Vui lòng nêu căn cứ."]})
    with transaction.atomic():
        case = _lock(case_id, actor)
        from_state = _apply(case, actor, "appeal")
        decision = case.decisions.order_by("-created_at").first()
        Appeal.objects.create(case=case, decision=decision, appellant=actor,
                              appellant_role=roles.role_in_case(actor, case), grounds=grounds)
        return _finish(case, actor, "appeal", from_state, grounds)


# --- mediator and supervisor ----------------------------------------------------------------
def case_assign(*, case_id: int, actor, mediator, reason: str = "") -> Case:
    """A mediator takes a case from the open queue, a supervisor assigns or reassigns one, or
    the system assigns one by the rules (actor=SYSTEM)."""
    with transaction.atomic():
        case = _lock(case_id, actor)
        if case.state not in (State.IN_MEDIATION, State.DECIDED, State.UNDER_APPEAL):
            raise ActionNotAllowed("assign", case_transitions_for(case, actor), case.state)
        taking = mediator == actor and roles.is_mediator(actor) and case.mediator_id is None
        if not (taking or roles.is_supervisor(actor) or roles.is_system(actor)):
            raise ActionNotAllowed("assign", case_transitions_for(case, actor), case.state)
        if not roles.is_mediator(mediator):
            raise InvalidInput("Not a mediator", fields={"mediator": ["Người này không phải hòa giải viên."]})
        if roles.is_party(mediator, case) or _declared_conflict(mediator, case):
            raise InvalidInput("Conflict of interest", code="conflict_of_interest",
                               fields={"mediator": ["Hòa giải viên có liên quan đến một bên."]})
        previous = case.mediator_id
        case.mediator, case.mediator_assigned_at = mediator, timezone.now()
        case.save()
        timeline_record(case=case, actor=actor, action="assign", from_state=case.state,
                        reason=reason, data={"mediator": mediator.pk, "previous": previous})
        return case


def _declared_conflict(mediator, case: Case) -> bool:
    from mediators.services import mediator_conflicts  # staff links, buyer, declared sellers

    return bool(mediator_conflicts(mediator=mediator, case=case))


def case_propose_settlement(*, case_id: int, actor, remedy: str, amount: int, note: str = "") -> Offer:
    """The mediator puts terms to both parties; the case settles when both accept."""
    with transaction.atomic():
        case = _lock(case_id, actor)
        if case.state != State.IN_MEDIATION or not roles.is_case_mediator(actor, case):
            raise ActionNotAllowed("propose_settlement", case_transitions_for(case, actor), case.state)
        amount = _check_amount(case, remedy, amount)
        Offer.objects.filter(case=case, status=Offer.Status.OPEN).update(
            status=Offer.Status.SUPERSEDED)
        offer = insert(Offer(case=case, author=actor, author_role=Offer.Author.MEDIATOR,
                             remedy=remedy, amount=amount, note=note))
        case.open_offer_remedy, case.open_offer_amount = remedy, amount
        case.save()
        timeline_record(case=case, actor=actor, action="propose_settlement", from_state=case.state,
                        reason=note, data={"offer": offer.pk, "remedy": remedy, "amount": amount})
        return offer


def case_accept_settlement(*, case_id: int, actor) -> Case:
    """One party accepts the mediator's terms; the second acceptance settles the case."""
    with transaction.atomic():
        case = _lock(case_id, actor)
        offer = case.offers.filter(status=Offer.Status.OPEN, author_role=Offer.Author.MEDIATOR).last()
        if offer is None or not has_transition_perm(case.accept_settlement, actor):
            raise ActionNotAllowed("accept_settlement", case_transitions_for(case, actor), case.state)
        now = timezone.now()
        if roles.is_case_buyer(actor, case):
            offer.buyer_accepted_at = offer.buyer_accepted_at or now
        if roles.is_case_seller(actor, case):
            offer.seller_accepted_at = offer.seller_accepted_at or now
        if offer.buyer_accepted_at and offer.seller_accepted_at:
            offer.status = Offer.Status.ACCEPTED
            offer.save()
            from_state = _apply(case, actor, "accept_settlement")
            return _finish(case, actor, "accept_settlement", from_state, "",
                           {"offer": offer.pk, "outcome": case.outcome,
                            "refund_amount": case.refund_amount})
        offer.save()
        timeline_record(case=case, actor=actor, action="accept_settlement_partial",
                        from_state=case.state, data={"offer": offer.pk})
        return case


def case_decide(*, case_id: int, actor, outcome: str, refund_amount: int, reasons: str) -> Case:
    """The assigned mediator decides with written reasons; the parties may appeal."""
    if outcome not in (Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND, Outcome.SELLER_FAVOUR,
                       Outcome.REPLACEMENT):
        raise InvalidInput("Bad outcome", fields={"outcome": ["Kết quả không hợp lệ."]})
    if not reasons.strip():
        raise InvalidInput("Reasons required", fields={"reasons": ["Quyết định phải có lý do."]})
    with transaction.atomic():
        case = _lock(case_id, actor)
        _require(case, actor, "decide")
        refund = _decided_refund(case, outcome, refund_amount)
        from_state = _apply(case, actor, "decide", outcome, refund)
        decision = Decision.objects.create(case=case, decided_by=actor, outcome=outcome,
                                           refund_amount=refund, reasons=reasons)
        case = _finish(case, actor, "decide", from_state, reasons,
                       {"decision": decision.pk, "outcome": outcome, "refund_amount": refund})
        decision.appeal_until = case.due_at
        decision.save(update_fields=["appeal_until"])
        return case


def _decided_refund(case: Case, outcome: str, amount: int | None) -> int:
    if outcome == Outcome.FULL_REFUND:
        return case.claimed_amount
    if outcome == Outcome.PARTIAL_REFUND:
        return _check_amount(case, Remedy.PARTIAL_REFUND, amount, "refund_amount")
    return 0


def _review(*, case_id: int, actor, action: str, reasons: str, outcome: str = "",
            refund_amount: int = 0) -> Case:
    if not reasons.strip():
        raise InvalidInput("Reasons required", fields={"reasons": ["Vui lòng nêu lý do."]})
    with transaction.atomic():
        case = _lock(case_id, actor)
        _require(case, actor, action)
        args = (outcome, _decided_refund(case, outcome, refund_amount)) if outcome else ()
        from_state = _apply(case, actor, action, *args)
        result = Appeal.Result.UPHELD if action == "uphold" else Appeal.Result.OVERTURNED
        case.appeals.filter(result="").update(result=result, reviewed_by=actor,
                                              review_reasons=reasons, reviewed_at=timezone.now())
        return _finish(case, actor, action, from_state, reasons,
                       {"outcome": case.outcome, "refund_amount": case.refund_amount})


def case_uphold(*, case_id: int, actor, reasons: str) -> Case:
    return _review(case_id=case_id, actor=actor, action="uphold", reasons=reasons)


def case_overturn(*, case_id: int, actor, outcome: str, refund_amount: int, reasons: str) -> Case:
    if outcome not in (Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND, Outcome.SELLER_FAVOUR,
                       Outcome.REPLACEMENT):
        raise InvalidInput("Bad outcome", fields={"outcome": ["Kết quả không hợp lệ."]})
    return _review(case_id=case_id, actor=actor, action="overturn", reasons=reasons,
                   outcome=outcome, refund_amount=refund_amount)


# --- the system -----------------------------------------------------------------------------
DEADLINE_ACTIONS = {
    State.AWAITING_SELLER: ("seller_deadline_passed", "seller",
                            "Quá hạn: người bán không trả lời."),
    State.AWAITING_BUYER: ("buyer_deadline_passed", "buyer",
                           "Quá hạn: người mua không trả lời đề nghị."),
    State.DECIDED: ("appeal_window_passed", "parties",
                    "Hết thời hạn khiếu nại lại: quyết định có hiệu lực."),
}
RETURN_DEADLINES = {  # (shipped, delivered) -> who was silent, what the timeline says
    (False, False): ("buyer", "Quá hạn: người mua không gửi trả hàng đúng hạn."),
    (True, True): ("seller", "Quá hạn: người bán không xác nhận hàng hoàn đã nhận."),
    (True, False): ("carrier", "Quá hạn: hàng hoàn chưa đến nơi, chuyển hòa giải viên xem xét."),
}


def case_deadline_pass(*, case_id: int, now=None) -> Case | None:
    """Act on a passed deadline, once: whoever was silent bears the default outcome. Returns
    None when there is nothing to do (not due yet, or another sweeper already acted)."""
    now = now or timezone.now()
    with transaction.atomic():
        case = _lock(case_id, SYSTEM)
        if case.due_at is None or case.due_at > now:
            return None
        if case.state in (State.IN_MEDIATION, State.UNDER_APPEAL):
            due_at = case.due_at
            case.sla_breached_at, case.due_at = now, None
            case.save()
            timeline_record(case=case, actor=SYSTEM, action="sla_breach", from_state=case.state,
                            reason="Quá hạn xử lý: chuyển giám sát viên.",
                            data={"due_at": due_at.isoformat(),
                                  "silent": "mediator" if case.state == State.IN_MEDIATION
                                  else "supervisor"})
            return case
        kwargs = {}
        if case.state == State.AWAITING_RETURN:
            returns = Shipment.objects.filter(order=case.order_id, direction=Shipment.Direction.RETURN)
            kwargs = {"return_shipped": returns.exists(),
                      "return_delivered": returns.filter(delivered_at__isnull=False).exists()}
            silent, reason = RETURN_DEADLINES[(kwargs["return_shipped"],
                                               kwargs["return_shipped"] and kwargs["return_delivered"])]
            action = "return_deadline_passed"
        elif case.state in DEADLINE_ACTIONS:
            action, silent, reason = DEADLINE_ACTIONS[case.state]
        else:
            return None
        due_at = case.due_at
        from_state = _apply(case, SYSTEM, action, **kwargs)
        return _finish(case, SYSTEM, action, from_state, reason,
                       {"due_at": due_at.isoformat(), "silent": silent})


def case_close_if_settled(*, case_id: int) -> Case | None:
    """Close a resolved case once the payment partner confirmed all its instructions."""
    with transaction.atomic():
        case = _lock(case_id, SYSTEM)
        if case.state != State.RESOLVED or escrow_outstanding(case=case):
            return None
        from_state = _apply(case, SYSTEM, "close")
        return _finish(case, SYSTEM, "close", from_state, "Đối tác thanh toán đã xác nhận.")
