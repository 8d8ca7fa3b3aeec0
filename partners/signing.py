"""HMAC signatures for traffic between odr and its payment partners.

One scheme serves both directions: odr signs the escrow instructions it sends, and partners sign
the confirmations they call back with. Each side holds a shared secret per partner.

    signed bytes   = f"{timestamp}.".encode() + raw_body
    signature      = hex(HMAC-SHA256(secret, signed bytes))
    X-Odr-Timestamp: 1700000000
    X-Odr-Signature: v1=<hex>[,v1=<hex>...]

Why this shape:
- The timestamp is inside the signed bytes, so an eavesdropper cannot replay an old body with a
  fresh timestamp; requests older (or newer) than ``TOLERANCE_SECONDS`` are refused.
- The raw bytes are signed, never a re-serialisation of parsed JSON, so both sides agree on what
  was signed whatever their JSON libraries do with key order or whitespace.
- Several ``v1=`` values let a sender sign with every active secret while a secret is rotated;
  the receiver accepts the request if any value matches any of its secrets.

Standard library only: the payment-partner simulator and odr's Django code both import this.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_SECONDS",
    "SignatureError",
    "sign",
    "signature_header",
    "signed_headers",
    "verify",
]

TOLERANCE_SECONDS = 300
TIMESTAMP_HEADER = "X-Odr-Timestamp"
SIGNATURE_HEADER = "X-Odr-Signature"
SCHEME = "v1"

_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}")
_HEX_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    """A request's signature cannot be trusted.

    ``code`` is machine-readable so that HTTP layers can put it in an error body unchanged:
    ``signature_missing``, ``signature_malformed``, ``signature_invalid``, ``timestamp_invalid``,
    ``timestamp_stale``.
    """

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    signed = f"{int(timestamp)}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """Return ``"v1=<hex>,v1=<hex>"``: one value per active secret, so that a receiver still
    holding only the old (or only the new) secret accepts the request during a rotation."""
    active = _active(secrets)
    return ",".join(f"{SCHEME}={sign(secret=s, timestamp=timestamp, body=body)}" for s in active)


def signed_headers(
    *, secrets: Sequence[str], body: bytes, now: float | None = None
) -> dict[str, str]:
    """Return both signing headers for ``body``, timestamped ``now`` (default: the clock)."""
    timestamp = int(time.time() if now is None else now)
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets=secrets, timestamp=timestamp, body=body),
    }


def verify(
    *,
    secrets: Sequence[str],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check the two header values against ``body``; return the timestamp, or raise
    :class:`SignatureError`.

    Checks run cheapest first (header shape, then clock, then HMAC) and the body is never
    parsed: nothing from an unauthenticated request is trusted before the HMAC matches.
    """
    active = _active(secrets)
    provided = _parse_signature_header(signature)
    sent_at = _parse_timestamp(timestamp)

    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise SignatureError(
            "timestamp_stale",
            f"timestamp {sent_at} is more than {tolerance}s away from the receiver's clock",
        )

    # Compare every candidate without stopping early; compare_digest keeps each comparison
    # constant-time so the response time does not leak how many hex digits were right.
    matched = False
    for secret in active:
        expected = sign(secret=secret, timestamp=sent_at, body=body)
        for candidate in provided:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("signature_invalid", "no signature matches an active secret")
    return sent_at


def _active(secrets: Sequence[str]) -> list[str]:
    """Drop blank secrets; having none left is a configuration bug, not a bad request."""
    if isinstance(secrets, str):  # a lone str is a Sequence too; catch the easy mistake
        raise TypeError("secrets must be a sequence of strings, not a string")
    active = [s for s in secrets if s]
    if not active:
        raise ValueError("at least one non-empty signing secret is required")
    return active


def _parse_timestamp(value: str | None) -> int:
    text = (value or "").strip()
    if not _TIMESTAMP_RE.fullmatch(text):
        raise SignatureError("timestamp_invalid", f"{TIMESTAMP_HEADER} must be whole unix seconds")
    return int(text)


def _parse_signature_header(value: str | None) -> list[str]:
    """Return the ``v1`` hex values. Values under other schemes are skipped so a future
    ``v2`` can be sent alongside ``v1``; anything that is not ``scheme=value`` is junk."""
    if value is None or not value.strip():
        raise SignatureError("signature_missing", f"{SIGNATURE_HEADER} header is missing")
    found: list[str] = []
    for item in value.split(","):
        scheme, sep, digest = item.strip().partition("=")
        if not sep or not scheme or not digest:
            raise SignatureError(
                "signature_malformed", f"{SIGNATURE_HEADER} must look like 'v1=<hex>'"
            )
        if scheme != SCHEME:
            continue
        digest = digest.lower()
        if not _HEX_SHA256_RE.fullmatch(digest):
            raise SignatureError(
                "signature_malformed", "v1 signatures are 64 hexadecimal characters"
            )
        found.append(digest)
    if not found:
        raise SignatureError("signature_malformed", f"{SIGNATURE_HEADER} has no v1 signature")
    return found
