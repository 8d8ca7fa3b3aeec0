"""GHN (Giao Hàng Nhanh) tracking webhook → odr `shipment.event`.

GHN signs nothing (FORMATS.md §1), so the URL carries a secret path token derived from the
partner's signing secret: `/api/v1/partners/<code>/ghn/<token>/`, token =
hex(HMAC-SHA256(secret, "ghn-webhook"))[:40] (`ghn_webhook_token`), compared in constant time
against every active secret (so it survives a rotation). The dedupe key is GHN's own
(OrderCode, Type, Status, Time). GHN retries non-200 answers 10 times, 5 s apart.
Nothing here moves money: a carrier event only starts a clock or adds a timeline entry."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from cases.errors import InvalidInput
from cases.models import Order, Shipment
from partners.inbound import Unprocessable
from partners.models import Partner

# GHN status → odr shipment status (statuses not listed are ignored).
STATUS_MAP = {
    "ready_to_pick": "created", "picking": "created", "money_collect_picking": "created",
    "picked": "picked_up",
    "storing": "in_transit", "transporting": "in_transit", "sorting": "in_transit",
    "delivering": "in_transit", "money_collect_delivering": "in_transit",
    "waiting_to_return": "in_transit", "return": "in_transit", "return_transporting": "in_transit",
    "return_sorting": "in_transit", "returning": "in_transit",
    "delivered": "delivered",
    "delivery_fail": "failed", "return_fail": "failed", "cancel": "failed", "lost": "failed",
    "damage": "failed", "exception": "failed",
    "returned": "returned",
}
TRACKING_TYPES = {"create", "switch_status"}


def ghn_webhook_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"ghn-webhook", hashlib.sha256).hexdigest()[:40]


def token_valid(partner: Partner, token: str) -> bool:
    matched = False
    for secret in (s for s in partner.signing_secrets if s):
        matched |= hmac.compare_digest(ghn_webhook_token(secret), token or "")
    return matched


def to_message(partner: Partner, payload: dict) -> tuple[str, dict] | None:
    """(event_id, shipment.event message), or None for GHN events that are not tracking steps
    (weight, COD or fee updates)."""
    if not isinstance(payload, dict):
        raise InvalidInput("Body must be a JSON object", code="malformed_body")
    kind = str(payload.get("Type", "")).lower()
    if kind not in TRACKING_TYPES:
        return None
    missing = [k for k in ("OrderCode", "Status", "Time") if not payload.get(k)]
    if missing:
        raise InvalidInput("Missing GHN fields", fields={k: ["Bắt buộc."] for k in missing})
    status = STATUS_MAP.get(str(payload["Status"]).lower())
    if status is None:
        return None
    try:
        occurred = datetime.fromisoformat(str(payload["Time"]))
    except ValueError:
        raise InvalidInput("Bad time", fields={"Time": ["ISO 8601."]}) from None
    code = str(payload["OrderCode"])
    shipment = (Shipment.objects.select_related("order__marketplace")
                .filter(carrier=partner, tracking_number=code).first())
    if shipment is not None:
        order, direction = shipment.order, shipment.direction
    else:
        matches = list(Order.objects.select_related("marketplace")
                       .filter(external_id=str(payload.get("ClientOrderCode") or ""))[:2])
        if len(matches) != 1:
            raise Unprocessable("Unknown order", code="unknown_order",
                                fields={"ClientOrderCode": ["Không xác định được đơn hàng."]})
        order, direction = matches[0], "forward"
    key = "|".join([code, kind, str(payload["Status"]).lower(), str(payload["Time"])])
    event_id = "ghn:" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return event_id, {"shipment": {
        "tracking_number": code, "order": {"marketplace": order.marketplace.code, "id": order.external_id},
        "direction": direction, "status": status, "occurred_at": occurred.isoformat(),
        "location": str(payload.get("Warehouse") or "")[:200],
        "description": " ".join(str(payload.get(k) or "") for k in ("Description", "Reason")).strip()[:500],
    }}
