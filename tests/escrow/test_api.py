"""Escrow API for supervisors: list, detail with attempts, retry and cancel of dead letters,
audited on the case; others get 404 (parties, strangers) or 403 (mediators)."""

import pytest
from django.utils import timezone

from cases.models import Case, State, TimelineEntry
from escrow.models import DeliveryAttempt, EscrowInstruction
from tests.cases.helpers import file_case

pytestmark = pytest.mark.django_db
Status = EscrowInstruction.Status
BASE = "/api/v1/escrow/instructions/"


@pytest.fixture(autouse=True)
def _no_enqueue(settings):
    settings.ESCROW_ENQUEUE_ON_COMMIT = False


@pytest.fixture
def dead(order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)
    hold = EscrowInstruction.objects.get(case=case)
    EscrowInstruction.objects.filter(pk=hold.pk).update(status=Status.DEAD, attempts=1,
                                                        last_error="HTTP 400 rejected_by_partner")
    DeliveryAttempt.objects.create(instruction=hold, number=1, started_at=timezone.now(),
                                   status_code=400, latency_ms=12, outcome="dead",
                                   error="HTTP 400 rejected_by_partner")
    return hold


def test_supervisor_lists_filters_and_reads_attempts(api, supervisor_user, dead):
    client = api(supervisor_user)
    listed = client.get(BASE, {"status": "dead"}).json()
    assert [row["id"] for row in listed["results"]] == [str(dead.pk)]
    assert client.get(BASE, {"status": "confirmed"}).json()["results"] == []
    detail = client.get(f"{BASE}{dead.pk}/").json()
    assert (detail["status"], detail["kind"], detail["amount"]) == ("dead", "hold", 300_000)
    assert [(a["number"], a["status_code"], a["outcome"]) for a in detail["delivery_attempts"]] == [
        (1, 400, "dead")]


@pytest.mark.parametrize("who", ["buyer_user", "seller_user", "stranger"])
def test_parties_and_strangers_get_404(api, request, dead, who):
    client = api(request.getfixturevalue(who))
    assert client.get(BASE).status_code == 404
    assert client.get(f"{BASE}{dead.pk}/").status_code == 404
    assert client.post(f"{BASE}{dead.pk}/retry/", {"reason": "x"}).status_code == 404
    assert EscrowInstruction.objects.get(pk=dead.pk).status == Status.DEAD


def test_mediators_get_403(api, mediator_user, dead):
    response = api(mediator_user).post(f"{BASE}{dead.pk}/cancel/", {"reason": "x"})
    assert response.status_code == 403
    assert EscrowInstruction.objects.get(pk=dead.pk).status == Status.DEAD


def test_retry_requeues_with_a_fresh_window_and_is_audited(api, supervisor_user, dead):
    response = api(supervisor_user).post(f"{BASE}{dead.pk}/retry/", {"reason": "Đối tác đã sửa cấu hình"})
    assert response.status_code == 200
    dead.refresh_from_db()
    assert dead.status == Status.PENDING
    assert dead.give_up_at > timezone.now() + timezone.timedelta(hours=71)
    entry = TimelineEntry.objects.get(case=dead.case, action="escrow_retry")
    assert (entry.actor, entry.reason, entry.data["instruction"]) == (
        supervisor_user, "Đối tác đã sửa cấu hình", str(dead.pk))


def test_cancel_is_audited_and_needs_a_reason(api, supervisor_user, dead):
    client = api(supervisor_user)
    missing = client.post(f"{BASE}{dead.pk}/cancel/", {})
    assert (missing.status_code, list(missing.json()["error"]["fields"])) == (400, ["reason"])
    assert EscrowInstruction.objects.get(pk=dead.pk).status == Status.DEAD
    response = client.post(f"{BASE}{dead.pk}/cancel/", {"reason": "Đã hoàn tiền ngoài hệ thống"})
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert TimelineEntry.objects.filter(case=dead.case, action="escrow_cancel").count() == 1
    again = client.post(f"{BASE}{dead.pk}/cancel/", {"reason": "lần nữa"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_dead_lettered")


def test_cancelling_the_last_outstanding_instruction_closes_a_resolved_case(
        api, supervisor_user, dead, buyer_user, django_capture_on_commit_callbacks):
    from cases import services

    services.case_withdraw(case_id=dead.case_id, actor=buyer_user, reason="Đã thỏa thuận")
    EscrowInstruction.objects.filter(case=dead.case).exclude(pk=dead.pk).update(status=Status.CONFIRMED)
    with django_capture_on_commit_callbacks(execute=True):
        api(supervisor_user).post(f"{BASE}{dead.pk}/cancel/", {"reason": "Không cần giữ tiền nữa"})
    assert Case.objects.get(pk=dead.case_id).state == State.CLOSED
