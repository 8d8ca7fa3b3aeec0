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
    # How much more time one party may ask for, once per case (cases.services.deadlines).
    extension_max_working_days: int = 3


_FIELDS = {f.name for f in fields(Policy)}
# Windows during which someone must act: zero would make the deadline pass on arrival.
_AT_LEAST_ONE = {
    "seller_response_working_days", "buyer_response_working_days", "return_ship_days",
    "return_confirm_working_days", "return_transit_days", "mediator_decision_working_days",
    "appeal_working_days", "filing_window_days_after_delivery",
}


def _valid_number(key: str, value) -> bool:
    # bool is an int in Python: {"appeal_working_days": true} must not mean 1 day.
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value >= (1 if key in _AT_LEAST_ONE else 0)


def validate_overrides(overrides: dict) -> None:
    """Reject unknown keys, non-numbers (booleans included), empty windows (a deadline of zero
    days would pass the moment it is set), and a seller window longer than Law 19/2023 art. 57
    allows (7 working days to negotiate)."""
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise ValidationError({k: "unknown policy key" for k in sorted(unknown)})
    for key, value in overrides.items():
        if not _valid_number(key, value):
            low = 1 if key in _AT_LEAST_ONE else 0
            raise ValidationError({key: f"must be a whole number ≥ {low}"})
    limit = settings.ODR_MAX_SELLER_RESPONSE_WORKING_DAYS
    if overrides.get("seller_response_working_days", 0) > limit:
        raise ValidationError(
            {"seller_response_working_days": f"at most {limit} working days (Law 19/2023 art. 57)"}
        )


def policy_for(marketplace: Partner | None) -> Policy:
    values = dict(settings.ODR_POLICY)
    # Partner.policy is free JSON: a value that would not pass validate_overrides is ignored
    # rather than crashing every deadline computation of that marketplace.
    overrides = {k: v for k, v in ((marketplace.policy or {}) if marketplace else {}).items()
                 if k in _FIELDS and _valid_number(k, v)}
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
