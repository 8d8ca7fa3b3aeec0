"""The cast of a dispute for notification tests, with tasks run eagerly and emails in memory."""

from types import SimpleNamespace

import pytest

from notifications.models import Notification
from odr.celery import app as celery_app
from tests import factories as f

DEFAULT_BACKENDS = {
    "email": {"BACKEND": "notifications.backends.email.EmailBackend"},
    "log": {"BACKEND": "notifications.backends.log.LogBackend"},
}


@pytest.fixture(autouse=True)
def _notify_settings(settings):
    # Celery copies its settings once, when first used: set eagerness on the app itself.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture(autouse=True)
def _notify_channels(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://odr.quangninh.test"
    settings.NOTIFICATION_BACKENDS = DEFAULT_BACKENDS


@pytest.fixture
def cast(buyer_user, seller_user, mediator_user, supervisor_user, stranger, order):
    seller2 = f.UserFactory(username="seller2")
    order.seller.staff.add(seller2)
    return SimpleNamespace(
        buyer=buyer_user, seller=seller_user, seller2=seller2, mediator=mediator_user,
        mediator2=f.mediator(username="mediator2"), supervisor=supervisor_user, stranger=stranger,
        order=order,
    )


@pytest.fixture
def act(django_capture_on_commit_callbacks):
    """Run a service as a request would: commit, then the on-commit work (events, notify, push,
    eager delivery tasks)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def got(event: str | None = None, case=None) -> set[str]:
    """Usernames notified (of `event`, about `case`)."""
    qs = Notification.objects.all()
    if event:
        qs = qs.filter(event=event)
    if case is not None:
        qs = qs.filter(case=case)
    return set(qs.values_list("recipient__username", flat=True))


@pytest.fixture(autouse=True)
def _enqueue_sends_on_commit(settings):
    """These tests follow a notification all the way to its delivery (the root conftest turns
    enqueueing off for everyone else)."""
    settings.NOTIFICATION_ENQUEUE_ON_COMMIT = True
