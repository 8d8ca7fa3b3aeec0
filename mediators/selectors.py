"""Reads for the supervisor's desk and the mediator's workspace, with fixed query counts."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from cases import roles
from cases.models import Case, State
from mediators.models import EvidenceRequest, MediatorProfile
from mediators.services import ACTIVE_STATES, mediator_users

QUEUES = ("unassigned", "sla_breaching", "appealed")
_STAFF_STATES = (State.IN_MEDIATION, State.UNDER_APPEAL)


def _queue_filter(queue: str, now: datetime) -> Q:
    if queue == "unassigned":
        return Q(state=State.IN_MEDIATION, mediator__isnull=True)
    if queue == "sla_breaching":
        # Flagged by the sweep, or past due and not yet swept (the sweep runs every minute).
        return Q(state__in=_STAFF_STATES) & (Q(sla_breached_at__isnull=False) | Q(due_at__lte=now))
    if queue == "appealed":
        return Q(state=State.UNDER_APPEAL)
    raise ValueError(queue)


def desk_queue(*, queue: str, now: datetime | None = None) -> QuerySet[Case]:
    """One of the supervisor's queues, the most urgent first."""
    now = now or timezone.now()
    return (Case.objects.filter(_queue_filter(queue, now))
            .select_related("seller", "marketplace", "mediator")
            .order_by("sla_breached_at", "due_at", "filed_at", "pk"))


def desk_counts(*, now: datetime | None = None) -> dict[str, int]:
    """How many cases wait in each queue, plus overdue evidence requests: one query each."""
    now = now or timezone.now()
    counts = Case.objects.aggregate(**{q: Count("pk", filter=_queue_filter(q, now)) for q in QUEUES})
    counts["overdue_evidence_requests"] = evidence_requests_overdue(now=now).count()
    return counts


def mediator_workload(*, now: datetime | None = None) -> list[dict]:
    """Every active mediator with profile and load: active, decided, breaching cases and
    overdue evidence requests. Three queries whatever the number of mediators."""
    now = now or timezone.now()
    users = list(mediator_users().order_by("pk"))
    profiles = {p.user_id: p for p in MediatorProfile.objects.filter(user__in=users)
                .prefetch_related("conflict_sellers")}
    rows = (Case.objects.filter(mediator__in=users).values("mediator_id").annotate(
        active=Count("pk", filter=Q(state__in=ACTIVE_STATES)),
        decided=Count("pk", filter=Q(state=State.DECIDED)),
        breaching=Count("pk", filter=Q(state__in=_STAFF_STATES)
                        & (Q(sla_breached_at__isnull=False) | Q(due_at__lte=now))),
    ))
    loads = {r["mediator_id"]: r for r in rows}
    result = []
    for user in users:
        profile = profiles.get(user.pk)
        load = loads.get(user.pk, {})
        result.append({
            "id": user.pk, "username": user.username, "name": user.get_full_name(),
            "languages": profile.languages if profile else [],
            "specialities": profile.specialities if profile else [],
            "capacity": profile.capacity if profile else 0,
            "available": bool(profile and profile.is_available(now)),
            "away_until": profile.away_until if profile else None,
            "conflict_sellers": [s.pk for s in profile.conflict_sellers.all()] if profile else [],
            "active_cases": load.get("active", 0),
            "decided_cases": load.get("decided", 0),
            "breaching_cases": load.get("breaching", 0),
        })
    return result


def evidence_requests_overdue(*, now: datetime | None = None) -> QuerySet[EvidenceRequest]:
    now = now or timezone.now()
    return EvidenceRequest.objects.filter(fulfilled_at__isnull=True, cancelled_at__isnull=True,
                                          due_at__lte=now, case__state=State.IN_MEDIATION)


def evidence_requests_for(*, user, case: Case) -> QuerySet[EvidenceRequest]:
    """A case's evidence requests as `user` may see them: the mediator and supervisors see all,
    a party only those addressed to it."""
    qs = EvidenceRequest.objects.filter(case=case).order_by("created_at", "pk")
    if roles.is_case_mediator(user, case) or roles.is_supervisor(user):
        return qs
    parties = [p for p, ok in (("buyer", roles.is_case_buyer(user, case)),
                               ("seller", roles.is_case_seller(user, case))) if ok]
    return qs.filter(party__in=parties)


def desk_queue_case(case_id: int) -> Case | None:
    return Case.objects.select_related("seller", "marketplace", "mediator").filter(pk=case_id).first()
