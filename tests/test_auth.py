"""API tokens (odr/auth.py): the token's user, active only, for HTTP and WebSockets alike; on
PostgreSQL the user's groups and shops come in the same query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases import roles
from odr.auth import user_for_token
from odr.ws_auth import _user_for_token
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_an_inactive_users_token_opens_neither_the_api_nor_a_socket(buyer_user):
    token = Token.objects.create(user=buyer_user)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/cases/").status_code == 200
    assert _user_for_token(token.key) == buyer_user

    buyer_user.is_active = False
    buyer_user.save()
    refused = client.get("/api/v1/cases/")
    assert refused.status_code == 401
    assert _user_for_token(token.key) is None


def test_an_unknown_token_is_401_with_a_reason():
    refused = APIClient(HTTP_AUTHORIZATION="Token 0123456789abcdef").get("/api/v1/cases/")
    assert refused.status_code == 401
    assert user_for_token("0123456789abcdef") is None


def test_roles_are_right_after_a_token_lookup(seller_user):
    """Whatever the database, the roles read after the look-up are the user's real ones."""
    shops = [f.SellerFactory(staff_users=[seller_user]) for _ in range(2)]
    mediator = f.mediator(username="m-token")
    seller_key = Token.objects.create(user=seller_user).key
    mediator_key = Token.objects.create(user=mediator).key

    seller = user_for_token(seller_key)
    assert roles.seller_ids(seller) == frozenset(s.pk for s in shops)
    assert not roles.is_mediator(seller) and not roles.is_supervisor(seller)
    med = user_for_token(mediator_key)
    assert roles.is_mediator(med) and roles.seller_ids(med) == frozenset()


@pytest.mark.postgres
def test_on_postgresql_one_query_brings_the_user_with_groups_and_shops(seller_user):
    if connection.vendor != "postgresql":
        pytest.skip("the roles ride along with the token on PostgreSQL only")
    f.SellerFactory(staff_users=[seller_user])
    key = Token.objects.create(user=seller_user).key
    with CaptureQueriesContext(connection) as queries:
        user = user_for_token(key)
        roles.seller_ids(user), roles.is_mediator(user), roles.is_supervisor(user)
    assert len(queries.captured_queries) == 1
