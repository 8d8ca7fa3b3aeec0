"""The chat over REST: same visibility as the socket, same service, 404 for non-members."""

import pytest

from mediation import services
from mediation.models import ChatMessage, ReadMarker
from mediation.selectors import unread_counts
from tests.cases.helpers import case_in, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(order, buyer_user, seller_user, mediator_user, supervisor_user):
    # Non-transactional tests: on-commit work (system lines) does not run, so seq starts at 1.
    return case_in("in_mediation", order=order, buyer=buyer_user, seller=seller_user,
                   mediator=mediator_user, supervisor=supervisor_user)


def post(case, user, body, audience="all", **kw):
    return services.chat_post(case=case, author=user, body=body, audience=audience, **kw)


def test_history_pages_forward_and_back_with_the_same_caucus_rules(api, case, buyer_user,
                                                                   seller_user, mediator_user):
    for i in range(1, 6):
        post(case, buyer_user, f"b{i}")
    post(case, mediator_user, "riêng người bán", audience="seller")  # seq 6
    post(case, seller_user, "s7")  # seq 7
    url = f"/api/v1/cases/{case.pk}/messages/"

    page = api(buyer_user).get(url, {"limit": 3}).json()
    assert [m["seq"] for m in page["results"]] == [4, 5, 7]
    assert (page["last_seq"], page["has_more"], page["chat_open"]) == (7, True, True)
    back = api(buyer_user).get(url, {"before": 4, "limit": 3}).json()
    assert [m["seq"] for m in back["results"]] == [1, 2, 3] and back["has_more"] is False
    forward = api(buyer_user).get(url, {"since": 2, "limit": 2}).json()
    assert [m["seq"] for m in forward["results"]] == [3, 4] and forward["has_more"] is True

    seller_view = api(seller_user).get(url, {"since": 5}).json()
    assert [m["seq"] for m in seller_view["results"]] == [6, 7]
    assert seller_view["results"][0]["audience"] == "seller"


@pytest.mark.parametrize("who", ["stranger", "other_mediator", "anonymous"])
def test_non_members_get_404_anonymous_401_and_nothing_changes(api, case, stranger, who):
    from tests import factories as f

    user = {"stranger": stranger, "other_mediator": f.mediator(username="m2"),
            "anonymous": None}[who]
    url = f"/api/v1/cases/{case.pk}/messages/"
    get = api(user).get(url)
    made = api(user).post(url, {"body": "xin chào", "client_id": "x"}, format="json")
    # Token auth comes first in the project's DRF settings: anonymous is 401 not_authenticated
    # (with a `WWW-Authenticate: Token` challenge).
    expected = (401, "not_authenticated") if user is None else (404, "not_found")
    assert (get.status_code, get.json()["error"]["code"]) == expected
    assert (made.status_code, made.json()["error"]["code"]) == expected
    assert ChatMessage.objects.count() == 0


def test_post_uses_the_service_rules(api, case, buyer_user, mediator_user):
    url = f"/api/v1/cases/{case.pk}/messages/"
    created = api(buyer_user).post(url, {"body": "  Chào  ", "client_id": "c1"}, format="json")
    assert created.status_code == 201
    assert (created.json()["seq"], created.json()["body"], created.json()["client_id"]) == (
        1, "Chào", "c1")
    again = api(buyer_user).post(url, {"body": "Chào", "client_id": "c1"}, format="json")
    assert (again.status_code, again.json()["id"]) == (201, created.json()["id"])  # idempotent
    caucus = api(buyer_user).post(url, {"body": "x", "audience": "seller"}, format="json")
    assert (caucus.status_code, caucus.json()["error"]["code"]) == (403, "forbidden")
    long = api(buyer_user).post(url, {"body": "x" * 4001}, format="json")
    assert (long.status_code, long.json()["error"]["code"]) == (400, "too_long")
    empty = api(buyer_user).post(url, {"body": "   "}, format="json")
    assert empty.status_code == 400
    assert ChatMessage.objects.count() == 1


def test_attachment_must_be_evidence_of_the_same_case(api, case, buyer_user, order):
    from cases import services as case_services
    from tests import factories as f
    from tests.cases.helpers import file_case

    ev = case_services.evidence_add(case=case, actor=buyer_user, upload=png())
    url = f"/api/v1/cases/{case.pk}/messages/"
    ok = api(buyer_user).post(url, {"body": "", "evidence": str(ev.uid)}, format="json").json()
    assert ok["kind"] == "attachment"
    assert ok["evidence"] == {"uid": str(ev.uid), "name": "anh.png", "content_type": "image/png",
                              "download_url": f"/api/v1/evidence/{ev.uid}/"}
    other_order = f.paid_order(buyer__user=buyer_user)
    other = case_services.evidence_add(case=file_case(other_order, buyer_user), actor=buyer_user,
                                       upload=png())
    refused = api(buyer_user).post(url, {"body": "x", "evidence": str(other.uid)}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_found")
    assert ChatMessage.objects.count() == 1


@pytest.mark.parametrize("n", [3, 30])
def test_a_resume_reads_three_queries_whatever_its_length(case, buyer_user, seller_user,
                                                          mediator_user, n,
                                                          django_assert_num_queries):
    """The messages, their authors, their evidence: one query each, however many messages
    (a room has a handful of authors)."""
    from cases import services as case_services
    from mediation.access import chat_member, display_name
    from mediation.selectors import chat_resume, message_json

    uid = case_services.evidence_add(case=case, actor=buyer_user, upload=png()).uid
    post(case, buyer_user, "ảnh", evidence_uid=str(uid))
    for i in range(n):
        post(case, [buyer_user, seller_user, mediator_user][i % 3], f"m{i}")
    member = chat_member(mediator_user, case)
    with django_assert_num_queries(3):
        messages, more = chat_resume(member=member, case=case, since=None)
    assert len(messages) == n + 1 and more is False
    assert messages == [message_json(m, staff=True)
                        for m in ChatMessage.objects.filter(case=case).order_by("seq")]
    assert messages[0]["evidence"]["uid"] == str(uid)
    assert {m["author"]["name"] for m in messages} == {
        display_name(u) for u in (buyer_user, seller_user, mediator_user)}
    with django_assert_num_queries(1):  # nothing new: no author or evidence to read
        assert chat_resume(member=member, case=case, since=n + 1) == ([], False)


def test_read_marker_and_unread_counts_in_one_query(api, case, buyer_user, seller_user,
                                                    mediator_user, django_assert_num_queries):
    post(case, seller_user, "s1")
    post(case, seller_user, "s2")
    post(case, mediator_user, "riêng người bán", audience="seller")
    post(case, buyer_user, "của tôi")
    with django_assert_num_queries(1):
        assert unread_counts(buyer_user, [case.pk, 999]) == {case.pk: 2}
    assert unread_counts(seller_user, [case.pk]) == {case.pk: 2}  # mediator caucus + buyer's
    assert unread_counts(mediator_user, [case.pk]) == {case.pk: 3}
    read = api(buyer_user).post(f"/api/v1/cases/{case.pk}/messages/read/", {"seq": 1}, format="json")
    assert read.json() == {"last_read_seq": 1}
    assert unread_counts(buyer_user, [case.pk]) == {case.pk: 1}
    listed = api(buyer_user).get("/api/v1/chat/unread/", {"cases": f"{case.pk},999"}).json()
    assert listed == {str(case.pk): 1, "999": 0}
    assert ReadMarker.objects.get(user=buyer_user, case=case).last_read_seq == 1


def test_unread_counts_never_count_other_peoples_cases(case, stranger, seller_user):
    post(case, seller_user, "s1")
    assert unread_counts(stranger, [case.pk]) == {}


def test_mediator_pins_and_redacts_over_rest_parties_cannot(api, case, buyer_user, mediator_user):
    msg = post(case, buyer_user, "đồ lừa đảo")
    base = f"/api/v1/cases/{case.pk}/messages/{msg.seq}"
    refused = api(buyer_user).post(f"{base}/redact/", {"reason": "x"}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    msg.refresh_from_db()
    assert msg.redacted_at is None
    no_reason = api(mediator_user).post(f"{base}/redact/", {}, format="json")
    assert no_reason.status_code == 400
    done = api(mediator_user).post(f"{base}/redact/", {"reason": "Xúc phạm"}, format="json").json()
    assert (done["body"], done["original_body"], done["redacted"]) == ("", "đồ lừa đảo", True)
    party = api(buyer_user).get(f"/api/v1/cases/{case.pk}/messages/").json()["results"][0]
    assert (party["body"], "original_body" in party) == ("", False)
    pinned = api(mediator_user).post(f"{base}/pin/", {}, format="json").json()
    assert pinned["pinned"] is True
