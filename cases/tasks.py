"""Celery tasks of the case workflow: thin wrappers, the rules live in cases.services.deadlines."""

from celery import shared_task

from cases.services.deadlines import deadline_reminders_send, deadlines_sweep


@shared_task(name="cases.deadlines_sweep", ignore_result=True)
def deadlines_sweep_task(batch: int = 200) -> int:
    """Beat runs it every minute; overlapping runs are safe (rows are claimed SKIP LOCKED)."""
    return deadlines_sweep(batch=batch)


@shared_task(name="cases.deadline_reminders", ignore_result=True)
def deadline_reminders_task() -> int:
    """Beat runs it every five minutes; each reminder is recorded, and sent, once."""
    return deadline_reminders_send()


@shared_task(name="cases.dispatch_event", ignore_result=True, acks_late=True)
def case_event_dispatch(event: dict) -> None:
    """Only for messages published before case events moved to the outbox (cases.relay):
    during a rolling deploy, old web processes still send these. Remove one release later."""
    from dataclasses import fields

    from cases.events import CaseEvent, dispatch

    known = {f.name for f in fields(CaseEvent)}
    dispatch(CaseEvent(**{k: v for k, v in event.items() if k in known}))
