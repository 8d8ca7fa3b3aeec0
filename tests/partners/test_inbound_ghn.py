"""GHN's native webhook (no signature: a secret path token), mapped onto shipment.event."""

import pytest
from django.utils import timezone

from cases.models import Shipment, TimelineEntry
from partners.adapters.ghn import ghn_webhook_token
from partners.models import InboundEvent
from tests import factories as f
from tests.cases.helpers import file_case

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.ESCROW_ENQUEUE_ON_COMMIT = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def ghn_post(client, payload, token=None):
    token = token or ghn_webhook_token("whsec_test_1")
    return client.post(f"/api/v1/partners/ghn/ghn/{token}/", data=payload, content_type="application/json")


def payload(order, status="delivered", time="2026-11-20T03:52:50.158Z", **over):
    return {"OrderCode": "GHN5FA8", "ClientOrderCode": order.external_id, "Type": "switch_status",
            "Status": status, "Time": time, "Description": "Giao hàng thành công",
            "Warehouse": "Bưu cục Hạ Long", **over}


def test_ghn_delivery_is_recorded_once_and_reaches_the_case(client, order, buyer_user):
    f.carrier("ghn")
    case = file_case(order, buyer_user, reason="not_received", amount=450_000)
    response = ghn_post(client, payload(order))
    assert response.status_code == 200
    shipment = Shipment.objects.get(tracking_number="GHN5FA8")
    assert (shipment.status, shipment.direction, shipment.order_id) == ("delivered", "forward", order.pk)
    assert shipment.status_at == timezone.datetime.fromisoformat("2026-11-20T03:52:50.158Z")
    # GHN sends no proof of delivery: nothing on the case's timeline, the clock is untouched
    assert not TimelineEntry.objects.filter(case=case, action="proof_of_delivery").exists()
    again = ghn_post(client, payload(order))
    assert again.json()["duplicate"] is True
    assert (InboundEvent.objects.get().deliveries, Shipment.objects.count()) == (2, 1)


def test_wrong_token_is_404_and_changes_nothing(client, order):
    f.carrier("ghn")
    response = ghn_post(client, payload(order), token="0" * 40)
    assert response.status_code == 404
    assert (Shipment.objects.count(), InboundEvent.objects.count()) == (0, 0)


def test_non_tracking_updates_are_acknowledged_and_ignored(client, order):
    f.carrier("ghn")
    response = ghn_post(client, payload(order, Type="Update_weight"))
    assert (response.status_code, response.json()) == (200, {"ignored": True})
    assert Shipment.objects.count() == 0


def test_unknown_order_is_422(client, order):
    f.carrier("ghn")
    response = ghn_post(client, payload(order, ClientOrderCode="NOPE"))
    assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_order")
