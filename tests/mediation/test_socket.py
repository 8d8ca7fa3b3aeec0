"""The chat socket, rule by rule: who may connect, what each member receives, the limits."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from cases import services as case_services
from mediation import services
from mediation.models import ChatMessage, ChatRoom, ReadMarker
from odr.asgi import application
from tests.mediation.conftest import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def run(coro_fn):
    return async_to_sync(coro_fn)()


def post(case, user, body, audience="all", **kw):
    return services.chat_post(case=case, author=user, body=body, audience=audience, **kw)


# --- connecting (one test per flush of the database: transactional tests are the slow ones) ---
def test_connect_refusals_token_auth_and_the_socket_limit(cast, settings):
    settings.ODR_CHAT_MAX_SOCKETS = 2
    case = cast.case("in_mediation")
    case.mediator = None  # back in the open queue: an unassigned mediator may SEE the case
    case.save(update_fields=["mediator"])
    token = Token.objects.create(user=cast.buyer)
    last_seq = ChatRoom.objects.get(case=case).last_seq  # the workflow's system lines

    async def go():
        anonymous = WebsocketCommunicator(application, f"/ws/cases/{case.pk}/",
                                          headers=[(b"origin", b"http://127.0.0.1:8000")])
        assert await anonymous.connect() == (True, None)
        assert await anonymous.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
        evil = WebsocketCommunicator(application, f"/ws/cases/{case.pk}/?token={token.key}",
                                     headers=[(b"origin", b"https://evil.example")])
        assert (await evil.connect())[0] is False  # refused by the origin check, before accept
        assert await Socket(cast.stranger, case.pk).close_code() == 4403
        assert await Socket(cast.other_mediator, case.pk).close_code() == 4403
        assert await Socket(cast.buyer, 999_999).close_code() == 4404
        # A token in the query authenticates through the real stack.
        comm = WebsocketCommunicator(application, f"/ws/cases/{case.pk}/?token={token.key}",
                                     headers=[(b"origin", b"http://127.0.0.1:8000")])
        assert await comm.connect() == (True, None)
        hello = json.loads(await comm.receive_from(timeout=2))
        assert hello == {"type": "hello", "case": case.pk, "last_seq": last_seq, "chat_open": True,
                         "user": {"id": cast.buyer.pk, "name": "Nguyễn", "role": "buyer"}}
        # At most ODR_CHAT_MAX_SOCKETS per user; a freed slot can be used again.
        second = Socket(cast.buyer, case.pk)
        await second.open()
        assert await Socket(cast.buyer, case.pk).close_code() == 4408
        await second.close()
        third = Socket(cast.buyer, case.pk)
        await third.open()
        await comm.disconnect()
        await third.close()

    run(go)


# --- history ------------------------------------------------------------------------------------
def test_hello_history_presence_and_since_exactness(cast):
    case = cast.case()  # seq 1: the system line for the filing
    for i in range(2, 7):
        post(case, cast.buyer if i % 2 else cast.seller, f"tin {i}")

    async def go():
        s = Socket(cast.seller, case.pk, "since=3")
        hello, history, online = await s.open()
        assert hello["last_seq"] == 6 and hello["chat_open"] is True
        assert hello["user"] == {"id": cast.seller.pk, "name": "Nguyễn", "role": "seller"}
        assert [m["seq"] for m in history["messages"]] == [4, 5, 6]
        assert [m["body"] for m in history["messages"]] == ["tin 4", "tin 5", "tin 6"]
        assert history["last_seq"] == 6 and history["has_more"] is False
        assert online == {"type": "presence", "online": [
            {"user": cast.seller.pk, "name": "Nguyễn", "role": "seller"}]}
        await s.close()
        full = Socket(cast.seller, case.pk)
        _, history, _ = await full.open()
        assert [m["seq"] for m in history["messages"]] == [1, 2, 3, 4, 5, 6]
        first = history["messages"][0]
        assert first["kind"] == "system" and first["author"] is None
        assert first["author_role"] == "system"
        assert first["body"] == "Người mua đã gửi khiếu nại: hàng bị hư hỏng, 300.000 ₫."
        assert history["messages"][1] == {
            "seq": 2, "id": history["messages"][1]["id"],
            "author": {"id": cast.seller.pk, "name": "Nguyễn"}, "author_role": "seller",
            "kind": "text", "body": "tin 2", "audience": "all", "evidence": None,
            "created_at": history["messages"][1]["created_at"], "pinned": False,
            "redacted": False, "client_id": None}
        await full.close()

    run(go)
    # More than 200 missed: the socket sends the LAST 200 and says there is more (REST pages back).
    ChatMessage.objects.bulk_create([
        ChatMessage(case=case, seq=n, author=cast.buyer, author_role="buyer", body=str(n))
        for n in range(7, 257)])
    ChatRoom.objects.filter(case=case).update(last_seq=256)

    async def capped():
        s = Socket(cast.buyer, case.pk, "since=2")
        hello, history, _ = await s.open()
        assert [m["seq"] for m in history["messages"]] == list(range(57, 257))
        assert (history["has_more"], history["last_seq"], hello["last_seq"]) == (True, 256, 256)
        await s.close()

    run(capped)


# --- messages and caucus ------------------------------------------------------------------------
# --- messages and caucus ------------------------------------------------------------------------
def test_fan_out_echo_caucus_pin_and_redact(cast):
    case = cast.case("in_mediation")
    rude = post(case, cast.buyer, "Số điện thoại của tôi 0912345678")

    async def go():
        b, s, m = Socket(cast.buyer, case.pk), Socket(cast.seller, case.pk), Socket(cast.mediator, case.pk)
        sup = Socket(cast.supervisor, case.pk)
        for sock in (b, s, m, sup):
            await sock.open()
        # Everyone gets a message to all; the sender once, with its client_id.
        await b.send({"type": "message", "body": "Xin chào", "audience": "all", "client_id": "c-1"})
        mine = await b.recv_type("message")
        assert (mine["message"]["client_id"], mine["message"]["body"]) == ("c-1", "Xin chào")
        for sock in (s, m, sup):
            assert (await sock.recv_type("message"))["message"] == mine["message"]
        assert [f for f in await b.drain() if f["type"] == "message"] == []  # no second copy
        # A caucus reaches the staff and that party only.
        await m.send({"type": "message", "body": "Riêng với người mua", "audience": "buyer",
                      "client_id": "k"})
        assert (await m.recv_type("message"))["message"]["audience"] == "buyer"
        assert (await b.recv_type("message"))["message"]["body"] == "Riêng với người mua"
        assert (await sup.recv_type("message"))["message"]["body"] == "Riêng với người mua"
        assert [f for f in await s.drain() if f["type"] == "message"] == []
        # A party may not open a caucus: error frame, nothing saved, socket still open.
        await b.send({"type": "message", "body": "x", "audience": "seller", "client_id": "z"})
        assert (await b.recv_type("error"))["code"] == "forbidden"
        await b.send({"type": "ping"})
        assert await b.recv_type("pong") == {"type": "pong"}
        # Nor does the seller's history have it on reconnect.
        s2 = Socket(cast.seller, case.pk)
        _, history, _ = await s2.open()
        assert [x["body"] for x in history["messages"] if x["kind"] == "text"] == [
            rude.body, "Xin chào"]
        # Mediator tools: pin, redact (parties lose the text, staff keep it), unpin.
        await m.send({"type": "pin", "seq": rude.seq})
        assert await b.recv_type("pinned") == {"type": "pinned", "seq": rude.seq}
        await m.send({"type": "redact", "seq": rude.seq, "reason": "Thông tin cá nhân"})
        assert await b.recv_type("redacted") == {"type": "redacted", "seq": rude.seq}
        await m.send({"type": "unpin", "seq": rude.seq})
        assert await b.recv_type("unpinned") == {"type": "unpinned", "seq": rude.seq}
        await m.send({"type": "redact", "seq": 9999, "reason": "x"})
        assert (await m.recv_type("error"))["code"] == "not_found"
        b2, m2 = Socket(cast.buyer, case.pk), Socket(cast.mediator, case.pk)
        _, hb, _ = await b2.open()
        _, hm, _ = await m2.open()
        party = next(x for x in hb["messages"] if x["seq"] == rude.seq)
        staff = next(x for x in hm["messages"] if x["seq"] == rude.seq)
        assert (party["body"], party["redacted"], "original_body" in party) == ("", True, False)
        assert (staff["body"], staff["original_body"], staff["redaction_reason"]) == (
            "", "Số điện thoại của tôi 0912345678", "Thông tin cá nhân")
        for sock in (b, s, m, sup, s2, b2, m2):
            await sock.close()

    run(go)
    texts = ChatMessage.objects.filter(case=case, kind="text").values_list("audience", "body")
    assert list(texts) == [("all", rude.body), ("all", "Xin chào"), ("buyer", "Riêng với người mua")]
    rude.refresh_from_db()
    assert rude.body == "Số điện thoại của tôi 0912345678"  # kept for the audit
    assert (rude.redacted_by, rude.redaction_reason, rude.pinned_at) == (
        cast.mediator, "Thông tin cá nhân", None)


def test_members_who_lose_membership_are_closed_4403(cast):
    case = cast.case("in_mediation")

    async def go():
        s, m = Socket(cast.seller, case.pk), Socket(cast.mediator, case.pk)
        await s.open()
        await m.open()
        # Seller staff removed from the shop: refused on the next send, then closed.
        await database_sync_to_async(lambda: case.seller.staff.remove(cast.seller))()
        await s.send({"type": "message", "body": "còn đây không?", "client_id": "a"})
        assert (await s.recv_type("error"))["code"] == "forbidden"
        assert await s.comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}
        # Mediator reassigned: the case frame that announces it closes the old mediator's socket.
        await database_sync_to_async(case_services.case_assign)(
            case_id=case.pk, actor=cast.supervisor, mediator=cast.other_mediator)
        assert (await m.recv_type("error"))["code"] == "forbidden"
        assert await m.comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}

    run(go)
    assert ChatMessage.objects.filter(case=case, kind="text").count() == 0


# --- system lines, case frames, closed chat -----------------------------------------------------
def test_transitions_post_system_lines_and_resolution_closes_the_chat(cast):
    case = cast.case()

    async def go():
        b = Socket(cast.buyer, case.pk)
        await b.open()
        offered = await database_sync_to_async(case_services.case_offer)(
            case_id=case.pk, actor=cast.seller, remedy="partial_refund", amount=100_000)
        line = await b.recv_type("message")
        assert (line["message"]["kind"], line["message"]["seq"]) == ("system", 2)
        assert line["message"]["body"] == (
            "Người bán đã đưa ra đề nghị: hoàn tiền một phần, 100.000 ₫. "
            "Trạng thái: Chờ người bán trả lời → Chờ người mua trả lời.")
        entry = await database_sync_to_async(lambda: offered.timeline.order_by("-pk").first().pk)()
        assert await b.recv_type("case") == {"type": "case", "state": "awaiting_buyer",
                                             "action": "make_offer", "entry_id": entry}
        await database_sync_to_async(case_services.case_withdraw)(
            case_id=case.pk, actor=cast.buyer, reason="Đã nhận lại tiền")
        assert (await b.recv_type("case"))["state"] == "resolved"
        assert await b.recv_type("chat_closed") == {"type": "chat_closed"}
        await b.send({"type": "message", "body": "còn gửi được không?", "client_id": "q"})
        assert (await b.recv_type("error"))["code"] == "chat_closed"
        await b.close()
        again = Socket(cast.buyer, case.pk)
        hello, history, _ = await again.open()
        assert hello["chat_open"] is False
        assert [m["kind"] for m in history["messages"]] == ["system", "system", "system"]
        assert history["messages"][-1]["body"].startswith("Người mua đã rút khiếu nại.")
        await again.close()

    run(go)
    assert ChatRoom.objects.get(case=case).closed_at is not None
    assert ChatMessage.objects.filter(case=case, kind="text").count() == 0


# --- typing, presence, read ---------------------------------------------------------------------
def test_typing_presence_and_read_markers(cast):
    case = cast.case()
    post(case, cast.seller, "một")
    post(case, cast.seller, "hai")
    count = ChatMessage.objects.count()

    async def go():
        b = Socket(cast.buyer, case.pk)
        await b.open()
        s = Socket(cast.seller, case.pk)
        _, _, online = await s.open()
        both = sorted([cast.buyer.pk, cast.seller.pk])
        assert [o["user"] for o in online["online"]] == both
        assert [o["user"] for o in (await b.recv_type("presence"))["online"]] == both
        await s.send({"type": "typing"})
        assert await b.recv_type("typing") == {"type": "typing", "user": cast.seller.pk,
                                               "name": "Nguyễn", "role": "seller"}
        assert [f for f in await s.drain() if f["type"] == "typing"] == []  # not to oneself
        await b.send({"type": "read", "seq": 3})
        assert await s.recv_type("read") == {"type": "read", "user": cast.buyer.pk, "seq": 3}
        await b.send({"type": "read", "seq": 2})  # backwards: ignored
        await b.send({"type": "read", "seq": 99})  # past the end: clamped to the last (3)
        assert [f for f in await s.drain() if f["type"] == "read"] == []
        assert [f for f in await b.drain() if f["type"] == "error"] == []
        await s.close()
        assert [o["user"] for o in (await b.recv_type("presence"))["online"]] == [cast.buyer.pk]
        await b.close()

    run(go)
    assert ChatMessage.objects.count() == count  # typing and presence are never stored
    assert ReadMarker.objects.get(user=cast.buyer, case=case).last_read_seq == 3


# --- limits and bad input -----------------------------------------------------------------------
def test_presence_is_announced_when_a_user_arrives_or_leaves_not_per_tab(cast):
    """A second tab of someone already in the room changes nobody's list, nor does closing it;
    their last tab closing does (a reconnect wave of multi-tab users sends no presence)."""
    case = cast.case()

    def users(frame):
        return [o["user"] for o in frame["online"]]

    async def go():
        b = Socket(cast.buyer, case.pk)
        await b.open()
        first = Socket(cast.seller, case.pk)
        await first.open()
        both = sorted([cast.buyer.pk, cast.seller.pk])
        assert users(await b.recv_type("presence")) == both  # the seller arrived
        second = Socket(cast.seller, case.pk)
        _, _, online = await second.open()
        assert users(online) == both  # the new tab itself gets the list
        await second.close()
        assert [f for f in await b.drain() if f["type"] == "presence"] == []
        await first.close()  # the seller's last tab
        assert users(await b.recv_type("presence")) == [cast.buyer.pk]
        await b.close()

    run(go)


def test_bad_frames_size_and_rate_limits_keep_the_socket_open(cast, settings):
    settings.ODR_CHAT_MSG_RATE, settings.ODR_CHAT_MSG_BURST = 0.001, 4
    case = cast.case()

    async def go():
        b = Socket(cast.buyer, case.pk)
        await b.open()
        await b.send("{not json")
        assert (await b.recv_type("error"))["code"] == "invalid_json"
        await b.send("[1, 2]")
        assert (await b.recv_type("error"))["code"] == "invalid_json"
        await b.comm.send_to(bytes_data=b"\x00\x01")
        assert (await b.recv_type("error"))["code"] == "invalid_json"
        await b.send({"type": "shout"})
        assert (await b.recv_type("error"))["code"] == "unknown_type"
        await b.send({"type": "pin", "seq": 1})  # a party may not pin
        assert (await b.recv_type("error"))["code"] == "forbidden"
        await b.send({"type": "message", "body": "x" * 4001, "client_id": "long"})  # token 1
        assert (await b.recv_type("error"))["code"] == "too_long"
        await b.send({"type": "message", "body": "x" * 4000, "client_id": "ok"})  # token 2
        assert len((await b.recv_type("message"))["message"]["body"]) == 4000
        for i in range(3):  # tokens 3 and 4, then the bucket is empty
            await b.send({"type": "message", "body": f"m{i}", "client_id": f"r{i}"})
        kinds = [(f["type"], f.get("code")) for f in await b.drain(0.5)
                 if f["type"] in ("message", "error")]
        assert kinds == [("message", None), ("message", None), ("error", "rate_limited")]
        await b.send({"type": "ping"})
        assert await b.recv_type("pong") == {"type": "pong"}
        await b.close()

    run(go)
    saved = ChatMessage.objects.filter(case=case, kind="text").values_list("client_id", flat=True)
    assert list(saved) == ["ok", "r0", "r1"]


def test_a_silent_member_who_loses_membership_is_closed_by_the_recheck(cast, settings,
                                                                       monkeypatch):
    """Seller staff removed from the shop who never sends anything still stop receiving."""
    from mediation import presence

    monkeypatch.setattr(presence, "HEARTBEAT", 0.05)
    settings.ODR_CHAT_RECHECK_SECONDS = 0.1
    case = cast.case("in_mediation")

    async def go():
        s = Socket(cast.seller, case.pk)
        await s.open()
        await database_sync_to_async(lambda: case.seller.staff.remove(cast.seller))()
        assert (await s.recv_type("error"))["code"] == "forbidden"
        assert await s.comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}

    run(go)


def test_removal_from_the_shop_is_announced_and_closes_only_that_users_sockets(cast, settings):
    """No waiting for the periodic re-check: the removal reaches the socket at once, from
    either side of the relation; other members are untouched."""
    settings.ODR_CHAT_RECHECK_SECONDS = 10_000
    case = cast.case("in_mediation")

    async def go():
        seller, buyer = Socket(cast.seller, case.pk), Socket(cast.buyer, case.pk)
        await seller.open()
        await buyer.open()
        await database_sync_to_async(lambda: cast.seller.seller_memberships.remove(case.seller))()
        assert (await seller.recv_type("error", timeout=3))["code"] == "forbidden"
        assert await seller.comm.receive_output(timeout=2) == {"type": "websocket.close",
                                                               "code": 4403}
        assert [f for f in await buyer.drain() if f["type"] in ("error", "message")] == []
        await buyer.send({"type": "ping"})
        assert await buyer.recv_type("pong") == {"type": "pong"}
        await buyer.close()

    run(go)


def test_memberships_read_before_the_socket_joined_are_read_again(cast):
    """The token lookup reads the user's shops before the socket joins the case's live events;
    a removal committed in between must still refuse the socket (4403), not admit it on the
    roles the user object carries."""
    from cases import roles

    case = cast.case("in_mediation")
    seller = cast.seller
    assert case.seller_id in roles.seller_ids(seller)  # what the handshake's lookup brought
    case.seller.staff.remove(seller)

    async def go():
        assert await Socket(seller, case.pk).close_code() == 4403

    run(go)


def test_nothing_is_sent_once_this_side_has_closed():
    """A handler still holding an event when the socket is closed (lagging, revoked) must not
    send after the close frame: uvicorn raises on it. The client resumes with `since`."""
    from mediation.consumers import CaseChatConsumer

    consumer, sent = CaseChatConsumer(), []

    async def base_send(message):
        sent.append(message["type"])

    async def go():
        consumer.base_send = base_send
        await consumer.send(text_data="before")
        await consumer.close(code=4409)
        await consumer.send(text_data="late")

    async_to_sync(go)()
    assert sent == ["websocket.send", "websocket.close"]


@pytest.mark.parametrize("refusal", [RuntimeError("Unexpected ASGI message 'websocket.send', "
                                                  "after sending 'websocket.close'."),
                                     OSError("client disconnected")])
def test_a_frame_racing_the_clients_close_is_dropped(refusal):
    """The client closed and its disconnect is still queued behind a frame: uvicorn refuses
    the frame. It is dropped without an error (the client resumes with `since`), and nothing
    more is sent."""
    from mediation.consumers import CaseChatConsumer

    consumer, sent = CaseChatConsumer(), []

    async def base_send(message):
        sent.append(message["type"])
        if len(sent) > 1:
            raise refusal

    async def go():
        consumer.base_send = base_send
        await consumer.send(text_data="delivered")
        await consumer.send(text_data="refused")
        await consumer._send({"type": "pong"})

    async_to_sync(go)()
    assert sent == ["websocket.send", "websocket.send"] and consumer.closing

