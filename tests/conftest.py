"""Fixtures shared by every test: the cast of a dispute and API clients logged in as each."""

import pytest
from rest_framework.test import APIClient

from tests import factories as f


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Real password hashing costs ~0.5 s per user by design; tests need no such protection.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Subscribers run inline after commit in tests; tests/cases/test_events.py covers the outbox.
    settings.ODR_EVENTS_ASYNC = False
    # Notification sends are not enqueued from on-commit callbacks (tests/notifications tests
    # delivery itself); the periodic sweep is the production backstop either way.
    settings.NOTIFICATION_ENQUEUE_ON_COMMIT = False


@pytest.fixture(autouse=True)
def _close_chat_db_pool():
    """The chat consumer keeps a small pool of DB threads; close them so the test database
    can be dropped at the end of the run."""
    yield
    from odr.asyncdb import pool_close

    pool_close()


@pytest.fixture
def buyer_user(db):
    return f.UserFactory(username="buyer")


@pytest.fixture
def seller_user(db):
    return f.UserFactory(username="seller")


@pytest.fixture
def mediator_user(db):
    return f.mediator(username="mediator")


@pytest.fixture
def supervisor_user(db):
    return f.supervisor(username="supervisor")


@pytest.fixture
def stranger(db):
    return f.UserFactory(username="stranger")


@pytest.fixture
def order(buyer_user, seller_user):
    seller = f.SellerFactory(staff_users=[seller_user])
    return f.paid_order(buyer__user=buyer_user, seller=seller)


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api():
    return client_for


@pytest.fixture
def notified(monkeypatch):
    """Record what notifications.services.notify is asked to send (who, about what), for tests
    of the callers; tests/notifications covers what notify itself does with it."""
    import notifications.services as module

    calls = []

    def notify(*, event, users, case, context):
        calls.append({"event": event, "users": sorted(u.pk for u in users), "case": case.pk,
                      "context": context})

    monkeypatch.setattr(module, "notify", notify)
    return calls
