"""Fixtures of the web pages: Django test clients logged in as each person of a dispute."""

import pytest
from django.test import Client

from tests import factories as f
from tests.cases.helpers import file_case


@pytest.fixture
def web():
    """web(user, lang="vi") -> a Django test client logged in as user, in that language."""

    def make(user=None, lang: str = "vi") -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE=lang)
        client.cookies["django_language"] = lang
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def case(order, buyer_user):
    return file_case(order, buyer_user)


@pytest.fixture
def carrier(db):
    return f.carrier("ghn")
