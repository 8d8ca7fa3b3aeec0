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
