"""Errors a service raises when a request cannot be carried out; the API maps them to HTTP."""

from collections.abc import Iterable


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None,
                 code: str | None = None, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}
        if code:
            self.code = code


class InvalidInput(DomainError):
    """Bad or ineligible input: 400 with field messages."""


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class ActionNotAllowed(Conflict):
    """The action is not possible now for this user: 409 with what they may do instead."""

    code = "action_not_allowed"

    def __init__(self, action: str, allowed: Iterable[str], state: str) -> None:
        allowed = sorted(allowed)
        super().__init__(
            f"'{action}' is not allowed in state '{state}' for you",
            extra={"allowed_actions": allowed, "state": state},
        )
