"""Support staff see notifications with their deliveries and can resend failed ones."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from notifications.models import Delivery
from notifications.services import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    client.force_login(User.objects.create_superuser("root", "root@example.vn", "pw-odr-2026"))
    return client


def test_admin_pages_load(cast, admin_client_):
    [n] = notify(event="chat_messages", users=[cast.buyer], context={"count": 1})

    for url in (reverse("admin:notifications_notification_changelist"),
                reverse("admin:notifications_notification_change", args=[n.pk]),
                reverse("admin:notifications_delivery_changelist"),
                reverse("admin:notifications_preference_changelist")):
        assert admin_client_.get(url).status_code == 200, url


def test_admin_resends_failed_deliveries(cast, admin_client_, django_capture_on_commit_callbacks):
    [n] = notify(event="chat_messages", users=[cast.buyer], context={"count": 1})
    Delivery.objects.filter(notification=n).update(status="failed", attempts=5, last_error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("admin:notifications_delivery_changelist"), {
            "action": "retry", "_selected_action": list(n.deliveries.values_list("pk", flat=True))})

    assert response.status_code == 302
    assert set(n.deliveries.values_list("status", "attempts")) == {("sent", 1)}
