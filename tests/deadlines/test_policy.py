"""The calendar and the policy: Vietnamese working days, defaults, marketplace overrides."""

import pytest
from django.core.exceptions import ValidationError

from cases.calendar import add_working_days, is_working_day, working_days_between
from cases.policy import policy_for, validate_overrides
from tests import factories as f
from tests.deadlines.helpers import vn


def test_tet_2027_is_not_working_time():
    days = [vn(2027, 2, d).date() for d in range(3, 12)]
    assert [is_working_day(d) for d in days] == [True] + [False] * 7 + [True]  # Thu 4 – Wed 10
    assert add_working_days(vn(2027, 2, 3, 17, 0), 1) == vn(2027, 2, 11, 17, 0)
    assert working_days_between(vn(2027, 1, 29, 10, 0), vn(2027, 2, 12, 10, 0)) == 5


def test_deadlines_are_local_time_whatever_the_input_zone():
    from datetime import UTC, datetime

    # Friday 23:30 in Hà Nội is still Friday 16:30 UTC: counting starts from the local date.
    assert add_working_days(datetime(2026, 12, 4, 16, 30, tzinfo=UTC), 1) == vn(2026, 12, 7, 23, 30)


def test_defaults():
    policy = policy_for(None)
    assert (policy.seller_response_working_days, policy.buyer_response_working_days,
            policy.return_ship_days, policy.return_confirm_working_days,
            policy.mediator_decision_working_days, policy.appeal_working_days,
            policy.reminder_hours_before, policy.extension_max_working_days) == (3, 3, 7, 3, 7, 5, 24, 3)


@pytest.mark.parametrize("overrides, field", [
    ({"seller_response_working_days": 8}, "seller_response_working_days"),  # Law 19/2023 art. 57
    ({"appeal_working_days": 0}, "appeal_working_days"),
    ({"appeal_working_days": True}, "appeal_working_days"),
    ({"buyer_response_working_days": "3"}, "buyer_response_working_days"),
    ({"no_such_key": 1}, "no_such_key"),
])
def test_invalid_overrides(overrides, field):
    with pytest.raises(ValidationError) as exc:
        validate_overrides(overrides)
    assert list(exc.value.message_dict) == [field]


def test_valid_overrides_pass():
    validate_overrides({"seller_response_working_days": 7, "not_received_grace_days": 0,
                        "extension_max_working_days": 2})


@pytest.mark.django_db
def test_marketplace_overrides_and_the_legal_ceiling():
    market = f.PartnerFactory(code="shopee", policy={
        "buyer_response_working_days": 5, "seller_response_working_days": 9,
        "appeal_working_days": True, "return_ship_days": "x"})
    policy = policy_for(market)
    assert (policy.buyer_response_working_days, policy.seller_response_working_days,
            policy.appeal_working_days, policy.return_ship_days) == (5, 7, 5, 7)
