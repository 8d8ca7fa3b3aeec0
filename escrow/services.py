"""Escrow: what the case workflow asks of the payment partner, and what the partner tells us.

Every write to escrow rows happens here. Lock order, everywhere: case → payment → instruction
(cases in id order, then payments in id order, then instructions in id order), so no two of
these services, nor one of them and a case transition, can deadlock each other:

- A transition locks its case (`FOR UPDATE`, cases.services.workflow `_lock`), then the payment
  (escrow_instruct). A service here that writes a timeline entry, a chargeback or anything else
  referencing the case takes a `KEY SHARE` lock on the case row (the foreign key's check), which
  waits for that `FOR UPDATE`: so it locks the case before the payment (`_lock_cases`), never
  after. Waiting for a transition then happens before it holds anything the transition needs.
- Escrow rows are locked `FOR NO KEY UPDATE` (no_key=True): no key changes, and the `KEY SHARE`
  that an insert referencing the row takes (a delivery attempt on its instruction, an
  instruction on its payment) neither waits for nor blocks such a lock.
- Locking only an instruction and then writing the timeline (a partner's rejection, a dead
  letter: no payment lock) cannot close a cycle either: its `KEY SHARE` on the case waits only
  for a `FOR UPDATE` of the case (a transition, an assignment, a deadline), and none of those
  waits for an instruction row.

The ledger rule: the refunds and releases of a payment's non-cancelled instructions never exceed
the payment's amount, and what a chargeback took back is never refunded (or released) again.
"""

import logging
from datetime import timedelta

from django.db import models, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from cases import roles
from cases.errors import Conflict, InvalidInput, NotFound
from cases.models import Case, Payment, State
from escrow import conf
from escrow.models import Chargeback, DeliveryAttempt, EscrowInstruction
from odr.inserts import insert

log = logging.getLogger(__name__)
SYSTEM = roles.SYSTEM
Status = EscrowInstruction.Status
Kind = EscrowInstruction.Kind
SETTLING = (Kind.REFUND, Kind.RELEASE)


def _timeline(*, case: Case, actor, action: str, reason: str = "", data: dict | None = None) -> None:
    from cases.services import timeline_record

    timeline_record(case=case, actor=actor, action=action, from_state=case.state,
                    reason=reason, data=data or {})


def _lock_cases(case_ids) -> None:
    """Lock order, first step: the cases, in id order, before any payment or instruction (see
    the module's docstring). `NO KEY UPDATE`: it waits for a transition on the case and holds
    one off, yet lets other writers insert rows referencing the case (timeline, chat)."""
    list(Case.objects.select_for_update(of=("self",), no_key=True)
         .filter(pk__in=case_ids).order_by("pk").values_list("pk", flat=True))


def _lock_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update(of=("self",), no_key=True).get(pk=payment_id)


def _lock_instructions():
    return EscrowInstruction.objects.select_for_update(of=("self",), no_key=True)


def _committed(payment_id: int) -> int:
    """Refunds and releases promised from this payment (every non-cancelled instruction)."""
    total = (
        EscrowInstruction.objects.filter(payment_id=payment_id, kind__in=SETTLING)
        .exclude(status=Status.CANCELLED).aggregate(s=Sum("amount"))["s"]
    )
    return total or 0


def _charged_back(payment_id: int) -> int:
    return Chargeback.objects.filter(payment_id=payment_id).aggregate(s=Sum("amount"))["s"] or 0


# --- outbox ---------------------------------------------------------------------------------
def escrow_instruct(*, case, kind: str, amount: int, reason: str = "",
                    deliver_on_commit: bool = True) -> EscrowInstruction | None:
    """Write an instruction to the outbox. Must run inside the transaction of the transition
    that needs it, so the two commit or fail together; delivery starts after commit and the
    periodic sweep picks up anything the enqueue lost.

    Refunds and releases lock the payment row and are refused (409 `escrow_overcommitted`,
    rolling the transition back) when they would promise more than was paid: two concurrent
    resolutions can never refund the same money twice. The part of a refund or release that a
    chargeback already took back is written as a cancelled instruction, with a timeline entry.

    deliver_on_commit=False: the caller hands the instruction to the case event of the same
    transaction (timeline_record(escrow=…)), whose dispatch starts the delivery."""
    if case.payment_id is None or amount <= 0:
        return None
    assert transaction.get_connection().in_atomic_block, "escrow_instruct needs a transaction"
    payment = case.payment
    if kind in SETTLING:
        payment = _lock_payment(case.payment_id)
        room = payment.amount - _committed(payment.pk)
        if amount > room:
            raise Conflict(
                f"Escrow instruction of {amount} ₫ exceeds the {max(room, 0)} ₫ left of the payment",
                code="escrow_overcommitted",
                extra={"available": max(room, 0), "requested": amount},
            )
        blocked = min(amount, max(0, amount - (room - _charged_back(payment.pk))))
        if blocked:
            _write(case=case, payment=payment, kind=kind, amount=blocked, status=Status.CANCELLED,
                   reason=f"chargeback: {reason}", error="blocked by chargeback")
            _timeline(case=case, actor=SYSTEM, action="escrow_blocked_by_chargeback",
                      reason="Khoản tiền đã bị đòi lại qua chargeback, không hoàn/giải ngân lần nữa.",
                      data={"kind": kind, "amount": blocked})
            amount -= blocked
            if amount <= 0:
                return None
    instruction = _write(case=case, payment=payment, kind=kind, amount=amount,
                         status=Status.PENDING, reason=reason)
    if deliver_on_commit and conf.enqueue_on_commit():
        transaction.on_commit(lambda: _enqueue(instruction.pk))
    return instruction


def carries_instructions(event) -> bool:
    """The events escrow's subscriber acts on (most carry none)."""
    return bool(event.escrow_ids)


def on_case_event(event) -> None:
    """Start delivering the instructions a case event carries (see escrow_instruct)."""
    if conf.enqueue_on_commit():
        for instruction_id in event.escrow_ids:
            _enqueue(instruction_id)


def _write(*, case, payment, kind: str, amount: int, status: str, reason: str,
           error: str = "") -> EscrowInstruction:
    now = timezone.now()
    return insert(EscrowInstruction(
        case=case, payment_id=payment.pk, partner_id=payment.partner_id, kind=kind, amount=amount,
        reason=reason[:200], status=status, created_at=now, next_attempt_at=now,
        give_up_at=now + timedelta(hours=conf.retry_window_hours()), last_error=error,
    ))


def _enqueue(instruction_id) -> None:
    """Best effort: a broker outage must not fail the request that already committed."""
    try:
        from escrow.tasks import escrow_deliver

        escrow_deliver.delay(str(instruction_id))
    except Exception:  # the sweep delivers it anyway
        log.warning("could not enqueue escrow instruction %s; the sweep will send it",
                    instruction_id, exc_info=True)


def escrow_outstanding(*, case) -> bool:
    """True while any instruction of the case is not yet confirmed or cancelled."""
    return case.escrow_instructions.exclude(
        status__in=[EscrowInstruction.Status.CONFIRMED, EscrowInstruction.Status.CANCELLED]
    ).exists()


# --- the partner's answers --------------------------------------------------------------------
def _apply_to_payment(payment: Payment, kind: str, amount: int) -> None:
    """Move the confirmed escrow position, as the partner's own ledger does."""
    if kind == Kind.HOLD:
        payment.held_amount += amount
        return
    taken = min(amount, payment.held_amount)
    payment.held_amount -= taken
    if kind == Kind.RELEASE:
        payment.released_amount += amount
    else:
        payment.refunded_amount += amount


def escrow_confirm(*, instruction_id, partner_reference: str = "", amount: int | None = None,
                   source: str = "sync", payment_id: int | None = None, case_id: int | None = None,
                   attempt: DeliveryAttempt | None = None) -> tuple[EscrowInstruction, bool]:
    """Apply the partner's confirmation of an instruction; returns (instruction, applied now).

    Idempotent: a second confirmation (duplicate callback, replayed 200, a confirmation racing
    a delivery worker) finds the row confirmed and changes nothing. The payment's escrow
    position moves under the payment lock, then a timeline entry `escrow_confirmed` tells both
    parties, and a resolved case whose money is all settled is closed. `payment_id` and
    `case_id` save a lookup when the caller knows both; `attempt` (unsaved) is stored in the
    same transaction. Locks case → payment → instruction."""
    with transaction.atomic():
        if attempt is not None:  # the delivery attempt that brought the confirmation
            attempt.save()
        if payment_id is None or case_id is None:
            head = (EscrowInstruction.objects.filter(pk=instruction_id)
                    .values("payment_id", "case_id").first())
            if head is None:
                raise NotFound("Unknown escrow instruction", code="unknown_instruction",
                               fields={"instruction_id": ["Không có lệnh ký quỹ này."]})
            payment_id, case_id = head["payment_id"], head["case_id"]
        _lock_cases([case_id])
        payment = _lock_payment(payment_id)
        instruction = _lock_instructions().select_related("case").get(pk=instruction_id)
        if amount is not None and amount != instruction.amount:
            raise InvalidInput("Confirmed amount differs from the instruction", code="amount_mismatch",
                               fields={"amount": [f"Lệnh là {instruction.amount} ₫."]})
        applied = _confirm_locked(payment, instruction, partner_reference, source, timezone.now())
        if applied:
            payment.save(update_fields=PAYMENT_POSITION)
            instruction.save(update_fields=CONFIRMED_FIELDS)
            _wake_next([payment.pk])
    return instruction, applied


PAYMENT_POSITION = ["held_amount", "released_amount", "refunded_amount"]
CONFIRMED_FIELDS = ["status", "confirmed_at", "partner_reference", "lease_until", "lease_token",
                    "last_error", "updated_at"]


def escrow_confirm_many(*, confirmations: list[tuple[str, str]], source: str = "sync") -> list[bool]:
    """`escrow_confirm` for several (instruction id, partner reference) at once, inside the
    caller's transaction: the delivery worker records a batch of 200s with a handful of
    queries instead of seven each. Same rules and the same entries, one by one; the cases are
    locked in id order, then the payments, then the instructions (lock order case → payment →
    instruction). Returns, per confirmation, whether it was applied now."""
    assert transaction.get_connection().in_atomic_block, "escrow_confirm_many needs a transaction"
    ids = [instruction_id for instruction_id, _ in confirmations]
    _lock_cases(EscrowInstruction.objects.filter(pk__in=ids).values("case_id"))
    payments = {p.pk: p for p in Payment.objects.select_for_update(of=("self",), no_key=True).filter(
        pk__in=EscrowInstruction.objects.filter(pk__in=ids).values("payment_id")).order_by("pk")}
    locked = {str(i.pk): i for i in _lock_instructions()
              .select_related("case").filter(pk__in=ids).order_by("pk")}
    rows = [locked[str(instruction_id)] for instruction_id in ids]
    now = timezone.now()
    applied = [_confirm_locked(payments[row.payment_id], row, reference, source, now)
               for row, (_, reference) in zip(rows, confirmations, strict=True)]
    confirmed = [row for row, applied_now in zip(rows, applied, strict=True) if applied_now]
    if confirmed:
        moved = [payments[pk] for pk in sorted({row.payment_id for row in confirmed})]
        kinds = {row.kind for row in confirmed}
        rows_update(moved, [name for name, kind in POSITION_FIELDS if kind in kinds])
        same = {name: getattr(confirmed[0], name) for name in CONFIRMED_FIELDS}
        del same["partner_reference"]  # the only field that differs from row to row
        rows_update(confirmed, ["partner_reference"], **same)
        _wake_next([payment.pk for payment in moved])
    return applied


# The payment columns an instruction of each kind moves.
POSITION_FIELDS = [("held_amount", kind) for kind in Kind] + [
    ("released_amount", Kind.RELEASE), ("refunded_amount", Kind.REFUND)]


def rows_update(rows: list, varying: list[str], **same) -> None:
    """One UPDATE for several rows of one model: `same` for all of them and, for each field in
    `varying` (deduplicated), each row's own value through a CASE on the pk. Cheaper than
    `bulk_update`, whose CASE for every field of every row cost more CPU than the rest of
    recording a batch."""
    if not rows:
        return
    meta, cast = rows[0]._meta, transaction.get_connection().features.requires_casted_case_in_updates
    for name in dict.fromkeys(varying):
        field = meta.get_field(name)
        case = models.Case(*[models.When(pk=row.pk, then=models.Value(getattr(row, field.attname),
                                                                      output_field=field))
                             for row in rows], output_field=field)
        same[field.attname] = Cast(case, output_field=field) if cast else case
    type(rows[0]).objects.filter(pk__in=[row.pk for row in rows]).update(**same)


def _confirm_locked(payment: Payment, instruction: EscrowInstruction, partner_reference: str,
                    source: str, now) -> bool:
    """The confirmation itself, both rows locked by the caller; saving them is the caller's
    (one row, or a batch). False when there is nothing to apply."""
    if instruction.status == Status.CONFIRMED:
        return False
    if instruction.status == Status.CANCELLED:
        # Money moved at the partner for an instruction we gave up on: a human must look.
        log.error("partner confirmed cancelled escrow instruction %s", instruction.pk)
        _timeline(case=instruction.case, actor=SYSTEM, action="escrow_confirmed_after_cancel",
                  reason="Đối tác xác nhận một lệnh đã hủy: cần giám sát viên đối soát.",
                  data={"instruction": str(instruction.pk), "kind": instruction.kind,
                        "amount": instruction.amount})
        return False
    _apply_to_payment(payment, instruction.kind, instruction.amount)
    instruction.status = Status.CONFIRMED
    instruction.confirmed_at = now
    instruction.updated_at = now  # a bulk update does not run auto_now
    instruction.partner_reference = (partner_reference or instruction.partner_reference)[:100]
    instruction.lease_until, instruction.lease_token, instruction.last_error = None, "", ""
    _timeline(case=instruction.case, actor=SYSTEM, action="escrow_confirmed",
              data={"kind": instruction.kind, "amount": instruction.amount,
                    "instruction": str(instruction.pk),
                    "partner_reference": instruction.partner_reference, "source": source})
    _close_after_commit(instruction)
    return True


def _wake_next(payment_ids: list[int]) -> None:
    """The payments' next instructions were waiting for these: enqueue them after commit
    instead of leaving them to the sweep (a duplicate enqueue finds the row claimed, harmlessly)."""
    if not conf.enqueue_on_commit():
        return
    first: dict[int, object] = {}
    for pk, payment_id in (EscrowInstruction.objects
                           .filter(payment_id__in=payment_ids, status=Status.PENDING)
                           .order_by("created_at").values_list("pk", "payment_id")):
        first.setdefault(payment_id, pk)
    for pk in first.values():
        transaction.on_commit(lambda pk=pk: _enqueue(pk))


def _close_after_commit(instruction: EscrowInstruction) -> None:
    """Close a resolved case once its money is settled, after the outermost commit: the closing
    transition runs in a transaction of its own, once this one has released its locks."""
    if instruction.case.state != State.RESOLVED:
        return
    from cases.services import case_close_if_settled

    case_id = instruction.case_id
    transaction.on_commit(lambda: case_close_if_settled(case_id=case_id), robust=True)


def escrow_dead_letter(*, instruction: EscrowInstruction, error: str) -> None:
    """Give up on an instruction (a 4xx, the retry window spent, a partner's rejection): a
    supervisor retries or cancels it. Caller holds the row lock in its transaction."""
    instruction.status = Status.DEAD
    instruction.last_error = error[:2000]
    instruction.lease_until, instruction.lease_token = None, ""
    instruction.save()
    _timeline(case=instruction.case, actor=SYSTEM, action="escrow_dead_letter",
              reason=error[:500],
              data={"instruction": str(instruction.pk), "kind": instruction.kind,
                    "amount": instruction.amount})


def escrow_reject(*, instruction_id, error: str) -> EscrowInstruction:
    """The partner says (by signed callback) it will not carry out the instruction."""
    with transaction.atomic():
        instruction = _lock_instructions().select_related("case").filter(pk=instruction_id).first()
        if instruction is None:
            raise NotFound("Unknown escrow instruction", code="unknown_instruction",
                           fields={"instruction_id": ["Không có lệnh ký quỹ này."]})
        if instruction.status in EscrowInstruction.IN_FLIGHT:
            escrow_dead_letter(instruction=instruction, error=f"rejected by partner: {error}")
        return instruction


# --- supervisors --------------------------------------------------------------------------------
def _supervised(instruction_id, actor) -> tuple[Payment, EscrowInstruction]:
    if not roles.is_supervisor(actor):
        raise NotFound("Unknown escrow instruction")
    head = EscrowInstruction.objects.filter(pk=instruction_id).values("payment_id", "case_id").first()
    if head is None:
        raise NotFound("Unknown escrow instruction")
    _lock_cases([head["case_id"]])
    payment = _lock_payment(head["payment_id"])
    instruction = _lock_instructions().select_related("case").get(pk=instruction_id)
    return payment, instruction


def _need_reason(reason: str) -> None:
    if not reason.strip():
        raise InvalidInput("Reason required", fields={"reason": ["Vui lòng nêu lý do."]})


def escrow_retry(*, instruction_id, actor, reason: str) -> EscrowInstruction:
    """A supervisor sends a dead-lettered instruction again, with a fresh retry window. The
    Idempotency-Key is unchanged, so a partner that did apply it answers with its stored reply."""
    _need_reason(reason)
    with transaction.atomic():
        payment, instruction = _supervised(instruction_id, actor)
        if instruction.status != Status.DEAD:
            raise Conflict("Only a dead-lettered instruction can be retried", code="not_dead_lettered",
                           extra={"status": instruction.status})
        if instruction.kind in SETTLING:
            room = payment.amount - _charged_back(payment.pk) - _committed(payment.pk) + instruction.amount
            if instruction.amount > room:
                raise Conflict("A chargeback took this money back; cancel the instruction instead",
                               code="escrow_overcommitted", extra={"available": max(room, 0)})
        now = timezone.now()
        instruction.status = Status.PENDING
        instruction.next_attempt_at = now
        instruction.give_up_at = now + timedelta(hours=conf.retry_window_hours())
        instruction.lease_until, instruction.lease_token = None, ""
        instruction.save()
        _timeline(case=instruction.case, actor=actor, action="escrow_retry", reason=reason,
                  data={"instruction": str(instruction.pk), "kind": instruction.kind,
                        "amount": instruction.amount})
    if conf.enqueue_on_commit():
        _enqueue(instruction.pk)
    return instruction


def escrow_cancel(*, instruction_id, actor, reason: str) -> EscrowInstruction:
    """A supervisor gives up on a dead-lettered instruction (settled outside odr, or no longer
    owed); the money it promised is free again and the case may close."""
    _need_reason(reason)
    with transaction.atomic():
        _, instruction = _supervised(instruction_id, actor)
        if instruction.status != Status.DEAD:
            raise Conflict("Only a dead-lettered instruction can be cancelled",
                           code="not_dead_lettered", extra={"status": instruction.status})
        instruction.status = Status.CANCELLED
        instruction.save()
        _timeline(case=instruction.case, actor=actor, action="escrow_cancel", reason=reason,
                  data={"instruction": str(instruction.pk), "kind": instruction.kind,
                        "amount": instruction.amount})
        _close_after_commit(instruction)
    return instruction


# --- chargebacks ------------------------------------------------------------------------------
def chargeback_record(*, partner, external_id: str, payment: Payment, amount: int,
                      opened_at, reason: str = "") -> tuple[Chargeback, bool]:
    """Record a chargeback once (by partner and id). With an open case on the payment's order
    it joins the case's timeline; refunds and releases not yet sent that the remaining money
    cannot cover are cancelled, each with a timeline entry. Returns (chargeback, created)."""
    if amount <= 0 or amount > payment.amount:
        raise InvalidInput("Bad chargeback amount",
                           fields={"amount": [f"Phải từ 1 đến {payment.amount} ₫."]})
    with transaction.atomic():
        # Lock order: the open case of the order (at most one) before the payment.
        case = (Case.objects.select_for_update(of=("self",), no_key=True)
                .filter(order_id=payment.order_id).exclude(state=State.CLOSED)
                .order_by("-filed_at").first())
        payment = _lock_payment(payment.pk)
        existing = Chargeback.objects.filter(partner=partner, external_id=external_id).first()
        if existing is not None:
            return existing, False
        chargeback = Chargeback.objects.create(
            partner=partner, external_id=external_id, payment=payment, case=case, amount=amount,
            reason=reason[:200], opened_at=opened_at,
        )
        if case is not None:
            _timeline(case=case, actor=SYSTEM, action="chargeback_opened", reason=reason[:500],
                      data={"chargeback": external_id, "amount": amount})
        _cancel_uncovered(payment)
    return chargeback, True


def _cancel_uncovered(payment: Payment) -> None:
    """Cancel unsent (or dead-lettered) refunds and releases, newest first, until what remains
    promised fits in the payment minus its chargebacks. An instruction already sent may have
    been applied by the partner, so it is never cancelled here: the partner's own ledger
    refuses it if the money is gone."""
    excess = _committed(payment.pk) + _charged_back(payment.pk) - payment.amount
    if excess <= 0:
        return
    candidates = (
        _lock_instructions().select_related("case")
        .filter(payment=payment, kind__in=SETTLING)
        .filter(Q(status=Status.DEAD) | Q(status=Status.PENDING, attempts=0))
    )
    now = timezone.now()
    for instruction in candidates.order_by("-created_at"):
        if excess <= 0:
            break
        if instruction.status == Status.PENDING and instruction.lease_until and instruction.lease_until > now:
            continue  # a worker is sending it right now
        instruction.status = Status.CANCELLED
        instruction.last_error = "cancelled: chargeback"
        instruction.save()
        excess -= instruction.amount
        _timeline(case=instruction.case, actor=SYSTEM, action="escrow_cancelled_by_chargeback",
                  reason="Khoản tiền đã bị đòi lại qua chargeback: hủy lệnh chưa gửi.",
                  data={"instruction": str(instruction.pk), "kind": instruction.kind,
                        "amount": instruction.amount})
