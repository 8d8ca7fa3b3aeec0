"""Dispute policy: time limits and eligibility windows. The centre's defaults live in
settings.ODR_POLICY; a marketplace may override them (Partner.policy), never beyond the law."""

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError

from cases.calendar import add_working_days
from partners.models import Partner


@dataclass(frozen=True)
class Policy:
    seller_response_working_days: int
    buyer_response_working_days: int
    return_ship_days: int
    return_confirm_working_days: int
    return_transit_days: int
    mediator_decision_working_days: int
    appeal_working_days: int
    filing_window_days_after_delivery: int
    not_received_grace_days: int
    reminder_hours_before: int


_FIELDS = {f.name for f in fields(Policy)}


def validate_overrides(overrides: dict) -> None:
    """Reject unknown keys, non-positive numbers, and a seller window longer than Law 19/2023
    art. 57 allows (7 working days to negotiate)."""
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise ValidationError({k: "unknown policy key" for k in sorted(unknown)})
    for key, value in overrides.items():
        if not isinstance(value, int) or value < 0:
            raise ValidationError({key: "must be a whole number ≥ 0"})
    limit = settings.ODR_MAX_SELLER_RESPONSE_WORKING_DAYS
    if overrides.get("seller_response_working_days", 0) > limit:
        raise ValidationError(
            {"seller_response_working_days": f"at most {limit} working days (Law 19/2023 art. 57)"}
        )


def policy_for(marketplace: Partner | None) -> Policy:
    values = dict(settings.ODR_POLICY)
    overrides = {k: v for k, v in ((marketplace.policy or {}) if marketplace else {}).items()
                 if k in _FIELDS}
    values.update(overrides)
    limit = settings.ODR_MAX_SELLER_RESPONSE_WORKING_DAYS
    values["seller_response_working_days"] = min(values["seller_response_working_days"], limit)
    return Policy(**values)


def due_at_for_state(*, state: str, policy: Policy, now: datetime) -> datetime | None:
    """When the party who must act in `state` runs out of time."""
    if state == "awaiting_seller":
        return add_working_days(now, policy.seller_response_working_days)
    if state == "awaiting_buyer":
        return add_working_days(now, policy.buyer_response_working_days)
    if state == "awaiting_return":
        return now + timedelta(days=policy.return_ship_days)
    if state in ("in_mediation", "under_appeal"):
        return add_working_days(now, policy.mediator_decision_working_days)
    if state == "decided":
        return add_working_days(now, policy.appeal_working_days)
    return None
