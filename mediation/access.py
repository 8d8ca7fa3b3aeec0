"""Who is in a case's chat, in which role, and which messages each one may see.

Members: the case's buyer, the seller's staff, the *assigned* mediator and supervisors. An
unassigned mediator browsing the open queue may see the case but not its chat. A private caucus
(audience "buyer"/"seller") is between the centre's staff and that one party.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases import roles
from cases.models import Case

STAFF_ROLES = frozenset({"mediator", "supervisor"})


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    role: str  # buyer, seller, mediator, supervisor
    audiences: frozenset[str]  # which audiences' messages this member sees

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def sees(self, audience: str) -> bool:
        return audience in self.audiences

    def as_json(self) -> dict:
        return {"id": self.user_id, "name": self.name, "role": self.role}


def display_name(user) -> str:
    if user is None:
        return ""
    return (user.get_full_name() or user.get_username()).strip()


def forget_roles(user) -> None:
    """Drop the group/shop memberships cached on the user object, so a long-lived socket
    re-reads them (a seller's staff removed from the shop must lose the chat at once)."""
    for attr in ("_odr_groups", "_odr_seller_ids"):
        if hasattr(user, attr):
            delattr(user, attr)


def chat_member(user, case: Case, *, fresh: bool = False) -> Member | None:
    """The user's membership of this case's chat, or None. `fresh` re-reads memberships."""
    if user is None or roles.is_system(user) or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "is_active", True):
        return None
    if fresh:
        forget_roles(user)
    buyer = roles.is_case_buyer(user, case)
    seller = roles.is_case_seller(user, case)
    if buyer or seller:
        audiences = {"all"} | ({"buyer"} if buyer else set()) | ({"seller"} if seller else set())
        return Member(user.pk, display_name(user), "buyer" if buyer else "seller",
                      frozenset(audiences))
    if roles.is_case_mediator(user, case):
        role = "mediator"
    elif roles.is_supervisor(user):
        role = "supervisor"
    else:
        return None
    return Member(user.pk, display_name(user), role, frozenset({"all", "buyer", "seller"}))
