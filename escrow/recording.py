"""Recording what a partner answered: a DeliveryAttempt row, then confirm / wait for the
callback / back off / dead-letter (README.md, "Escrow", §3.3).

The worker records the answers that finished together as one batch: one transaction, one
commit and a handful of queries for the lot, on the thread that claims (measured: recording one
by one cost ~6 ms of worker CPU and seven queries per instruction, the largest share of the
delivery's cost). Every row is still decided one by one, under the same locks and rules as a
single record; if anything in a batch fails, each answer is recorded on its own so that one bad
row loses no other (a row that still fails keeps its lease and is sent again when it expires)."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from escrow import conf
from escrow.models import DeliveryAttempt, EscrowInstruction
from escrow.services import escrow_confirm, escrow_confirm_many, escrow_dead_letter, rows_update

if TYPE_CHECKING:
    from escrow.delivery import Outgoing, Result

log = logging.getLogger(__name__)
Outcome = DeliveryAttempt.Outcome
RETRYABLE_4XX = {408, 425, 429}
SETTLED_FIELDS = ["status", "next_attempt_at", "last_error", "lease_until", "lease_token",
                  "updated_at"]


def classify(outgoing: Outgoing, result: Result) -> tuple[str, str]:
    """(outcome, error) for one response: what the partner's answer means for the row."""
    code, body = result.status_code, result.payload or {}
    if code is None:
        return Outcome.RETRY, result.error
    if 200 <= code < 300:
        if body.get("id") not in (None, outgoing.instruction_id):
            return Outcome.RETRY, "response names another instruction"
        if code != 202 and body.get("status") == "confirmed":
            if body.get("amount") not in (None, outgoing.amount):
                return Outcome.DEAD, (
                    f"partner confirmed {body.get('amount')} đồng, instructed {outgoing.amount}")
            return Outcome.CONFIRMED, ""
        if code == 202 or body.get("status") == "accepted":
            return Outcome.ACCEPTED, ""
        return Outcome.RETRY, f"unexpected {code} response: {result.text[:200]}"
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    detail = f"HTTP {code} {error.get('code', '')}: {error.get('message', result.text[:200])}".strip()
    if 300 <= code < 400:
        return Outcome.DEAD, f"HTTP {code}: redirect refused"
    if code in RETRYABLE_4XX or code >= 500:
        return Outcome.RETRY, detail
    return Outcome.DEAD, detail


def backoff_seconds(attempt: int) -> float:
    """Capped exponential backoff with full jitter (uniform in [0, min(cap, base·2^(n-1))])."""
    ceiling = min(conf.backoff_cap_seconds(), conf.backoff_base_seconds() * 2 ** max(attempt - 1, 0))
    return random.uniform(0, ceiling)


def attempt_record(*, outgoing: Outgoing, result: Result) -> str:
    """Record one attempt and act on it, in one transaction; returns the outcome."""
    outcome, error = classify(outgoing, result)
    attempt = _attempt(outgoing, result, outcome, error)
    if outcome == Outcome.CONFIRMED:
        # One transaction: the attempt, the payment's position, the instruction, the timeline
        # (the case closes after commit).
        escrow_confirm(instruction_id=outgoing.instruction_id, payment_id=outgoing.payment_id,
                       case_id=outgoing.case_id, source="sync", attempt=attempt,
                       partner_reference=_reference(result))
        return outcome
    with transaction.atomic():
        attempt.save()
        row = (EscrowInstruction.objects.select_for_update(of=("self",), no_key=True)
               .get(pk=outgoing.instruction_id))
        if _settle(row, outgoing, outcome, error):
            row.save(update_fields=SETTLED_FIELDS)
    return outcome


def attempts_record(done: list[tuple[Outgoing, Result]]) -> list[str]:
    """Record several finished sends at once; returns their outcomes, in order. Never raises:
    an answer that cannot be recorded counts as "error" and its row is sent again later."""
    if len(done) > 1:
        try:
            with transaction.atomic():
                return _record_batch(done)
        except Exception:
            log.warning("recording %d delivery attempts together failed; one by one now",
                        len(done), exc_info=True)
    return [_record_safely(outgoing, result) for outgoing, result in done]


def _record_safely(outgoing: Outgoing, result: Result) -> str:
    try:
        return attempt_record(outgoing=outgoing, result=result)
    except Exception:
        log.exception("recording delivery of %s failed", outgoing.instruction_id)
        return "error"


def _record_batch(done: list[tuple[Outgoing, Result]]) -> list[str]:
    """Caller holds the transaction. Cases, then payments, then instructions are locked in id
    order (escrow.services), so two workers' batches never wait on each other in a cycle, nor
    on a case transition."""
    decided = [(outgoing, result, *classify(outgoing, result)) for outgoing, result in done]
    DeliveryAttempt.objects.bulk_create([_attempt(*row) for row in decided])
    confirmations = [(o.instruction_id, _reference(r)) for o, r, outcome, _ in decided
                     if outcome == Outcome.CONFIRMED]
    if confirmations:
        escrow_confirm_many(confirmations=confirmations, source="sync")
    others = [(o, outcome, error) for o, _, outcome, error in decided if outcome != Outcome.CONFIRMED]
    if others:
        rows = {str(row.pk): row for row in EscrowInstruction.objects
                .select_for_update(of=("self",), no_key=True)
                .filter(pk__in=[o.instruction_id for o, _, _ in others]).order_by("pk")}
        changed = [rows[o.instruction_id] for o, outcome, error in others
                   if _settle(rows[o.instruction_id], o, outcome, error)]
        rows_update(changed, ["status", "next_attempt_at", "last_error"], lease_until=None,
                    lease_token="", updated_at=timezone.now())
    return [outcome for _, _, outcome, _ in decided]


def _settle(row: EscrowInstruction, outgoing: Outgoing, outcome: str, error: str) -> bool:
    """Act on a non-confirming answer, row locked by the caller. True when the caller must save
    the row (a dead letter saves itself)."""
    if row.status not in EscrowInstruction.IN_FLIGHT or row.lease_token != outgoing.lease_token:
        return False  # confirmed by a callback meanwhile, or the lease passed to another worker
    now = timezone.now()
    give_up_at = row.give_up_at or row.created_at + timedelta(hours=conf.retry_window_hours())
    if outcome == Outcome.DEAD:
        escrow_dead_letter(instruction=row, error=error)
        return False
    if now >= give_up_at:
        last = error or "no confirmation from the partner"
        escrow_dead_letter(instruction=row, error=f"retry window spent; last: {last}")
        return False
    if outcome == Outcome.ACCEPTED:
        row.status = EscrowInstruction.Status.ACCEPTED
        delay = conf.accepted_recheck_seconds()
    else:
        delay = backoff_seconds(row.attempts)
    row.next_attempt_at = min(now + timedelta(seconds=delay), give_up_at)
    row.last_error = error[:2000]
    row.lease_until, row.lease_token = None, ""
    return True


def _attempt(outgoing: Outgoing, result: Result, outcome: str, error: str) -> DeliveryAttempt:
    return DeliveryAttempt(
        instruction_id=outgoing.instruction_id, number=outgoing.attempt,
        started_at=result.started_at, status_code=result.status_code,
        latency_ms=result.latency_ms, outcome=outcome, error=error[:2000],
        response_excerpt=result.text[:500],
    )


def _reference(result: Result) -> str:
    return str((result.payload or {}).get("partner_reference", ""))
