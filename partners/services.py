"""Writes of the partners app: receiving signed partner events, rotating signing secrets."""

from __future__ import annotations

import json
import logging
import secrets as pysecrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework import serializers

from cases.errors import DomainError, InvalidInput, NotFound
from partners import inbound, signing
from partners.models import InboundEvent, Partner

log = logging.getLogger(__name__)
MAX_EVENT_BYTES = 256 * 1024


class SignatureRejected(DomainError):
    status = 401
    code = "signature_invalid"


class PayloadTooLarge(DomainError):
    status = 413
    code = "body_too_large"


@dataclass(frozen=True)
class Receipt:
    event: InboundEvent
    duplicate: bool


def partner_authenticate(*, code: str, timestamp: str | None, signature: str | None,
                         raw_body: bytes) -> tuple[Partner, int]:
    """The partner named in the URL, if the raw body carries its signature (any active secret,
    constant-time, within the 300 s tolerance). Nothing of the body is parsed before this."""
    partner = Partner.objects.filter(code=code, is_active=True).first()
    if partner is None:
        log.warning("inbound event for unknown partner %r", code)
        raise NotFound("Unknown partner", code="unknown_partner")
    if len(raw_body) > MAX_EVENT_BYTES:
        raise PayloadTooLarge(f"Event bodies are at most {MAX_EVENT_BYTES} bytes")
    try:
        signed_at = signing.verify(secrets=partner.signing_secrets or [], timestamp=timestamp,
                                   signature=signature, body=raw_body)
    except signing.SignatureError as exc:
        log.warning("inbound event from %s refused: %s (%s)", code, exc.code, exc.message)
        raise SignatureRejected(exc.message, code=exc.code) from None
    except ValueError:  # the partner has no secret configured: nobody can sign for it
        log.error("partner %s has no signing secret; inbound event refused", code)
        raise SignatureRejected("No signing secret configured for this partner") from None
    return partner, signed_at


def _flatten(errors, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = prefix if (key == "non_field_errors" and prefix) else (
                f"{prefix}.{key}" if prefix else str(key))
            out.update(_flatten(value, name))
    elif isinstance(errors, list) and errors and all(isinstance(e, dict | list) for e in errors):
        for i, value in enumerate(errors):
            if value:
                out.update(_flatten(value, f"{prefix}[{i}]"))
    else:
        items = errors if isinstance(errors, list) else [errors]
        out[prefix or "non_field_errors"] = [str(e) for e in items]
    return out


def _envelope(raw_body: bytes) -> tuple[dict, str, str]:
    try:
        message = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("Body is not valid JSON", code="malformed_body") from None
    if not isinstance(message, dict):
        raise InvalidInput("Body must be a JSON object", code="malformed_body")
    fields = {}
    event_id, event_type = message.get("event_id"), message.get("type")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 100:
        fields["event_id"] = ["Bắt buộc: chuỗi 1–100 ký tự, duy nhất cho mỗi sự kiện."]
    if not isinstance(event_type, str) or not event_type:
        fields["type"] = ["Bắt buộc."]
    if fields:
        raise InvalidInput("Missing envelope fields", code="invalid", fields=fields)
    return message, event_id.strip(), event_type


def inbound_event_receive(*, partner: Partner, raw_body: bytes, signed_at: int | None = None) -> Receipt:
    """Apply one authenticated partner event exactly once.

    The (partner, event_id) row is created or locked first: a replay of a processed event
    returns it as a duplicate and changes nothing; an event that was rejected before (unknown
    order, bad field…) is tried again, so a partner's retry after fixing the cause works. A
    rejection keeps its error on the row and is raised (4xx) after the row is committed."""
    signed = datetime.fromtimestamp(signed_at, UTC) if signed_at else None
    try:
        message, event_id, event_type = _envelope(raw_body)
    except DomainError as exc:
        InboundEvent.objects.create(partner=partner, event_id=None, type="", signed_at=signed,
                                    status=InboundEvent.Status.REJECTED, error_code=exc.code,
                                    error=exc.message,
                                    payload={"raw": raw_body[:2000].decode(errors="replace")})
        log.warning("inbound event from %s rejected: %s", partner.code, exc.code)
        raise
    return inbound_message_receive(partner=partner, event_id=event_id, event_type=event_type,
                                   message=message, signed=signed)


def inbound_message_receive(*, partner: Partner, event_id: str, event_type: str, message: dict,
                            signed: datetime | None = None) -> Receipt:
    """Apply one authenticated message (odr's format, or a native one an adapter mapped) at
    most once per (partner, event_id); see inbound_event_receive."""
    failure: DomainError | None = None
    with transaction.atomic():
        event = _event_row(partner, event_id, event_type, message, signed)
        if event.status == InboundEvent.Status.PROCESSED:
            InboundEvent.objects.filter(pk=event.pk).update(deliveries=F("deliveries") + 1)
            return Receipt(event=event, duplicate=True)
        try:
            result = inbound.run(partner, event_type, message)
        except serializers.ValidationError as exc:
            failure = InvalidInput("Invalid event", code="invalid", fields=_flatten(exc.detail))
        except DomainError as exc:
            failure = exc
        now = timezone.now()
        event.type, event.payload, event.signed_at, event.processed_at = event_type, message, signed, now
        if failure is None:
            event.status, event.result, event.error_code, event.error = (
                InboundEvent.Status.PROCESSED, _jsonable(result), "", "")
        else:
            event.status, event.error_code = InboundEvent.Status.REJECTED, failure.code
            event.error = json.dumps({"message": failure.message, "fields": failure.fields},
                                     ensure_ascii=False)
        event.save()
    if failure is not None:
        log.warning("inbound %s %s from %s rejected: %s %s", event_type, event_id, partner.code,
                    failure.code, failure.fields or failure.message)
        raise failure
    return Receipt(event=event, duplicate=False)


def _event_row(partner, event_id, event_type, message, signed) -> InboundEvent:
    """Create or lock the dedupe row. Two copies arriving together: one inserts, the other
    waits on the unique index, then finds and locks the committed row."""
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                partner=partner, event_id=event_id, type=event_type, payload=message,
                signed_at=signed, status=InboundEvent.Status.REJECTED, error_code="processing")
            return event
    except IntegrityError:
        pass
    return InboundEvent.objects.select_for_update().get(partner=partner, event_id=event_id)


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


# --- secrets ----------------------------------------------------------------------------------
@transaction.atomic
def partner_rotate_secret(*, partner: Partner, new_secret: str | None = None) -> str:
    """Start a rotation: the new secret goes first (odr signs with it from now on), the previous
    one stays valid for inbound signatures until `partner_retire_old_secrets`. Older ones go."""
    new_secret = new_secret or "whsec_" + pysecrets.token_urlsafe(32)
    if len(new_secret) < 16:
        raise InvalidInput("Secret too short", fields={"new_secret": ["Ít nhất 16 ký tự."]})
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    previous = [s for s in partner.signing_secrets if s and s != new_secret][:1]
    partner.signing_secrets = [new_secret, *previous]
    partner.secrets_rotated_at = timezone.now()
    partner.save(update_fields=["signing_secrets", "secrets_rotated_at"])
    return new_secret


@transaction.atomic
def partner_retire_old_secrets(*, partner: Partner) -> Partner:
    """End a rotation once the partner signs with the new secret: only the newest stays."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    partner.signing_secrets = [s for s in partner.signing_secrets if s][:1]
    partner.save(update_fields=["signing_secrets"])
    return partner
