"""The supervisor's desk: queues with counts, mediator workload, assignment; others are refused."""

import pytest
import time_machine

from cases.models import State
from cases.services.deadlines import deadlines_sweep
from mediators.models import MediatorProfile
from tests import factories as f
from tests.cases.helpers import case_in
from tests.conftest import client_for
from tests.deadlines.helpers import make_order, vn

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(buyer_user, seller_user, mediator_user, supervisor_user):
    """One case in mediation since Mon 7 Dec 2026 that breaches its 7-working-day SLA on Wed
    16 Dec; one appealed and one unassigned since Mon 14 Dec, within their time."""
    MediatorProfile.objects.create(user=mediator_user, languages=["vi", "dao"], capacity=4)
    cast = {"buyer": buyer_user, "seller": seller_user, "mediator": mediator_user,
            "supervisor": supervisor_user}
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False):
        breaching = case_in(State.IN_MEDIATION, order=make_order(buyer_user, seller_user), **cast)
    with time_machine.travel(vn(2026, 12, 14, 9, 0), tick=False):
        appealed = case_in(State.UNDER_APPEAL, order=make_order(buyer_user, seller_user), **cast)
        unassigned = case_in(State.AWAITING_SELLER, order=make_order(buyer_user, seller_user), **cast)
        from cases import services

        services.case_escalate(case_id=unassigned.pk, actor=seller_user, reason="Hòa giải")
    deadlines_sweep(now=vn(2026, 12, 16, 9, 0))
    return {"breaching": breaching, "appealed": appealed, "unassigned": unassigned}


def test_counts_and_queues(desk, supervisor_user):
    api = client_for(supervisor_user)
    counts = api.get("/api/v1/desk/").json()
    assert counts == {"unassigned": 1, "sla_breaching": 1, "appealed": 1, "overdue_evidence_requests": 0}
    for queue, key in (("unassigned", "unassigned"), ("sla_breaching", "breaching"),
                       ("appealed", "appealed")):
        body = api.get(f"/api/v1/desk/queues/{queue}/").json()
        assert (body["count"], [c["id"] for c in body["results"]]) == (1, [desk[key].pk])
    breach = api.get("/api/v1/desk/queues/sla_breaching/").json()["results"][0]
    assert (breach["state"], breach["sla_breached_at"]) == ("in_mediation", "2026-12-16T09:00:00+07:00")
    assert api.get("/api/v1/desk/queues/nope/").status_code == 404


def test_workload(desk, supervisor_user, mediator_user):
    f.mediator(username="no_profile")
    rows = client_for(supervisor_user).get("/api/v1/desk/mediators/").json()
    assert [(r["username"], r["languages"], r["capacity"], r["available"], r["active_cases"],
             r["decided_cases"], r["breaching_cases"]) for r in rows] == [
        ("mediator", ["vi", "dao"], 4, True, 1, 0, 1),
        ("no_profile", [], 0, False, 0, 0, 0),
    ]


@pytest.mark.parametrize("who", ["mediator_user", "buyer_user", "seller_user", "stranger"])
def test_desk_is_for_supervisors_only(desk, who, request):
    api = client_for(request.getfixturevalue(who))
    for url in ("/api/v1/desk/", "/api/v1/desk/queues/unassigned/", "/api/v1/desk/mediators/"):
        assert api.get(url).status_code == 403
    case = desk["unassigned"]
    response = api.post(f"/api/v1/desk/cases/{case.pk}/assign/", {"mediator": 1, "reason": "x"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.mediator_id is None


def test_anonymous_is_refused(desk):
    assert client_for(None).get("/api/v1/desk/").status_code in (401, 403)


def test_assign_through_the_desk(desk, supervisor_user, mediator_user):
    case = desk["unassigned"]
    response = client_for(supervisor_user).post(f"/api/v1/desk/cases/{case.pk}/assign/",
                                                {"mediator": mediator_user.pk})
    assert (response.status_code, response.json()["mediator"]) == (200, mediator_user.pk)
    assert client_for(supervisor_user).get("/api/v1/desk/").json()["unassigned"] == 0


def test_auto_assign_through_the_desk(desk, supervisor_user, mediator_user):
    case = desk["unassigned"]
    response = client_for(supervisor_user).post(f"/api/v1/desk/cases/{case.pk}/auto-assign/")
    assert (response.status_code, response.json()["mediator"]) == (200, mediator_user.pk)


def test_profiles(desk, supervisor_user, mediator_user):
    own = client_for(mediator_user)
    body = own.patch("/api/v1/mediators/me/", {"available": False}).json()
    assert body["available"] is False
    refused = own.patch("/api/v1/mediators/me/", {"capacity": 50})
    assert (refused.status_code, list(refused.json()["error"]["fields"])) == (400, ["capacity"])
    assert MediatorProfile.objects.get(user=mediator_user).capacity == 4
    body = client_for(supervisor_user).patch(f"/api/v1/desk/mediators/{mediator_user.pk}/",
                                             {"capacity": 6, "languages": ["vi", "sdiu"]}).json()
    assert (body["capacity"], body["languages"]) == (6, ["vi", "sdiu"])
