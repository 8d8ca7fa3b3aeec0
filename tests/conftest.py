"""Fixtures shared by every test: the cast of a dispute and API clients logged in as each."""

import pytest
from rest_framework.test import APIClient

from tests import factories as f


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


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
