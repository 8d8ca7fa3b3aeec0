"""Shared helpers of the escrow and partner tests: a real partner simulator on loopback, signed
requests, and delivery settings compressed so retries take milliseconds."""

import json
import time

from django.utils import timezone

from escrow.delivery import deliver_due
from escrow.models import EscrowInstruction
from partners import signing
from partners.models import Partner

SECRET = "whsec_test_1"  # the factories' secret for every partner
EVENTS_URL = "/api/v1/partners/{code}/events/"


def point_at(simulator, code: str = "momo") -> Partner:
    """The payment partner `code` now receives its instructions at the simulator."""
    Partner.objects.filter(code=code).update(base_url=simulator.url)
    return Partner.objects.get(code=code)


def deliver_all(*, timeout_s: float = 30, concurrency: int = 8) -> int:
    """Run delivery rounds until nothing is pending or accepted (or time runs out)."""
    deadline = time.monotonic() + timeout_s
    rounds = 0
    while time.monotonic() < deadline:
        rounds += 1
        deliver_due(limit=10_000, concurrency=concurrency)
        if not EscrowInstruction.objects.filter(status__in=EscrowInstruction.IN_FLIGHT).exists():
            return rounds
        time.sleep(0.01)
    raise AssertionError("instructions still in flight after the deadline")


def signed_post(client, code: str, message, *, secret: str = SECRET, now: float | None = None,
                raw: bytes | None = None, headers: dict | None = None):
    body = raw if raw is not None else json.dumps(message, ensure_ascii=False).encode()
    hdrs = headers if headers is not None else signing.signed_headers(
        secrets=[secret], body=body, now=now)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in hdrs.items()}
    return client.post(EVENTS_URL.format(code=code), data=body, content_type="application/json",
                       **extra)


def iso(dt=None) -> str:
    return (dt or timezone.now()).isoformat()
