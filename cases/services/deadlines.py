"""The clock of the centre: the sweep that acts on passed deadlines, the reminders before them,
and the one request for more time each party may make.

Deadlines are `Case.due_at` columns set by the workflow services; nothing here schedules a long
countdown (shared/STYLE.md, Celery traps). Beat runs `deadlines_sweep` every minute and
`deadline_reminders_send` every five; both are safe to run twice at once or to rerun after a
crash, because each case is claimed under a row lock and every effect is idempotent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import roles
from cases.calendar import add_working_days
from cases.errors import ActionNotAllowed, Conflict, InvalidInput, NotFound
from cases.models import Case, DeadlineExtension, Reminder, Shipment, State
from cases.models.case import WAITING_STATES
from cases.policy import policy_for
from cases.services.filing import timeline_record
from cases.services.workflow import case_deadline_pass
from partners.models import Partner

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


# --- who must act now -------------------------------------------------------------------------
def _return_delivered(case: Case) -> bool:
    return Shipment.objects.filter(order=case.order_id, direction=Shipment.Direction.RETURN,
                                   delivered_at__isnull=False).exists()


def deadline_acting_party(case: Case) -> str | None:
    """Whose silence the running deadline punishes: buyer, seller, mediator, supervisor, or
    "parties" (either may appeal a decision). None when no deadline runs."""
    if case.state == State.AWAITING_SELLER:
        return "seller"
    if case.state == State.AWAITING_BUYER:
        return "buyer"
    if case.state == State.AWAITING_RETURN:
        return "seller" if _return_delivered(case) else "buyer"
    if case.state == State.IN_MEDIATION:
        return "mediator"
    if case.state == State.DECIDED:
        return "parties"
    if case.state == State.UNDER_APPEAL:
        return "supervisor"
    return None


def _seller_staff(case: Case) -> list:
    return list(case.seller.staff.filter(is_active=True).order_by("pk"))


def _supervisors(exclude_id: int | None = None) -> list:
    users = get_user_model().objects.filter(groups__name=roles.SUPERVISORS, is_active=True)
    if exclude_id:
        users = users.exclude(pk=exclude_id)
    return list(users.order_by("pk"))


def deadline_reminder_recipients(case: Case) -> list:
    """The users a reminder of the case's current deadline goes to: the party who must act;
    for an unassigned mediation case, the supervisors who must assign it; for an appeal, the
    supervisors other than the deciding mediator."""
    party = deadline_acting_party(case)
    buyer = [case.buyer.user] if case.buyer.user_id and case.buyer.user.is_active else []
    if party == "seller":
        return _seller_staff(case)
    if party == "buyer":
        return buyer
    if party == "parties":
        return buyer + [u for u in _seller_staff(case) if u not in buyer]
    if party == "mediator":
        return [case.mediator] if case.mediator_id else _supervisors()
    if party == "supervisor":
        return _supervisors(exclude_id=case.mediator_id)
    return []


# --- the sweep ----------------------------------------------------------------------------------
def _claim_next(now: datetime, skip: set[int]) -> int | None:
    """Lock one due case nobody else is working on (PostgreSQL SKIP LOCKED), or None."""
    ids = (
        Case.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(due_at__lte=now, state__in=WAITING_STATES)
        .exclude(pk__in=skip)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:1]
    )
    return next(iter(ids), None)


def deadlines_sweep(*, now: datetime | None = None, batch: int = 200) -> int:
    """Act on up to `batch` passed deadlines; returns how many cases were acted on.

    One transaction per case: claim the row with SKIP LOCKED (a second sweeper takes the next
    one instead of waiting), then `case_deadline_pass` re-checks `due_at` under the same lock,
    so a case is never acted on twice — not by two sweepers, not by a sweeper restarted after
    a crash (its uncommitted work rolled back, the row is simply due again)."""
    now = now or timezone.now()
    acted, seen = 0, set()
    while len(seen) < batch:
        case_id = None
        try:
            with transaction.atomic():
                case_id = _claim_next(now, seen)
                if case_id is None:
                    break
                seen.add(case_id)
                case = case_deadline_pass(case_id=case_id, now=now)
                if case is not None:
                    acted += 1
                    DeadlineExtension.objects.filter(
                        case_id=case_id, status=DeadlineExtension.Status.PENDING
                    ).update(status=DeadlineExtension.Status.LAPSED, decided_at=now)
        except Exception:  # one broken case must not stop the clock for all the others
            log.exception("deadline sweep failed for case %s", case_id)
            if case_id is None:
                break
    return acted


# --- reminders ----------------------------------------------------------------------------------
def _horizon() -> timedelta:
    """The longest reminder lead time any marketplace uses (they may override the 24 h)."""
    hours = [settings.ODR_POLICY.get("reminder_hours_before", 24)]
    for partner in Partner.objects.filter(kind=Partner.Kind.MARKETPLACE).exclude(policy={}):
        value = (partner.policy or {}).get("reminder_hours_before")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            hours.append(value)
    return timedelta(hours=max(hours))


def _kinds_due(case: Case, now: datetime) -> list[tuple[str, int]]:
    """Reminder kinds due now for the case's deadline, as (kind, hours before)."""
    left = case.due_at - now
    staff_acts = case.state in (State.IN_MEDIATION, State.UNDER_APPEAL)
    if staff_acts and left <= HOUR:
        return [(Reminder.Kind.HOUR_BEFORE, 1)]  # the 24 h one is moot this late
    hours = policy_for(case.marketplace).reminder_hours_before
    if hours and left <= timedelta(hours=hours):
        return [(Reminder.Kind.DAY_BEFORE, hours)]
    return []


def deadline_reminders_due(*, now: datetime | None = None) -> list[tuple[Case, str, int]]:
    """Reminders that should go out now and have not: (case, kind, hours) — what the task would
    send, for the supervisor's view and for tests."""
    now = now or timezone.now()
    cases = (
        Case.objects.filter(state__in=WAITING_STATES, due_at__gt=now, due_at__lte=now + _horizon())
        .select_related("marketplace", "buyer__user", "seller", "mediator")
        .order_by("due_at", "pk")
    )
    due = []
    for case in cases:
        for kind, hours in _kinds_due(case, now):
            if not Reminder.objects.filter(case=case, due_at=case.due_at, kind=kind).exists():
                due.append((case, kind, hours))
    return due


def _deliver(*, reminder: Reminder, case: Case, users: list, hours: int) -> bool:
    try:
        from notifications.services import notify
    except ImportError:
        log.warning("notifications.services.notify is not available: reminder %s recorded only",
                    reminder.pk)
        return False
    try:
        notify(event="deadline_reminder", users=users, case=case,
               context={"due_at": case.due_at, "hours": hours, "kind": reminder.kind,
                        "state": case.state, "reference": case.reference})
    except Exception:
        log.exception("deadline reminder %s could not be delivered", reminder.pk)
        return False
    return True


def deadline_reminders_send(*, now: datetime | None = None) -> int:
    """Record and send each due reminder once; returns how many were recorded by this run.

    The Reminder row is the claim: its unique (case, due_at, kind) lets exactly one of two
    concurrent runs insert it, and only the inserting run notifies (after its commit)."""
    now = now or timezone.now()
    sent = 0
    for case, kind, hours in deadline_reminders_due(now=now):
        users = deadline_reminder_recipients(case)
        try:
            with transaction.atomic():
                reminder = Reminder.objects.create(
                    case=case, due_at=case.due_at, kind=kind, state=case.state,
                    recipients=[u.pk for u in users], created_at=now,
                )
                Case.objects.filter(pk=case.pk).update(reminded_at=now)
        except IntegrityError:
            continue  # another run recorded it first
        sent += 1
        if users and _deliver(reminder=reminder, case=case, users=users, hours=hours):
            Reminder.objects.filter(pk=reminder.pk).update(sent_at=timezone.now())
    return sent


# --- extensions ---------------------------------------------------------------------------------
_EXTENDABLE = (State.AWAITING_SELLER, State.AWAITING_BUYER, State.AWAITING_RETURN)


def _lock_visible(case_id: int, actor) -> Case:
    case = (Case.objects.select_for_update(of=("self",))
            .select_related("marketplace", "buyer", "seller").filter(pk=case_id).first())
    if case is None or not roles.can_view(actor, case):
        raise NotFound("Case not found")
    return case


def _party_of(actor, case: Case) -> str | None:
    if roles.is_case_buyer(actor, case):
        return "buyer"
    if roles.is_case_seller(actor, case):
        return "seller"
    return None


def deadline_extension_limit(case: Case) -> datetime | None:
    """The latest a seller's answer may be due: 7 working days from filing (Law 19/2023 art.
    57). None when the running deadline is not the seller's answer."""
    if case.state != State.AWAITING_SELLER:
        return None
    return add_working_days(case.filed_at, settings.ODR_MAX_SELLER_RESPONSE_WORKING_DAYS)


def deadline_extension_request(*, case_id: int, actor, days: int, reason: str,
                               now: datetime | None = None) -> DeadlineExtension:
    """The party the running deadline is against asks, once per case, for up to N more working
    days (policy `extension_max_working_days`). The deadline does not stop meanwhile: a request
    nobody grants in time cannot stall the case."""
    now = now or timezone.now()
    if not reason or not reason.strip():
        raise InvalidInput("Reason required", fields={"reason": ["Vui lòng nêu lý do xin gia hạn."]})
    with transaction.atomic():
        case = _lock_visible(case_id, actor)
        party = _party_of(actor, case)
        if party is None or case.state not in _EXTENDABLE or deadline_acting_party(case) != party:
            raise ActionNotAllowed("extension_request", [], case.state)
        if case.due_at is None or case.due_at <= now:
            raise Conflict("The deadline has already passed", code="deadline_passed")
        if case.extensions.filter(requester_role=party).exists():
            raise Conflict("You have already asked for more time on this case",
                           code="extension_already_requested")
        if case.extensions.filter(status=DeadlineExtension.Status.PENDING).exists():
            raise Conflict("A request for more time is already pending", code="extension_pending")
        most = policy_for(case.marketplace).extension_max_working_days
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= most:
            raise InvalidInput("Bad number of days", fields={
                "days": [f"Chỉ được xin thêm từ 1 đến {most} ngày làm việc."]})
        new_due = add_working_days(case.due_at, days)
        limit = deadline_extension_limit(case)
        if limit is not None and new_due > limit:
            raise InvalidInput("Beyond the legal limit", code="beyond_legal_limit", fields={
                "days": [f"Người bán phải trả lời trước {timezone.localtime(limit):%H:%M %d/%m/%Y} "
                         f"(7 ngày làm việc kể từ khi khiếu nại, Luật 19/2023 điều 57)."]})
        extension = DeadlineExtension.objects.create(
            case=case, requested_by=actor, requester_role=party, state=case.state, days=days,
            reason=reason.strip(), old_due_at=case.due_at, new_due_at=new_due, created_at=now,
        )
        timeline_record(case=case, actor=actor, action="extension_request", from_state=case.state,
                        reason=extension.reason,
                        data={"extension": extension.pk, "days": days,
                              "due_at": case.due_at.isoformat(), "new_due_at": new_due.isoformat()})
        return extension


def _may_decide(actor, case: Case, extension: DeadlineExtension) -> bool:
    if roles.is_case_mediator(actor, case) or roles.is_supervisor(actor):
        return True
    other = "seller" if extension.requester_role == "buyer" else "buyer"
    return _party_of(actor, case) == other and actor.pk != extension.requested_by_id


def deadline_extension_decide(*, case_id: int, actor, grant: bool, reason: str = "",
                              now: datetime | None = None) -> DeadlineExtension:
    """The other party, the assigned mediator or a supervisor grants (the deadline moves) or
    refuses the pending request. A request the case has outrun (new state, deadline moved or
    passed) lapses instead and the caller gets 409."""
    now = now or timezone.now()
    with transaction.atomic():
        case = _lock_visible(case_id, actor)
        extension = case.extensions.filter(status=DeadlineExtension.Status.PENDING).first()
        if extension is None:
            raise NotFound("No pending request for more time", code="no_pending_extension")
        if not _may_decide(actor, case, extension):
            raise ActionNotAllowed("extension_decide", [], case.state)
        outrun = (case.state != extension.state or case.due_at != extension.old_due_at
                  or case.due_at is None or case.due_at <= now)
        extension.decided_by, extension.decided_at = actor, now
        extension.decider_role = roles.role_in_case(actor, case) or ""
        extension.decision_reason = (reason or "").strip()
        if outrun:
            extension.status = DeadlineExtension.Status.LAPSED
            extension.save()
            timeline_record(case=case, actor=actor, action="extension_lapsed", from_state=case.state,
                            data={"extension": extension.pk})
        elif grant:
            extension.status = DeadlineExtension.Status.GRANTED
            extension.save()
            case.due_at, case.reminded_at = extension.new_due_at, None
            case.save(update_fields=["due_at", "reminded_at", "updated_at"])
            timeline_record(case=case, actor=actor, action="extension_grant", from_state=case.state,
                            reason=extension.decision_reason,
                            data={"extension": extension.pk, "days": extension.days,
                                  "due_at": extension.new_due_at.isoformat(),
                                  "previous_due_at": extension.old_due_at.isoformat()})
        else:
            extension.status = DeadlineExtension.Status.REFUSED
            extension.save()
            timeline_record(case=case, actor=actor, action="extension_refuse", from_state=case.state,
                            reason=extension.decision_reason, data={"extension": extension.pk})
    if outrun:
        raise Conflict("The case moved on; the request for more time has lapsed",
                       code="extension_lapsed")
    return extension
