"""Backends for tests: one that fails a set number of times, one that always fails, one that
records what it sent."""

from notifications.backends.base import Backend, DeliveryError, PermanentDeliveryError


class RecordingBackend(Backend):
    label = "Recording"
    sent: list = []

    def send(self, notification) -> None:
        RecordingBackend.sent.append((notification.pk, notification.recipient_id, notification.event))


class FlakyBackend(Backend):
    """Fails `failures` times (class-wide), then succeeds."""

    label = "Flaky"
    failures = 2
    calls = 0

    def send(self, notification) -> None:
        FlakyBackend.calls += 1
        if FlakyBackend.calls <= FlakyBackend.failures:
            raise DeliveryError(f"gateway timeout #{FlakyBackend.calls}")


class BrokenBackend(Backend):
    label = "Broken"

    def send(self, notification) -> None:
        raise ConnectionError("SMTP server unreachable")


class RejectingBackend(Backend):
    label = "Rejecting"

    def send(self, notification) -> None:
        raise PermanentDeliveryError("number blocked")


class SmsLikeBackend(Backend):
    """Only urgent events by default, like a paid SMS channel."""

    label = "SMS"
    default_events = frozenset({"case_filed", "deadline_reminder"})

    def send(self, notification) -> None:
        pass
