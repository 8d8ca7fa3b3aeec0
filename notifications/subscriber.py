"""The case-event subscriber: each timeline entry, after its transaction commits, becomes the
notifications `recipients.RULES` says. Registered in NotificationsConfig.ready()."""

from __future__ import annotations

from cases.events import CaseEvent
from cases.selectors import case_for_notice
from notifications.recipients import batches_for
from notifications.services import notify


def on_case_event(event: CaseEvent) -> None:
    """Runs after commit (cases.events.dispatch logs and swallows any error, so a notification
    problem never reaches the person who acted)."""
    case = case_for_notice(event.case_id)
    if case is None:
        return
    for batch in batches_for(event, case):
        notify(event=batch.event, users=batch.users, case=case, context=batch.context,
               entry_id=event.entry_id)
