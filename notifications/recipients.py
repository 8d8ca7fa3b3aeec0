"""Who learns of what happens in a case: the case's timeline actions mapped to notification
events and their recipients.

Recipients come only from the case's own relations — its buyer's user, the shop's staff, the
assigned mediator — and from the centre's groups where the workflow gives them the case (the
mediator pool for an unassigned escalation, supervisors for appeals and SLA breaches). Nobody
else ever learns of a case. The actor never notifies themself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from cases import roles
from cases.events import CaseEvent
from cases.models import Case

log = logging.getLogger(__name__)
User = get_user_model()


@dataclass
class Batch:
    event: str
    users: list
    context: dict = field(default_factory=dict)


# --- the people of a case ------------------------------------------------------------------------
def buyer_users(case: Case) -> list:
    user = case.buyer.user if case.buyer.user_id else None
    return [user] if user is not None and user.is_active else []


def seller_users(case: Case) -> list:
    return list(case.seller.staff.filter(is_active=True).order_by("pk"))


def party_users(case: Case) -> list:
    return buyer_users(case) + seller_users(case)


def mediator_users(case: Case) -> list:
    return [case.mediator] if case.mediator_id and case.mediator.is_active else []


def mediator_pool(case: Case) -> list:
    """Who may take an unassigned case: active mediators, minus anyone who marked themself
    unavailable and anyone who is a party to this very case."""
    users = (User.objects.filter(groups__name=roles.MEDIATORS, is_active=True)
             .exclude(mediator_profile__available=False).distinct().order_by("pk"))
    parties = {u.pk for u in party_users(case)}
    return [u for u in users if u.pk not in parties]


def supervisors(case: Case, *, exclude_mediator: bool = False) -> list:
    users = User.objects.filter(groups__name=roles.SUPERVISORS, is_active=True).distinct().order_by("pk")
    if exclude_mediator and case.mediator_id:
        users = users.exclude(pk=case.mediator_id)
    return list(users)


def mediator_or_pool(case: Case) -> list:
    return mediator_users(case) or mediator_pool(case)


def _party_of_role(case: Case, role: str) -> list:
    if role == "buyer":
        return buyer_users(case)
    if role == "seller":
        return seller_users(case)
    return []


def _other_party(case: Case, actor_role: str) -> list:
    return _party_of_role(case, {"buyer": "seller", "seller": "buyer"}.get(actor_role, ""))


# --- rules -----------------------------------------------------------------------------------------
AUTO_OUTCOMES = ("seller_deadline_passed", "buyer_deadline_passed", "return_deadline_passed",
                 "appeal_window_passed")


def _to_buyer(event: str) -> Callable[[Case, CaseEvent], list[Batch]]:
    return lambda case, ev: [Batch(event, buyer_users(case))]


def _to_seller(event: str) -> Callable[[Case, CaseEvent], list[Batch]]:
    return lambda case, ev: [Batch(event, seller_users(case))]


def _to_parties(event: str) -> Callable[[Case, CaseEvent], list[Batch]]:
    return lambda case, ev: [Batch(event, party_users(case))]


def _escalated(case: Case, ev: CaseEvent) -> list[Batch]:
    return [
        Batch("case_escalated", mediator_or_pool(case), {"assigned": bool(case.mediator_id)}),
        Batch("case_in_mediation", _other_party(case, ev.actor_role)),
    ]


def _withdrawn(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("case_withdrawn", seller_users(case) + mediator_users(case))]


def _assigned(case: Case, ev: CaseEvent) -> list[Batch]:
    mediator_id = ev.data.get("mediator") or case.mediator_id
    users = [u for u in mediator_users(case) if u.pk == mediator_id]
    return [Batch("mediator_assigned", users)]


def _evidence_requested(case: Case, ev: CaseEvent) -> list[Batch]:
    from mediators.models import EvidenceRequest

    party = ev.data.get("party") or ev.data.get("role") or ""
    request = EvidenceRequest.objects.filter(pk=ev.data.get("evidence_request"), case=case).first()
    context = {"message": request.message if request else ""}
    if ev.data.get("due_at"):
        context["due_at"] = ev.data["due_at"]
    return [Batch("evidence_requested", _party_of_role(case, party), context)]


def _settlement_partial(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("settlement_accepted_partial",
                  _other_party(case, ev.actor_role) + mediator_users(case))]


def _settlement_accepted(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("settlement_accepted", party_users(case) + mediator_users(case))]


def _appeal(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("appeal_filed", supervisors(case, exclude_mediator=True))]


def _appeal_decided(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("appeal_decided", party_users(case) + mediator_users(case))]


def _auto_outcome(case: Case, ev: CaseEvent) -> list[Batch]:
    batches = [Batch("deadline_passed", party_users(case))]
    if ev.to_state == "in_mediation":
        batches.append(Batch("case_escalated", mediator_or_pool(case), {"assigned": bool(case.mediator_id)}))
    return batches


def _sla_breach(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("sla_breach", supervisors(case), {"state": ev.from_state or case.state})]


def _escrow(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("escrow_executed", party_users(case),
                  {"kind": ev.data.get("kind", ""), "amount": ev.data.get("amount", 0)})]


def _extension_requested(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("extension_requested", _other_party(case, ev.actor_role) + mediator_users(case),
                  {"days": ev.data.get("days"), "due_at": ev.data.get("due_at")})]


def _extension_decided(event: str) -> Callable[[Case, CaseEvent], list[Batch]]:
    def rule(case: Case, ev: CaseEvent) -> list[Batch]:
        from cases.models import DeadlineExtension

        ext = DeadlineExtension.objects.filter(pk=ev.data.get("extension"), case=case).first()
        if ext is None:
            return []
        users = [u for u in party_users(case) if u.pk == ext.requested_by_id]
        return [Batch(event, users, {"due_at": ev.data.get("due_at") or case.due_at})]
    return rule


def _return_shipped(case: Case, ev: CaseEvent) -> list[Batch]:
    return [Batch("return_shipped", seller_users(case),
                  {"carrier": ev.data.get("carrier", ""), "tracking": ev.data.get("tracking_number", "")})]


RULES: dict[str, Callable[[Case, CaseEvent], list[Batch]]] = {
    "file": _to_seller("case_filed"),
    "accept_claim": _to_buyer("claim_accepted"),
    "make_offer": _to_buyer("offer_made"),
    "contest": _to_buyer("claim_contested"),
    "counter_offer": _to_seller("counter_offered"),
    "accept_offer": _to_seller("offer_accepted"),
    "withdraw": _withdrawn,
    "escalate": _escalated,
    "dispute_return": _escalated,
    "assign": _assigned,
    "evidence_request": _evidence_requested,
    "propose_settlement": _to_parties("settlement_proposed"),
    "accept_settlement_partial": _settlement_partial,
    "accept_settlement": _settlement_accepted,
    "decide": _to_parties("decision_made"),
    "appeal": _appeal,
    "uphold": _appeal_decided,
    "overturn": _appeal_decided,
    **{action: _auto_outcome for action in AUTO_OUTCOMES},
    "sla_breach": _sla_breach,
    "escrow_confirmed": _escrow,
    "return_ship": _return_shipped,
    "return_delivered": _to_seller("return_delivered"),
    "confirm_return": _to_buyer("return_confirmed"),
    "extension_request": _extension_requested,
    "extension_grant": _extension_decided("extension_granted"),
    "extension_refuse": _extension_decided("extension_refused"),
}


def batches_for(event: CaseEvent, case: Case) -> list[Batch]:
    """The notifications one timeline entry causes, actor removed, each person once."""
    rule = RULES.get(event.action)
    if rule is None and event.to_state == "in_mediation" and event.from_state != "in_mediation":
        rule = _escalated  # any other way into mediation (a future action) still reaches a mediator
    if rule is None:
        return []
    base = {"action": event.action, "actor_role": event.actor_role, "to_state": event.to_state,
            "from_state": event.from_state}
    for key in ("outcome", "refund_amount", "remedy", "amount"):
        if key in event.data:
            base[key] = event.data[key]
    if event.action == "extension_request":
        base["text"] = _reason_of(event)
    out = []
    for batch in rule(case, event):
        seen, users = set(), []
        for user in batch.users:
            if user.pk == event.actor_id or user.pk in seen:
                continue
            seen.add(user.pk)
            users.append(user)
        if users:
            out.append(Batch(batch.event, users, {**base, **batch.context}))
    return out


def _reason_of(event: CaseEvent) -> str:
    from cases.models import TimelineEntry

    entry = TimelineEntry.objects.filter(pk=event.entry_id).only("reason").first()
    return entry.reason if entry else ""


__all__ = ["Batch", "batches_for", "buyer_users", "mediator_pool", "party_users",
           "seller_users", "supervisors"]

