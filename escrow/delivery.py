"""Delivery of escrow instructions to payment partners: claim, send, record.

    claim   (DB)   a row due now, not leased, with no earlier unsettled row on its payment,
                   gets a lease (lease_until, lease_token) and one more attempt counted
    send    (HTTP) signed JSON POST to the partner, Idempotency-Key = instruction id,
                   explicit timeouts, no redirects; never touches the database
    record  (DB)   a DeliveryAttempt row, then confirm / wait for callback / back off / dead

Two workers never send one row at the same time: the claim is a conditional update under
`SELECT … FOR UPDATE SKIP LOCKED`, and a worker that dies leaves a lease that expires, after
which the sweep sends the row again. A resend carries the same Idempotency-Key and body, so the
partner answers it with its stored reply and money moves once; applying a confirmation twice
changes nothing either (escrow.services.escrow_confirm).

Only the claim and record steps touch the database, on the calling thread; HTTP runs on a
small thread pool. `deliver_due()` is what the Celery sweep, the `escrow_deliver` management
command and the tests call.
"""

from __future__ import annotations

import json
import logging
import random
import secrets as pysecrets
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from escrow import conf
from escrow.models import DeliveryAttempt, EscrowInstruction
from escrow.services import escrow_confirm, escrow_dead_letter
from partners import signing

log = logging.getLogger(__name__)
Status = EscrowInstruction.Status
INSTRUCTION_PATH = "/escrow/instructions"
RETRYABLE_4XX = {408, 425, 429}
USER_AGENT = "odr-escrow/1"


@dataclass(frozen=True)
class Outgoing:
    """One claimed send: plain data, safe to hand to another thread."""

    instruction_id: str
    payment_id: int
    amount: int
    attempt: int
    lease_token: str
    url: str
    body: bytes
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    started_at: datetime
    latency_ms: int
    status_code: int | None = None
    payload: dict | None = None
    text: str = ""
    error: str = ""


def instruction_body(instruction: EscrowInstruction) -> bytes:
    """The wire body (README.md, "Payment-partner protocol"). Built only from the row, so every resend is
    byte-for-byte the same request the partner may already have answered."""
    payment, case = instruction.payment, instruction.case
    callback = conf.callback_base_url() + reverse(
        "api:partner-events", kwargs={"code": instruction.partner.code})
    return json.dumps({
        "id": str(instruction.pk),
        "type": instruction.kind,
        "amount": instruction.amount,
        "currency": payment.currency,
        "payment": {"reference": payment.external_id, "amount": payment.amount},
        "case": case.reference,
        "reason": instruction.reason,
        "created_at": instruction.created_at.isoformat(),
        "callback_url": callback,
    }, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


# --- claim ------------------------------------------------------------------------------------
def _claimable(now: datetime):
    """Due, unleased rows that are the oldest unsettled instruction of their payment (so a
    refund never overtakes its hold). The per-payment check is a correlated subquery on the
    (payment, created_at) index: it stays cheap even before the planner has statistics for a
    burst of new rows, which an anti-join does not (measured: 434 ms vs a few ms at 1,000 rows)."""
    first_unsettled = (
        EscrowInstruction.objects
        .filter(payment_id=OuterRef("payment_id"), status__in=EscrowInstruction.IN_FLIGHT)
        .order_by("created_at").values("created_at")[:1]
    )
    return (
        EscrowInstruction.objects
        .filter(status__in=EscrowInstruction.IN_FLIGHT, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(created_at__lte=Subquery(first_unsettled))
    )


def instructions_claim(*, limit: int, instruction_id=None, payment_id=None) -> list[Outgoing]:
    """Lease up to `limit` due instructions to this worker (oldest due first). On PostgreSQL,
    rows another worker is claiming are skipped, not waited for; on SQLite the IMMEDIATE
    transaction serialises claims."""
    if limit <= 0:
        return []
    now = timezone.now()
    token = pysecrets.token_hex(8)
    with transaction.atomic():
        qs = _claimable(now)
        if instruction_id is not None:
            qs = qs.filter(pk=instruction_id)
        if payment_id is not None:
            qs = qs.filter(payment_id=payment_id)
        ids = list(
            qs.select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        EscrowInstruction.objects.filter(pk__in=ids).update(
            lease_until=now + timedelta(seconds=conf.lease_seconds()), lease_token=token,
            attempts=F("attempts") + 1,
        )
        rows = list(EscrowInstruction.objects.filter(pk__in=ids)
                    .select_related("payment", "case", "partner").order_by("next_attempt_at"))
    return [
        Outgoing(
            instruction_id=str(row.pk), payment_id=row.payment_id, amount=row.amount,
            attempt=row.attempts,
            lease_token=token,
            url=row.partner.base_url.rstrip("/") + INSTRUCTION_PATH if row.partner.base_url else "",
            body=instruction_body(row), secrets=tuple(s for s in row.partner.signing_secrets if s),
        )
        for row in rows
    ]


# --- send -------------------------------------------------------------------------------------
def http_client(max_connections: int = 10) -> httpx.Client:
    """Explicit connect/read timeouts, no redirects (a 3xx is a misconfiguration, never a
    reason to send money instructions elsewhere)."""
    timeout = httpx.Timeout(connect=conf.connect_timeout_seconds(), read=conf.read_timeout_seconds(),
                            write=conf.read_timeout_seconds(), pool=conf.connect_timeout_seconds())
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                        limits=httpx.Limits(max_connections=max_connections,
                                            max_keepalive_connections=max_connections))


def instruction_send(outgoing: Outgoing, *, client: httpx.Client) -> Result:
    """POST one instruction; never raises, never touches the database."""
    started, t0 = timezone.now(), time.monotonic()

    def done(**kw) -> Result:
        return Result(started_at=started, latency_ms=int((time.monotonic() - t0) * 1000), **kw)

    if not outgoing.url or not outgoing.secrets:
        return done(error="partner_not_configured: base_url and a signing secret are required")
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": outgoing.instruction_id,
        "User-Agent": USER_AGENT,
        # Signed with the newest secret only: the partner rotates on its side first.
        **signing.signed_headers(secrets=[outgoing.secrets[0]], body=outgoing.body),
    }
    try:
        response = client.post(outgoing.url, content=outgoing.body, headers=headers)
    except httpx.TimeoutException as exc:
        return done(error=f"timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return done(error=f"connection: {type(exc).__name__}: {exc}"[:500])
    text = response.text[:500]
    try:
        payload = response.json()
    except ValueError:
        payload = None
    return done(status_code=response.status_code, payload=payload if isinstance(payload, dict) else None,
                text=text)


# --- record -----------------------------------------------------------------------------------
def _classify(outgoing: Outgoing, result: Result) -> tuple[str, str]:
    """(outcome, error) for one response: what the partner's answer means for the row."""
    code, body = result.status_code, result.payload or {}
    if code is None:
        return DeliveryAttempt.Outcome.RETRY, result.error
    if 200 <= code < 300:
        if body.get("id") not in (None, outgoing.instruction_id):
            return DeliveryAttempt.Outcome.RETRY, "response names another instruction"
        if code != 202 and body.get("status") == "confirmed":
            if body.get("amount") not in (None, outgoing.amount):
                return DeliveryAttempt.Outcome.DEAD, (
                    f"partner confirmed {body.get('amount')} đồng, instructed {outgoing.amount}")
            return DeliveryAttempt.Outcome.CONFIRMED, ""
        if code == 202 or body.get("status") == "accepted":
            return DeliveryAttempt.Outcome.ACCEPTED, ""
        return DeliveryAttempt.Outcome.RETRY, f"unexpected {code} response: {result.text[:200]}"
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    detail = f"HTTP {code} {error.get('code', '')}: {error.get('message', result.text[:200])}".strip()
    if 300 <= code < 400:
        return DeliveryAttempt.Outcome.DEAD, f"HTTP {code}: redirect refused"
    if code in RETRYABLE_4XX or code >= 500:
        return DeliveryAttempt.Outcome.RETRY, detail
    return DeliveryAttempt.Outcome.DEAD, detail


def backoff_seconds(attempt: int) -> float:
    """Capped exponential backoff with full jitter (uniform in [0, min(cap, base·2^(n-1))])."""
    ceiling = min(conf.backoff_cap_seconds(), conf.backoff_base_seconds() * 2 ** max(attempt - 1, 0))
    return random.uniform(0, ceiling)


def attempt_record(*, outgoing: Outgoing, result: Result) -> str:
    """Record the attempt and act on it; returns the outcome."""
    outcome, error = _classify(outgoing, result)
    attempt = DeliveryAttempt(
        instruction_id=outgoing.instruction_id, number=outgoing.attempt,
        started_at=result.started_at, status_code=result.status_code,
        latency_ms=result.latency_ms, outcome=outcome, error=error[:2000],
        response_excerpt=result.text[:500],
    )
    if outcome == DeliveryAttempt.Outcome.CONFIRMED:
        # One transaction: the attempt, the payment's position, the instruction, the timeline
        # (the case closes after commit).
        escrow_confirm(instruction_id=outgoing.instruction_id, payment_id=outgoing.payment_id,
                       source="sync", attempt=attempt,
                       partner_reference=str((result.payload or {}).get("partner_reference", "")))
        return outcome
    with transaction.atomic():
        attempt.save()
        _settle_attempt(outgoing, outcome, error)
    return outcome


def _settle_attempt(outgoing: Outgoing, outcome: str, error: str) -> None:
    row = (EscrowInstruction.objects.select_for_update(of=("self",)).select_related("case")
           .get(pk=outgoing.instruction_id))
    if row.status not in EscrowInstruction.IN_FLIGHT or row.lease_token != outgoing.lease_token:
        return  # confirmed by a callback meanwhile, or the lease passed to another worker
    now = timezone.now()
    give_up_at = row.give_up_at or row.created_at + timedelta(hours=conf.retry_window_hours())
    if outcome == DeliveryAttempt.Outcome.DEAD:
        escrow_dead_letter(instruction=row, error=error)
        return
    if now >= give_up_at:
        last = error or "no confirmation from the partner"
        escrow_dead_letter(instruction=row, error=f"retry window spent; last: {last}")
        return
    if outcome == DeliveryAttempt.Outcome.ACCEPTED:
        row.status = Status.ACCEPTED
        delay = conf.accepted_recheck_seconds()
    else:
        delay = backoff_seconds(row.attempts)
    row.next_attempt_at = min(now + timedelta(seconds=delay), give_up_at)
    row.last_error = error[:2000]
    row.lease_until, row.lease_token = None, ""
    row.save()


# --- loops ------------------------------------------------------------------------------------
def deliver_due(*, limit: int | None = None, concurrency: int | None = None,
                payment_id=None) -> Counter:
    """Send due instructions with up to `concurrency` requests in flight, claiming a row only
    when a slot is free (so a lease never waits behind a queue), until `limit` rows were sent or
    nothing is due. Returns the outcomes counted."""
    limit = conf.sweep_batch() if limit is None else limit
    concurrency = concurrency or conf.delivery_concurrency()
    outcomes: Counter = Counter()
    claimed, exhausted = 0, False
    with http_client(concurrency) as client, ThreadPoolExecutor(concurrency) as pool:
        inflight: dict = {}
        while True:
            free = min(concurrency - len(inflight), limit - claimed)
            if free > 0 and not exhausted:
                batch = instructions_claim(limit=free, payment_id=payment_id)
                exhausted = not batch
                claimed += len(batch)
                for outgoing in batch:
                    inflight[pool.submit(instruction_send, outgoing, client=client)] = outgoing
            if not inflight:
                break
            finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
            for future in finished:
                outcomes[_record_safely(inflight.pop(future), future.result())] += 1
            exhausted = False
    return outcomes


def _record_safely(outgoing: Outgoing, result: Result) -> str:
    """A failure to record must not lose the other results: the lease expires and the row is
    sent again, which the partner answers from its idempotency store."""
    try:
        return attempt_record(outgoing=outgoing, result=result)
    except Exception:
        log.exception("recording delivery of %s failed", outgoing.instruction_id)
        return "error"


_client: httpx.Client | None = None


def deliver_instruction(*, instruction_id: str) -> str | None:
    """Send one instruction now if it is due and free (the Celery task after commit), then
    the rows of the same payment it was holding back. None when there was nothing to send."""
    global _client
    batch = instructions_claim(limit=1, instruction_id=instruction_id)
    if not batch:
        return None
    if _client is None:
        _client = http_client()
    outcome = attempt_record(outgoing=batch[0], result=instruction_send(batch[0], client=_client))
    if outcome == DeliveryAttempt.Outcome.CONFIRMED:
        payment_id = EscrowInstruction.objects.filter(pk=instruction_id).values_list(
            "payment_id", flat=True).first()
        deliver_due(limit=10, concurrency=1, payment_id=payment_id)
    return outcome


def cases_close_settled(*, limit: int = 100) -> int:
    """Backstop for a worker that died between a confirmation and closing its case: resolved
    cases whose instructions are all confirmed or cancelled are closed."""
    from cases.models import Case, State
    from cases.services import case_close_if_settled

    outstanding = EscrowInstruction.objects.filter(
        case_id=OuterRef("pk")).exclude(status__in=[Status.CONFIRMED, Status.CANCELLED])
    any_instruction = EscrowInstruction.objects.filter(case_id=OuterRef("pk"))
    ids = list(Case.objects.filter(state=State.RESOLVED).filter(Exists(any_instruction))
               .exclude(Exists(outstanding)).values_list("pk", flat=True)[:limit])
    closed = 0
    for case_id in ids:
        if case_close_if_settled(case_id=case_id) is not None:
            closed += 1
    return closed


def escrow_sweep() -> dict:
    """The periodic sweep: everything due (new rows a lost enqueue left, backoffs, expired
    leases of dead workers, accepted rows to re-check), then settled cases to close."""
    outcomes = deliver_due()
    return {"outcomes": dict(outcomes), "closed": cases_close_settled()}
