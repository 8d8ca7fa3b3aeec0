"""A backend that writes one log line per notification: for development, and as an audit
trail in deployments that ship logs somewhere searchable."""

import logging

from notifications.backends.base import Backend

log = logging.getLogger("notifications.delivery")


class LogBackend(Backend):
    label = "Log"
    held_in_quiet_hours = False

    def send(self, notification) -> None:
        log.info("notification %s to user %s [%s] %s: %s", notification.pk,
                 notification.recipient_id, notification.event, notification.title, notification.url)
