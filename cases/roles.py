"""Who someone is to a case: buyer, seller staff, assigned mediator, supervisor, or the system.

Role checks run on every list and every action, so group and shop memberships are looked up
once per user object and cached on it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cases.models import Case

MEDIATORS = "mediators"
SUPERVISORS = "supervisors"


class SystemActor:
    """The centre itself: deadlines, carrier events and partner confirmations act as it."""

    is_system = True
    is_authenticated = True
    is_active = True
    is_superuser = False
    pk = None
    id = None
    username = "system"

    def __str__(self) -> str:
        return "Hệ thống ODR"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


SYSTEM = SystemActor()


def is_system(user: Any) -> bool:
    return getattr(user, "is_system", False)


def _groups(user: Any) -> frozenset[str]:
    if is_system(user) or not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_odr_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._odr_groups = cached
    return cached


def seller_ids(user: Any) -> frozenset[int]:
    """Shops this user works for."""
    if is_system(user) or not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_odr_seller_ids", None)
    if cached is None:
        cached = frozenset(_shops_of(user.pk))
        user._odr_seller_ids = cached
    return cached


@cache
def _shops_sql(vendor: str) -> str:
    from cases.models import Seller
    from odr.joined import table

    staff = Seller.staff.through
    shop, person = (staff._meta.get_field(name).column for name in ("seller", "user"))
    return f"SELECT {shop} FROM {table(staff)} WHERE {person} = %s"  # noqa: S608


def _shops_of(user_id: int) -> list[int]:
    """One prepared statement (the chat re-reads it for every message, so that someone removed
    from a shop loses its chats at once)."""
    from django.db import connection

    from odr.joined import fetch_all

    return [shop for (shop,) in fetch_all("shops_of", _shops_sql(connection.vendor), [user_id])]


def is_mediator(user: Any) -> bool:
    return MEDIATORS in _groups(user)


def is_supervisor(user: Any) -> bool:
    return SUPERVISORS in _groups(user)


def is_staff_of_centre(user: Any) -> bool:
    return is_mediator(user) or is_supervisor(user)


def is_case_buyer(user: Any, case: Case) -> bool:
    return (
        not is_system(user)
        and getattr(user, "is_authenticated", False)
        and case.buyer.user_id is not None
        and case.buyer.user_id == user.pk
    )


def is_case_seller(user: Any, case: Case) -> bool:
    return case.seller_id in seller_ids(user)


def is_case_mediator(user: Any, case: Case) -> bool:
    return case.mediator_id is not None and case.mediator_id == getattr(user, "pk", None)


def is_party(user: Any, case: Case) -> bool:
    return is_case_buyer(user, case) or is_case_seller(user, case)


def can_view(user: Any, case: Case) -> bool:
    """Parties, the assigned mediator, any supervisor; a mediator also sees the open queue."""
    if is_party(user, case) or is_case_mediator(user, case) or is_supervisor(user):
        return True
    return is_mediator(user) and case.state == "in_mediation" and case.mediator_id is None


def role_in_case(user: Any, case: Case) -> str | None:
    """The role this user acts in, for the timeline. Buyer wins if one person is both."""
    if is_system(user):
        return "system"
    if is_case_buyer(user, case):
        return "buyer"
    if is_case_seller(user, case):
        return "seller"
    if is_case_mediator(user, case):
        return "mediator"
    if is_supervisor(user):
        return "supervisor"
    if is_mediator(user):
        return "mediator"
    return None
