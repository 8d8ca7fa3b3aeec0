"""The mediation chat socket, `/ws/cases/<case_id>/?since=<seq>` (protocol in README.md, "Mediation chat").

Thin: parse a frame, call a service (which re-checks membership on fresh data and persists
before anything is broadcast), send the answer. The case's events arrive through
`mediation.fanout` (one broadcast per process, not the channel layer) into this socket's own
queue; each socket forwards only what its user may see (a caucus never reaches the other party).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import deque
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from cases.errors import DomainError
from cases.models import Case
from mediation import fanout, presence, services
from mediation.access import Member, chat_member
from mediation.selectors import chat_resume, room_state
from odr.asyncdb import db as _db
from odr.asyncdb import db_deferrable

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4408
CLOSE_LAGGING = 4409  # the socket could not keep up: reconnect with since=<seq>
MAX_BACKLOG = 2000  # events queued for one socket before it is dropped as lagging
MAX_FRAME = 32_768  # characters of a raw frame: 4,000 characters fit even \u-escaped (×6)


def _limit(name: str, default):
    return getattr(settings, name, default)


class TokenBucket:
    """`rate` per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _open(user, case_id: int, since: int | None) -> tuple[bool, Member | None, int, bool, list, bool]:
    """Everything a connecting socket needs from the database, in one trip off the loop:
    (case exists, membership, last seq, chat open, history after `since`, more before it).
    Memberships are read again (`fresh`) even though the token lookup brought them: that was
    before this socket joined the case's live events, and a removal from the shop committed in
    between would otherwise reach it neither in this read nor as a `chat.recheck` event."""
    case = Case.objects.select_related("buyer", "chat_room").filter(pk=case_id).first()
    if case is None:
        return False, None, 0, False, [], False
    member = chat_member(user, case, fresh=True)
    if member is None:
        return True, None, 0, False, [], False
    last_seq, chat_open = room_state(case=case)
    messages, more = chat_resume(member=member, case=case, since=since)
    return True, member, last_seq, chat_open, messages, more


def _recheck(user, case_id: int) -> Member | None:
    case = Case.objects.select_related("buyer").filter(pk=case_id).first()
    return chat_member(user, case, fresh=True) if case else None


class CaseChatConsumer(AsyncWebsocketConsumer):
    # No channel layer: the case's events come through mediation.fanout (see there why), and
    # nothing else is ever sent to a chat socket by channel name.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.member: Member | None = None
        self.case_id = int(self.scope["url_route"]["kwargs"]["case_id"])
        self.channel_name = f"chat!{uuid.uuid4().hex}"  # this socket's id (presence, typing)
        self.history_upto = 0
        self.sent: set[int] = set()  # seqs of messages this socket already got (echo or live)
        self.sent_order: deque[int] = deque()
        self.heartbeat: asyncio.Task | None = None
        self.pump: asyncio.Task | None = None
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.lagging = False  # fell MAX_BACKLOG events behind: being closed with 4409
        self.hub: fanout.Hub | None = None
        self.frames = TokenBucket(_limit("ODR_CHAT_FRAME_RATE", 20), _limit("ODR_CHAT_FRAME_BURST", 40))
        self.messages = TokenBucket(_limit("ODR_CHAT_MSG_RATE", 5), _limit("ODR_CHAT_MSG_BURST", 10))
        self.typing_at = 0.0
        user = self.scope.get("user")
        # Accept, then close with a code: a refusal before accept reaches the browser as a bare
        # HTTP 403 and the client could not tell "log in" from "not yours" from "no such case".
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        # Join the case's live events first, then read: anything saved meanwhile is either in
        # the history or arrives live (and is dropped if it was already in the history). Live
        # events wait in the inbox until the history is out, so the client sees them in order.
        self.hub = fanout.hub()
        await self.hub.join(self.case_id, self._enqueue)
        found, member, last_seq, chat_open, messages, more = await db_deferrable(_open)(
            user, self.case_id, self._since())
        if member is None:
            await self._leave_hub()
            await self._refuse(CLOSE_FORBIDDEN if found else CLOSE_NOT_FOUND)
            return
        reg = presence.registry()
        if await reg.socket_open(user.pk, self.channel_name) > _limit("ODR_CHAT_MAX_SOCKETS", 10):
            await reg.socket_close(user.pk, self.channel_name)
            await self._leave_hub()
            await self._refuse(CLOSE_TOO_MANY)
            return
        self.member, self.user, self.chat_open = member, user, chat_open
        await self.accept()
        last_seq = max([last_seq, *(m["seq"] for m in messages)])
        self.history_upto = last_seq
        await self._send({"type": "hello", "case": self.case_id, "user": member.as_json(),
                          "last_seq": last_seq, "chat_open": chat_open})
        await self._send({"type": "history", "messages": messages, "last_seq": last_seq,
                          "has_more": more})
        self.pump = asyncio.create_task(self._pump())
        online, arrived = await reg.join_listing(self.case_id, self.channel_name, self._info())
        await self._send({"type": "presence", "online": online})
        if arrived:  # another tab of someone already here changes nobody's list
            await self.hub.apublish(self.case_id, {"type": "chat.presence", "online": online,
                                                   "sender": self.channel_name})
        self.heartbeat = asyncio.create_task(self._beat())

    async def dispatch(self, message: dict) -> None:
        """As Channels', minus its `aclose_old_connections()` hop through the one sync thread
        before every frame: this consumer's database work runs in its own pool (`_db`), which
        looks after its connections."""
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _leave_hub(self) -> None:
        hub, self.hub = self.hub, None
        if hub is not None:
            await hub.leave(self.case_id, self._enqueue)
        self.inbox = asyncio.Queue()

    def _enqueue(self, event: dict) -> None:
        """Called by the hub on the loop for every event of the case: queue it for the pump."""
        if self.lagging:
            return
        if self.inbox.qsize() >= _limit("ODR_CHAT_MAX_BACKLOG", MAX_BACKLOG):
            self.lagging = True
            asyncio.get_running_loop().create_task(self._drop_lagging())
            return
        self.inbox.put_nowait(event)

    async def _drop_lagging(self) -> None:
        await self._leave_hub()
        if self.pump:
            self.pump.cancel()
        await self._error("lagging", "Kết nối quá chậm, vui lòng kết nối lại.")
        await self.close(code=CLOSE_LAGGING)

    async def _pump(self) -> None:
        """This socket's events, one at a time and in order."""
        while True:
            event = await self.inbox.get()
            handler = self.EVENTS.get(event.get("type"))
            if handler is None:
                continue
            try:
                await handler(self, event)
            except Exception:
                log.exception("chat event %s failed on case %s", event.get("type"), self.case_id)
            if self.member is None:  # revoked (chat.case re-check): nothing more to forward
                return

    def _since(self) -> int | None:
        raw = (parse_qs(self.scope.get("query_string", b"").decode()).get("since") or [None])[0]
        try:
            value = int(raw) if raw is not None else None
        except ValueError:
            return None
        return value if value is not None and value >= 0 else None

    def _info(self) -> dict:
        return {"user": self.member.user_id, "name": self.member.name, "role": self.member.role}

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def _beat(self) -> None:
        """Keep presence fresh, and re-check membership now and then: someone removed from the
        shop (or the case) who only listens must not keep receiving it."""
        reg = presence.registry()
        # Spread the sockets' re-checks over the interval: 2,000 sockets that connected within a
        # minute must not all query at once a minute later (measured: it doubled chat latency).
        last_check = time.monotonic() - random.uniform(0, _limit("ODR_CHAT_RECHECK_SECONDS", 300))
        while True:
            await asyncio.sleep(presence.HEARTBEAT)
            with contextlib.suppress(Exception):
                await reg.refresh(self.case_id, self.member.user_id, self.channel_name, self._info())
            if time.monotonic() - last_check >= _limit("ODR_CHAT_RECHECK_SECONDS", 300):
                last_check = time.monotonic()
                try:
                    member = await db_deferrable(_recheck)(self.user, self.case_id)
                except Exception:
                    log.exception("membership re-check failed on case %s", self.case_id)
                    continue
                if member is None:
                    self.heartbeat = None  # _revoke → disconnect must not cancel this task
                    await self._revoke()
                    return
                self.member = member

    async def disconnect(self, code: int) -> None:
        if self.member is None:
            return
        if self.heartbeat:
            self.heartbeat.cancel()
        if self.pump and self.pump is not asyncio.current_task():
            self.pump.cancel()
        await self._leave_hub()
        user_id = self.member.user_id
        online = await presence.registry().leave_listing(self.case_id, user_id, self.channel_name)
        self.member = None
        if all(o["user"] != user_id for o in online):  # their last socket here: they left
            await fanout.hub().apublish(self.case_id, {"type": "chat.presence", "online": online})

    # --- frames from the client ---------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.member is None:
            return
        if text_data is None:
            return await self._error("invalid_json", "Chỉ nhận khung văn bản JSON.")
        if len(text_data) > MAX_FRAME:
            return await self._error("too_long", f"Khung dữ liệu quá lớn (tối đa {MAX_FRAME} ký tự).")
        if not self.frames.take():
            return await self._error("rate_limited", "Gửi quá nhanh, vui lòng chờ một chút.")
        try:
            frame = json.loads(text_data)
        except ValueError:
            return await self._error("invalid_json", "Dữ liệu không phải JSON hợp lệ.")
        if not isinstance(frame, dict):
            return await self._error("invalid_json", "Khung dữ liệu phải là một đối tượng JSON.")
        handler = self.HANDLERS.get(frame.get("type"))
        if handler is None:
            return await self._error("unknown_type", "Loại khung không được hỗ trợ.")
        await handler(self, frame)

    async def _call(self, fn, **kwargs):
        """Run a service; map its refusal to an error frame (and losing membership to 4403)."""
        try:
            return await _db(fn)(case=self.case_id, **kwargs)
        except services.NotMember:
            await self._revoke()
        except DomainError as exc:
            await self._error(exc.code, exc.message)
        except Exception:
            # A database hiccup must not kill the socket (nor skip disconnect's clean-up): the
            # client may retry with the same client_id, which cannot duplicate the message.
            log.exception("chat frame failed on case %s", self.case_id)
            await self._error("server_error", "Lỗi máy chủ, vui lòng thử lại.")
        return None

    async def _revoke(self) -> None:
        await self._error("forbidden", "Bạn không còn tham gia vụ việc này.")
        await self.disconnect(CLOSE_FORBIDDEN)
        await self.close(code=CLOSE_FORBIDDEN)

    async def on_message(self, frame: dict) -> None:
        if not self.messages.take():
            return await self._error("rate_limited", "Gửi quá nhanh, vui lòng chờ một chút.")
        body = frame.get("body", "")
        if isinstance(body, str) and len(body) > services.MAX_BODY:
            return await self._error("too_long", f"Tin nhắn tối đa {services.MAX_BODY} ký tự.")
        audience = frame.get("audience", "all")
        client_id = frame.get("client_id")
        msg = await self._call(services.chat_post, author=self.user, body=body, audience=audience,
                               client_id=str(client_id) if client_id is not None else None,
                               evidence_uid=frame.get("evidence") or None)
        if msg is not None:
            # Echo at once (the live copy is then skipped): the sender learns its seq even if
            # the live bus drops the broadcast.
            from mediation.selectors import message_json

            if self._first_time(msg.seq):
                await self._send({"type": "message",
                                  "message": message_json(msg, staff=self.member.is_staff)})

    async def on_typing(self, frame: dict) -> None:
        now = time.monotonic()
        if now - self.typing_at < 2:  # ephemeral and frequent: forward at most one per 2 s
            return
        member = self.member
        audience = frame.get("audience", "all")
        if audience not in ("all", "buyer", "seller") or (audience != "all" and not member.is_staff):
            audience = "all"
        self.typing_at = now
        await self.hub.apublish(self.case_id, {
            "type": "chat.typing", "user": member.user_id, "name": member.name, "role": member.role,
            "audience": audience, "sender": self.channel_name})

    async def on_read(self, frame: dict) -> None:
        await self._call(services.chat_mark_read, user=self.user, seq=frame.get("seq"))

    async def on_pin(self, frame: dict) -> None:
        await self._call(services.chat_pin, actor=self.user, seq=frame.get("seq"), pinned=True)

    async def on_unpin(self, frame: dict) -> None:
        await self._call(services.chat_pin, actor=self.user, seq=frame.get("seq"), pinned=False)

    async def on_redact(self, frame: dict) -> None:
        await self._call(services.chat_redact, actor=self.user, seq=frame.get("seq"),
                         reason=frame.get("reason", ""))

    async def on_ping(self, frame: dict) -> None:
        await self._send({"type": "pong"})

    HANDLERS = {"message": on_message, "typing": on_typing, "read": on_read, "pin": on_pin,
                "unpin": on_unpin, "redact": on_redact, "ping": on_ping}

    # --- events of the case (mediation.fanout) -----------------------------------------------
    def _sees(self, event: dict) -> bool:
        return self.member is not None and self.member.sees(event.get("audience", "all"))

    def _first_time(self, seq: int) -> bool:
        """Whether this socket has not had message `seq` yet (history, echo or live copy)."""
        if seq <= self.history_upto or seq in self.sent:
            return False
        self.sent.add(seq)
        self.sent_order.append(seq)
        if len(self.sent_order) > 512:
            self.sent.discard(self.sent_order.popleft())
        return True

    async def chat_message(self, event: dict) -> None:
        if not self._sees(event) or not self._first_time(event["message"]["seq"]):
            return
        # Serialised once per process: every local socket of the case sends the same text.
        text = event.get("_text")
        if text is None:
            text = event["_text"] = json.dumps({"type": "message", "message": event["message"]},
                                               ensure_ascii=False)
        await self.send(text_data=text)

    async def chat_pinned(self, event: dict) -> None:
        if self._sees(event):
            await self._send({"type": "pinned", "seq": event["seq"]})

    async def chat_unpinned(self, event: dict) -> None:
        if self._sees(event):
            await self._send({"type": "unpinned", "seq": event["seq"]})

    async def chat_redacted(self, event: dict) -> None:
        if self._sees(event):
            await self._send({"type": "redacted", "seq": event["seq"]})

    async def chat_read(self, event: dict) -> None:
        if self.member is not None:
            await self._send({"type": "read", "user": event["user"], "seq": event["seq"]})

    async def chat_typing(self, event: dict) -> None:
        if event["sender"] != self.channel_name and self._sees(event):
            await self._send({"type": "typing", "user": event["user"], "name": event["name"],
                              "role": event["role"]})

    async def chat_presence(self, event: dict) -> None:
        if self.member is not None and event.get("sender") != self.channel_name:
            await self._send({"type": "presence", "online": event["online"]})

    async def chat_case(self, event: dict) -> None:
        """The case moved: membership may have changed with it (a mediator reassigned)."""
        if self.member is None:
            return
        member = await db_deferrable(_recheck)(self.user, self.case_id)
        if member is None:
            return await self._revoke()
        self.member = member
        await self._send({"type": "case", "state": event["state"], "action": event["action"],
                          "entry_id": event["entry_id"]})

    async def chat_recheck(self, event: dict) -> None:
        """Someone's shop membership changed: if it is this socket's user, re-read it."""
        if self.member is None or self.member.user_id not in event.get("users", ()):
            return
        member = await db_deferrable(_recheck)(self.user, self.case_id)
        if member is None:
            return await self._revoke()
        self.member = member

    async def chat_closed(self, event: dict) -> None:
        if self.member is not None:
            self.chat_open = False
            await self._send({"type": "chat_closed"})

    EVENTS = {"chat.message": chat_message, "chat.pinned": chat_pinned,
              "chat.unpinned": chat_unpinned, "chat.redacted": chat_redacted, "chat.read": chat_read,
              "chat.typing": chat_typing, "chat.presence": chat_presence, "chat.case": chat_case,
              "chat.closed": chat_closed, "chat.recheck": chat_recheck}

    # --- helpers -------------------------------------------------------------------------------
    closing = False  # this side sent the close frame

    async def close(self, code=None, reason=None) -> None:
        self.closing = True
        await super().close(code=code, reason=reason)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """Nothing more once the socket is closed; the client gets what it missed when it
        resumes with `since`. This side closed: a frame a handler was still about to send (a
        lagging socket's queued events) is dropped. The client closed, or vanished, with its
        disconnect still queued behind this frame: uvicorn raises ClientDisconnected (an
        OSError) or, once it has answered the client's close, RuntimeError ("send after
        close") — the frame is dropped and disconnect() cleans up (an exception here would
        end the consumer without releasing presence and the user's socket slot)."""
        if self.closing:
            return
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except (OSError, RuntimeError):
            self.closing = True

    async def _send(self, data: dict) -> None:
        await self.send(text_data=json.dumps(data, ensure_ascii=False))

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "code": code, "message": message})
