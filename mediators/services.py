"""Who mediates a case, and what the mediator asks the parties for.

Assignment is by rules (available, speaks the case's language, under capacity, least loaded,
speciality breaks ties) and never gives a case to someone with a conflict of interest: the
buyer's own user, staff of the seller, or a mediator who declared a link to the seller.
The FSM's own checks (cases.services.workflow.case_assign) run as well; these add the rules the
centre has about people.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from cases import roles
from cases.calendar import add_working_days
from cases.errors import ActionNotAllowed, Conflict, InvalidInput, NotFound
from cases.events import CaseEvent, require_durable_commit
from cases.models import Case, State
from cases.services import case_assign, timeline_record
from mediators.models import EvidenceRequest, MediatorProfile

log = logging.getLogger(__name__)

# A mediator's load: the cases that need their work now. A decided case waits only for the
# appeal window and an appealed one is the supervisor's, so neither counts against capacity.
ACTIVE_STATES = (State.IN_MEDIATION,)
EVIDENCE_REQUEST_MAX_WORKING_DAYS = 7


# --- conflicts of interest ----------------------------------------------------------------------
def mediator_conflicts(*, mediator, case: Case) -> list[str]:
    """Why `mediator` may not handle `case` (empty: no conflict)."""
    found = []
    if case.buyer.user_id is not None and case.buyer.user_id == mediator.pk:
        found.append("buyer")
    if case.seller.staff.filter(pk=mediator.pk).exists():
        found.append("seller_staff")
    if MediatorProfile.objects.filter(user=mediator, conflict_sellers=case.seller_id).exists():
        found.append("declared")
    return found


def _loads(user_ids) -> dict[int, int]:
    rows = (Case.objects.filter(mediator_id__in=list(user_ids), state__in=ACTIVE_STATES)
            .values("mediator_id").annotate(n=Count("pk")))
    return {r["mediator_id"]: r["n"] for r in rows}


def mediator_candidates(*, case: Case, now: datetime | None = None, lock: bool = False) -> list:
    """Mediators who may take `case` now, best first: (profile, load) pairs."""
    now = now or timezone.now()
    profiles = (
        MediatorProfile.objects.filter(user__groups__name=roles.MEDIATORS, user__is_active=True,
                                       available=True)
        .filter(Q(away_until__isnull=True) | Q(away_until__lte=now))
        .select_related("user").order_by("pk")
    )
    if lock:  # serialise auto-assignments so two escalations cannot both fill the last slot
        profiles = profiles.select_for_update(of=("self",))
    profiles = list(profiles)
    staff = set(case.seller.staff.values_list("pk", flat=True))
    declared = set(MediatorProfile.conflict_sellers.through.objects
                   .filter(seller_id=case.seller_id).values_list("mediatorprofile_id", flat=True))
    loads = _loads(p.user_id for p in profiles)
    fits = [
        (p, loads.get(p.user_id, 0)) for p in profiles
        if p.speaks(case.language)
        and loads.get(p.user_id, 0) < p.capacity
        and p.user_id != case.buyer.user_id
        and p.user_id not in staff
        and p.pk not in declared
    ]
    return sorted(fits, key=lambda pl: (pl[1], 0 if pl[0].knows(case.reason) else 1, pl[0].user_id))


def _lock_case(case_id: int) -> Case | None:
    return (Case.objects.select_for_update(of=("self",)).select_related("buyer", "seller")
            .filter(pk=case_id).first())


def mediator_auto_assign(*, case_id: int, now: datetime | None = None):
    """Give a case that entered mediation without a mediator to the best fitting one; returns
    the mediator, or None (already assigned, no longer in mediation, or nobody fits — then the
    case stays in the open queue on the supervisor's desk)."""
    with transaction.atomic():
        case = _lock_case(case_id)
        if case is None or case.state != State.IN_MEDIATION or case.mediator_id is not None:
            return None
        candidates = mediator_candidates(case=case, now=now, lock=True)
        if not candidates:
            # No timeline line: the open queue on the supervisor's desk is the record, and a
            # retry (mediator_assign_pending) would otherwise write one per attempt.
            log.info("no mediator fits case %s (language %s): left in the open queue",
                     case.pk, case.language)
            return None
        profile, load = candidates[0]
        require_durable_commit()  # an assignment is a decision: see cases.events
        reason = (f"Phân công tự động: ngôn ngữ {case.language}, đang xử lý {load}/"
                  f"{profile.capacity} vụ" + (", chuyên môn phù hợp" if profile.knows(case.reason) else ""))
        case_assign(case_id=case.pk, actor=roles.SYSTEM, mediator=profile.user, reason=reason)
        return profile.user


def mediator_assign_pending(*, now: datetime | None = None, limit: int = 100) -> int:
    """Retry the rules on the open queue (a mediator came back or freed a slot); oldest first."""
    ids = list(Case.objects.filter(state=State.IN_MEDIATION, mediator__isnull=True)
               .order_by("filed_at", "pk").values_list("pk", flat=True)[:limit])
    return sum(1 for case_id in ids if mediator_auto_assign(case_id=case_id, now=now) is not None)


def mediator_assign(*, case_id: int, actor, mediator, reason: str = ""):
    """A supervisor assigns or reassigns a case by hand, with the centre's rules on top of the
    workflow's: no conflict of interest, a reason for every reassignment, and no reassignment
    once a decision is on record — the deciding mediator must stay the case's mediator, or the
    appeal could land on them (the FSM's `_appeal_supervisor` compares with `case.mediator`)."""
    if not (roles.is_supervisor(actor) or roles.is_system(actor)):
        raise NotFound("Case not found")
    with transaction.atomic():
        case = _lock_case(case_id)
        if case is None:
            raise NotFound("Case not found")
        if case.state in (State.DECIDED, State.UNDER_APPEAL) and case.mediator_id is not None:
            raise Conflict("The deciding mediator stays on a decided case", code="decision_on_record")
        if case.state != State.IN_MEDIATION and case.state not in (State.DECIDED, State.UNDER_APPEAL):
            raise ActionNotAllowed("assign", [], case.state)
        if mediator is None or not mediator.is_active or not roles.is_mediator(mediator):
            raise InvalidInput("Not a mediator", fields={"mediator": ["Người này không phải hòa giải viên."]})
        if case.mediator_id == mediator.pk:
            raise Conflict("Already assigned to this mediator", code="already_assigned")
        if case.mediator_id is not None and not (reason or "").strip():
            raise InvalidInput("Reason required", fields={"reason": ["Vui lòng nêu lý do chuyển vụ việc."]})
        conflicts = mediator_conflicts(mediator=mediator, case=case)
        if conflicts:
            raise InvalidInput("Conflict of interest", code="conflict_of_interest",
                               extra={"conflicts": conflicts},
                               fields={"mediator": ["Hòa giải viên có xung đột lợi ích với vụ việc."]})
        return case_assign(case_id=case.pk, actor=actor, mediator=mediator, reason=(reason or "").strip())


def mediator_profile_update(*, actor, user, **changes) -> MediatorProfile:
    """A mediator sets their own availability and declared conflicts; a supervisor also sets
    languages, specialities and capacity."""
    own_fields = {"available", "away_until", "conflict_sellers"}
    desk_fields = {"languages", "specialities", "capacity"}
    allowed = own_fields | (desk_fields if roles.is_supervisor(actor) else set())
    if not (roles.is_supervisor(actor) or actor.pk == user.pk) or not roles.is_mediator(user):
        raise NotFound("Mediator not found")
    refused = set(changes) - allowed
    if refused:
        raise InvalidInput("Not yours to change",
                           fields={k: ["Chỉ giám sát viên được sửa."] for k in sorted(refused)})
    with transaction.atomic():
        profile, _ = MediatorProfile.objects.select_for_update().get_or_create(user=user)
        sellers = changes.pop("conflict_sellers", None)
        for key, value in changes.items():
            setattr(profile, key, value)
        profile.save()
        if sellers is not None:
            profile.conflict_sellers.set(sellers)
        return profile


# --- evidence requests -------------------------------------------------------------------------
def evidence_request_create(*, case_id: int, actor, party: str, message: str, days: int = 3,
                            now: datetime | None = None) -> EvidenceRequest:
    """The case's mediator asks one party for specific evidence by a date of its own."""
    now = now or timezone.now()
    if party not in EvidenceRequest.Party.values:
        raise InvalidInput("Unknown party", fields={"party": ["Chọn người mua hoặc người bán."]})
    if not (message or "").strip():
        raise InvalidInput("Message required", fields={"message": ["Vui lòng nêu bằng chứng cần bổ sung."]})
    most = EVIDENCE_REQUEST_MAX_WORKING_DAYS
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= most:
        raise InvalidInput("Bad number of days", fields={
            "days": [f"Từ 1 đến {EVIDENCE_REQUEST_MAX_WORKING_DAYS} ngày làm việc."]})
    with transaction.atomic():
        case = _lock_case(case_id)
        if case is None or not roles.can_view(actor, case):
            raise NotFound("Case not found")
        if case.state != State.IN_MEDIATION or not roles.is_case_mediator(actor, case):
            raise ActionNotAllowed("evidence_request", [], case.state)
        request = EvidenceRequest.objects.create(
            case=case, requested_by=actor, party=party, message=message.strip(),
            due_at=add_working_days(now, days), created_at=now,
        )
        # The timeline is read by everyone in the case: the request's text stays in the
        # request, which only the mediator and the party asked can read.
        timeline_record(case=case, actor=actor, action="evidence_request", from_state=case.state,
                        data={"evidence_request": request.pk, "party": party,
                              "due_at": request.due_at.isoformat()})
        return request


def evidence_request_fulfil(*, request_id: int, actor, note: str = "",
                            evidence: list[str] | None = None) -> EvidenceRequest:
    """Mark a request answered: by the case's mediator, or by the party asked (e.g. the item
    was already uploaded, or they answered in the chat)."""
    with transaction.atomic():
        request = (EvidenceRequest.objects.select_for_update(of=("self",))
                   .select_related("case__buyer", "case__seller").filter(pk=request_id).first())
        if request is None or not roles.can_view(actor, request.case):
            raise NotFound("Evidence request not found")
        case = request.case
        asked = (roles.is_case_buyer(actor, case) if request.party == "buyer"
                 else roles.is_case_seller(actor, case))
        if not (asked or roles.is_case_mediator(actor, case)):
            raise ActionNotAllowed("evidence_request_fulfil", [], case.state)
        if not request.is_open:
            raise Conflict("The request is no longer open", code="evidence_request_closed")
        request.fulfilled_at, request.fulfilled_by = timezone.now(), actor
        request.evidence = list(evidence or [])
        request.save()
        timeline_record(case=case, actor=actor, action="evidence_request_fulfil", from_state=case.state,
                        data={"evidence_request": request.pk, "evidence": request.evidence})
        return request


def evidence_requests_fulfil_by_upload(*, case_id: int, party: str, user_id: int | None,
                                       evidence_uid: str, uploaded_at: datetime | None = None) -> int:
    """A party uploaded evidence: every open request to that party made before it is answered."""
    uploaded_at = uploaded_at or timezone.now()
    with transaction.atomic():
        requests = list(EvidenceRequest.objects.select_for_update()
                        .filter(case_id=case_id, party=party, fulfilled_at__isnull=True,
                                cancelled_at__isnull=True, created_at__lte=uploaded_at))
        for request in requests:
            request.fulfilled_at, request.fulfilled_by_id = uploaded_at, user_id
            request.evidence = [evidence_uid]
            request.save(update_fields=["fulfilled_at", "fulfilled_by", "evidence"])
        return len(requests)


# --- case event subscriber (registered in MediatorsConfig.ready) -------------------------------
def _enters_mediation(event: CaseEvent) -> bool:
    return event.to_state == State.IN_MEDIATION and event.from_state != State.IN_MEDIATION


def _party_upload(event: CaseEvent) -> bool:
    return event.action == "evidence_add" and event.actor_role in ("buyer", "seller")


def concerns_mediators(event: CaseEvent) -> bool:
    """The events `on_case_event` acts on (few are)."""
    return _enters_mediation(event) or _party_upload(event)


def on_case_event(event: CaseEvent) -> None:
    """After commit: a case that just entered mediation gets a mediator by the rules; an
    uploaded file answers the uploader's open evidence requests."""
    if _enters_mediation(event):
        mediator_auto_assign(case_id=event.case_id)
    elif _party_upload(event):
        evidence_requests_fulfil_by_upload(case_id=event.case_id, party=event.actor_role,
                                           user_id=event.actor_id,
                                           evidence_uid=str(event.data.get("evidence", "")))


def mediator_users():
    return get_user_model().objects.filter(groups__name=roles.MEDIATORS, is_active=True)
