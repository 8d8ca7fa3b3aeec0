"""Case events reach their subscribers after commit: inline, or through a Celery task."""

import pytest

from cases import events
from cases.tasks import case_event_dispatch
from odr.celery import app
from tests.cases.helpers import file_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen():
    got = []

    def subscriber(event):
        got.append((event.action, event.to_state))

    events.subscribe(subscriber)
    yield got
    events._subscribers.remove(subscriber)


def test_inline_subscribers_run_after_commit_only(order, buyer_user, seen,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        file_case(order, buyer_user)
    assert seen == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert ("file", "awaiting_seller") in seen


def test_worker_path_runs_the_same_subscribers(order, buyer_user, seen, settings,
                                               django_capture_on_commit_callbacks):
    settings.ODR_EVENTS_ASYNC = True
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the task body runs as the worker would run it
    try:
        with django_capture_on_commit_callbacks(execute=True):
            file_case(order, buyer_user)
    finally:
        app.conf.task_always_eager = eager
    assert ("file", "awaiting_seller") in seen


def test_a_failing_subscriber_does_not_stop_the_others(seen):
    def broken(event):
        raise RuntimeError("boom")

    events._subscribers.insert(0, broken)
    try:
        case_event_dispatch.apply(kwargs={"event": {
            "case_id": 1, "entry_id": None, "action": "x", "from_state": "a", "to_state": "b",
            "actor_id": None, "actor_role": "system", "data": {}}})
    finally:
        events._subscribers.remove(broken)
    assert seen == [("x", "b")]


@pytest.fixture
def published():
    """Task messages handed to the broker, in order (Celery's own publish signal)."""
    from celery.signals import before_task_publish

    sent = []

    def record(sender=None, body=None, **kwargs):
        sent.append((sender, list(body[0]) if body else None))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def test_a_filing_sends_one_message_that_also_starts_the_hold(order, buyer_user, settings,
                                                                published,
                                                                django_capture_on_commit_callbacks):
    """The hold written with the filing travels in the case event (one publish per request);
    the event's dispatch in the worker starts the hold's delivery."""
    from escrow.models import EscrowInstruction

    settings.ODR_EVENTS_ASYNC = True
    with django_capture_on_commit_callbacks(execute=True):
        case = file_case(order, buyer_user)
    hold = EscrowInstruction.objects.get(case=case, kind="hold")
    assert [name for name, _ in published] == ["cases.dispatch_event"]
    event = published[0][1][0]
    assert list(event["escrow_ids"]) == [str(hold.pk)]

    published.clear()
    case_event_dispatch.apply(kwargs={"event": event})  # what the worker runs
    assert published == [("escrow.deliver", [str(hold.pk)])]


def test_an_instruction_without_an_event_is_sent_on_its_own(order, buyer_user, settings,
                                                            published,
                                                            django_capture_on_commit_callbacks):
    """Instructions written outside a case event (a resolution's refund and release) keep
    their own after-commit enqueue."""
    from django.db import transaction

    from escrow.services import escrow_instruct

    case = file_case(order, buyer_user)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        hold = escrow_instruct(case=case, kind="hold", amount=1_000, reason="again")
    assert published == [("escrow.deliver", [str(hold.pk)])]
