"""Every write to the chat. Each service re-checks membership against fresh data, persists in
its own transaction and only then broadcasts (after commit, mediation.fanout): the live bus is a
best-effort bus, the database is the record, and clients resume by sequence number.
"""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cases import roles
from cases.errors import Conflict, DomainError, InvalidInput, NotFound
from cases.events import CaseEvent
from cases.models import Case, Evidence, State
from cases.selectors import case_with_buyer
from mediation import fanout
from mediation.access import Member, chat_member
from mediation.models import ChatMessage, ChatRoom, ReadMarker
from mediation.selectors import message_json
from mediation.texts import system_text
from odr.inserts import insert
from odr.joined import fetch_one, positional, prepared

log = logging.getLogger(__name__)

MAX_BODY = getattr(settings, "ODR_CHAT_MAX_BODY", 4000)
MAX_CLIENT_ID = 64
CLOSING_STATES = (State.RESOLVED, State.CLOSED)


class NotMember(NotFound):
    """Not (or no longer) a member of this case's chat: REST answers 404, the socket 4403."""

    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class ChatClosed(Conflict):
    code = "chat_closed"


class TooLong(InvalidInput):
    code = "too_long"


def _on_commit_broadcast(case_id: int, event: dict) -> None:
    """After commit, to every socket of the case (mediation.fanout); never raises."""
    transaction.on_commit(lambda: fanout.publish(case_id, event))


def _case(case_or_id) -> Case:
    case_id = case_or_id.pk if isinstance(case_or_id, Case) else int(case_or_id)
    case = case_with_buyer(case_id)
    if case is None:
        raise NotMember("Case not found")
    return case


def _member(author, case: Case) -> Member:
    member = chat_member(author, case, fresh=True)
    if member is None:
        raise NotMember("Case not found")
    return member


def _next_seq(case_id: int, *, allow_closed: bool) -> int:
    """Take the case's next number: one row-locking UPDATE on this case's room (other cases
    are not touched), rolled back with the message if anything after it fails."""
    sql = (f"UPDATE {ChatRoom._meta.db_table} SET last_seq = last_seq + 1 "  # noqa: S608
           "WHERE case_id = %s RETURNING last_seq, closed_at")
    for _ in range(2):
        with connection.cursor() as cur:
            cur.execute(prepared("chat_next_seq", sql), [case_id])
            row = cur.fetchone()
        if row is not None:
            seq, closed_at = row
            if closed_at is not None and not allow_closed:
                raise ChatClosed("The chat of this case is closed")
            return int(seq)
        # The case's first message: its room is made here, once (the foreign key would only
        # be checked at commit on PostgreSQL, so a missing case is caught now).
        if not Case.objects.filter(pk=case_id).exists():
            raise NotFound("Case not found")
        ChatRoom.objects.bulk_create([ChatRoom(case_id=case_id)], ignore_conflicts=True)
    raise RuntimeError(f"no chat room for case {case_id}")  # pragma: no cover


def _require_open(case: Case) -> None:
    if not case.is_open:
        raise ChatClosed("The case is resolved: its chat is read-only")


def chat_post(*, case, author, body: str, audience: str = "all", client_id: str | None = None,
              evidence_uid: str | None = None) -> ChatMessage:
    """A member's message. Parties write to everyone; the staff may also open a private caucus
    with one party (audience "buyer"/"seller"). A repeated `client_id` from the same author
    returns the message already saved (a resend after a reconnect is not a duplicate)."""
    body = (body or "").strip() if isinstance(body, str) else None
    if body is None:
        raise InvalidInput("Body must be text", fields={"body": ["Nội dung phải là văn bản."]})
    if len(body) > MAX_BODY:
        raise TooLong(f"Message longer than {MAX_BODY} characters",
                      fields={"body": [f"Tin nhắn tối đa {MAX_BODY} ký tự."]})
    if audience not in ChatMessage.Audience.values:
        raise InvalidInput("Unknown audience", fields={"audience": ["Người nhận không hợp lệ."]})
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID):
        raise InvalidInput("Bad client_id", fields={"client_id": ["Tối đa 64 ký tự."]})
    if not body and not evidence_uid:
        raise InvalidInput("Empty message", fields={"body": ["Tin nhắn trống."]})
    args = dict(case=case, author=author, body=body, audience=audience, client_id=client_id,
                evidence_uid=evidence_uid)
    try:
        return _post(**args, fast=connection.vendor == "postgresql" and not evidence_uid)
    except IntegrityError:
        if not client_id:
            raise
        # The same resend raced us on another socket and won: the careful path returns it.
        return _post(**args, fast=False)


def _post(*, case, author, body: str, audience: str, client_id: str | None, evidence_uid,
          fast: bool) -> ChatMessage:
    with transaction.atomic():
        case = _case(case)
        member = _member(author, case)
        if audience != "all" and not member.is_staff:
            raise Forbidden("Only the centre's staff may write privately to one party")
        _require_open(case)
        if fast:
            msg = _insert_in_one_statement(case, author, member, body, audience, client_id)
            if msg is not None:
                _on_commit_broadcast(case.pk, _message_event(msg))
                return msg
            # Nothing written: the room's first message, a closed chat or a resend. Go careful.
        if client_id:
            existing = _by_client_id(case, author, client_id)
            if existing is not None:
                _on_commit_broadcast(case.pk, _message_event(existing))
                return existing
        evidence = None
        if evidence_uid:
            evidence = Evidence.objects.filter(case=case, uid=_uuid(evidence_uid)).first()
            if evidence is None:
                raise NotFound("Evidence not found in this case",
                               fields={"evidence": ["Không tìm thấy bằng chứng trong vụ việc."]})
        seq = _next_seq(case.pk, allow_closed=False)
        try:
            with transaction.atomic():
                msg = ChatMessage.objects.create(
                    case=case, seq=seq, author=author, author_role=member.role,
                    kind=ChatMessage.Kind.ATTACHMENT if evidence else ChatMessage.Kind.TEXT,
                    body=body, audience=audience, evidence=evidence, client_id=client_id or "",
                )
        except IntegrityError:
            # The same resend raced us on another socket: give back the one that won, and
            # undo our number so the sequence keeps no gap.
            existing = _by_client_id(case, author, client_id) if client_id else None
            if existing is None:
                raise
            transaction.set_rollback(True)
            return existing
        _on_commit_broadcast(case.pk, _message_event(msg))
        return msg


_INSERT_SQL = """
WITH dup AS (
    SELECT 1 FROM {msg} WHERE %(client_id)s <> '' AND case_id = %(case)s
        AND author_id = %(author)s AND client_id = %(client_id)s
), room AS (
    UPDATE {room} SET last_seq = last_seq + 1
    WHERE case_id = %(case)s AND closed_at IS NULL AND NOT EXISTS (SELECT 1 FROM dup)
    RETURNING last_seq
)
INSERT INTO {msg} (case_id, seq, author_id, author_role, kind, body, audience, client_id,
                   redaction_reason, created_at)
SELECT %(case)s, room.last_seq, %(author)s, %(role)s, %(kind)s, %(body)s, %(audience)s,
       %(client_id)s, '', %(now)s
FROM room
RETURNING id, seq
"""


@cache
def _insert_sql() -> tuple[str, list[str]]:
    """The statement with positional placeholders, so it can be prepared (every message of a
    chat process runs it on the process's database threads, odr/asyncdb.py)."""
    return positional(_INSERT_SQL.format(msg=ChatMessage._meta.db_table,
                                          room=ChatRoom._meta.db_table))


def _insert_in_one_statement(case: Case, author, member: Member, body: str, audience: str,
                             client_id: str | None) -> ChatMessage | None:
    """PostgreSQL, a plain text message: take the case's next number and insert the message in
    ONE round trip (the careful path costs five: look-up, number, savepoint, insert, release).
    Writes nothing and returns None when the room has no row yet, is closed, or `client_id` was
    already used by this author; a racing resend raises IntegrityError (the caller retries)."""
    now = timezone.now()
    params = {"case": case.pk, "author": author.pk, "role": member.role,
              "kind": ChatMessage.Kind.TEXT, "body": body, "audience": audience,
              "client_id": client_id or "", "now": now}
    sql, names = _insert_sql()
    row = fetch_one("chat_insert", sql, [params[name] for name in names])
    if row is None:
        return None
    msg = ChatMessage(pk=row[0], case=case, seq=row[1], author=author, author_role=member.role,
                      kind=ChatMessage.Kind.TEXT, body=body, audience=audience,
                      client_id=client_id or "", created_at=now)
    msg._state.adding, msg._state.db = False, connection.alias
    return msg


def _by_client_id(case: Case, author, client_id: str) -> ChatMessage | None:
    # No ORDER BY (.first() would add one by id): the lookup must use the unique
    # (case, author, client_id) index, not walk the primary key of every message.
    found = list(ChatMessage.objects.select_related("author", "evidence")
                 .filter(case=case, author_id=author.pk, client_id=client_id).order_by()[:1])
    return found[0] if found else None


def _uuid(value: str):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("Evidence not found in this case",
                       fields={"evidence": ["Không tìm thấy bằng chứng trong vụ việc."]}) from exc


def _message_event(msg: ChatMessage) -> dict:
    """The group event: the party view of the message (a new message is never redacted, so
    it is the same for everyone) and its audience, for each socket to filter on."""
    return {"type": "chat.message", "audience": msg.audience, "message": message_json(msg)}


def chat_mark_read(*, case, user, seq: int) -> int:
    """Move the user's read marker forward to `seq` (never back, never past the last message);
    returns the marker. Tells the other sockets after commit when it moved."""
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidInput("Bad seq", fields={"seq": ["Số thứ tự không hợp lệ."]})
    with transaction.atomic():
        case = _case(case)
        _member(user, case)
        last = ChatRoom.objects.filter(case_id=case.pk).values_list("last_seq", flat=True).first() or 0
        seq = min(seq, last)
        marker, _ = ReadMarker.objects.get_or_create(user=user, case=case)
        marker = ReadMarker.objects.select_for_update().get(pk=marker.pk)
        if seq > marker.last_read_seq:
            marker.last_read_seq = seq
            marker.save(update_fields=["last_read_seq", "updated_at"])
            _on_commit_broadcast(case.pk, {"type": "chat.read", "user": user.pk, "seq": seq})
        return marker.last_read_seq


def _staff_target(*, case, actor, seq: int) -> tuple[Case, Member, ChatMessage]:
    case = _case(case)
    member = _member(actor, case)
    if not member.is_staff:
        raise Forbidden("Only the mediator or a supervisor may do this")
    msg = (ChatMessage.objects.select_for_update().filter(case=case, seq=seq).first()
           if isinstance(seq, int) and not isinstance(seq, bool) else None)
    if msg is None:
        raise NotFound("No such message", fields={"seq": ["Không có tin nhắn này."]})
    return case, member, msg


def chat_pin(*, case, actor, seq: int, pinned: bool = True) -> ChatMessage:
    """Pin (or unpin) a message at the top of the chat: the mediator's agenda, a key fact."""
    with transaction.atomic():
        case, _, msg = _staff_target(case=case, actor=actor, seq=seq)
        _require_open(case)
        if (msg.pinned_at is not None) != pinned:
            msg.pinned_at, msg.pinned_by = (timezone.now(), actor) if pinned else (None, None)
            msg.save(update_fields=["pinned_at", "pinned_by"])
            _on_commit_broadcast(case.pk, {"type": "chat.pinned" if pinned else "chat.unpinned",
                                           "seq": msg.seq, "audience": msg.audience})
        return msg


def chat_redact(*, case, actor, seq: int, reason: str) -> ChatMessage:
    """Hide a message's text from the parties (insults, personal data); the original, who
    redacted it, when and why stay on the row for the audit and the staff. Allowed on a closed
    chat too: moderation does not end with the case."""
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput("Reason required", fields={"reason": ["Vui lòng nêu lý do."]})
    with transaction.atomic():
        case, _, msg = _staff_target(case=case, actor=actor, seq=seq)
        if msg.kind == ChatMessage.Kind.SYSTEM:
            raise Forbidden("System messages cannot be redacted")
        if msg.redacted_at is None:
            msg.redacted_at, msg.redacted_by, msg.redaction_reason = timezone.now(), actor, reason[:1000]
            msg.save(update_fields=["redacted_at", "redacted_by", "redaction_reason"])
            _on_commit_broadcast(case.pk, {"type": "chat.redacted", "seq": msg.seq,
                                           "audience": msg.audience})
        return msg


def chat_close(*, case, actor=roles.SYSTEM) -> bool:
    """Make the chat read-only (the case resolved). Returns whether it was open."""
    with transaction.atomic():
        case = _case(case)
        if not roles.is_system(actor):
            member = _member(actor, case)
            if not member.is_staff:
                raise Forbidden("Only the mediator or a supervisor may close the chat")
        ChatRoom.objects.bulk_create([ChatRoom(case_id=case.pk)], ignore_conflicts=True)
        changed = ChatRoom.objects.filter(case_id=case.pk, closed_at__isnull=True).update(
            closed_at=timezone.now())
        if changed:
            _on_commit_broadcast(case.pk, {"type": "chat.closed"})
        return bool(changed)


def chat_system_post(*, event: CaseEvent) -> ChatMessage | None:
    """The chat line for one case event (every timeline entry), posted once per entry even if
    the event is delivered twice; then the "case changed" frame, and the chat closes when the
    case resolves."""
    # The outer block only makes sure the frames wait for a commit; the relay already gives
    # each subscriber a savepoint, so this one needs none of its own.
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic():
                seq = _next_seq(event.case_id, allow_closed=True)
                msg = insert(ChatMessage(
                    case_id=event.case_id, seq=seq, author=None, author_role="system",
                    kind=ChatMessage.Kind.SYSTEM, body=system_text(event),
                    audience=ChatMessage.Audience.ALL, timeline_entry_id=event.entry_id,
                ))
        # The savepoint takes the sequence number back. A repeated event (delivered twice) is
        # refused by the line's unique timeline entry: rare, so no read before the insert.
        except IntegrityError:
            if event.entry_id is None or not ChatMessage.objects.filter(
                    timeline_entry_id=event.entry_id).exists():
                raise
            return None
        except NotFound:  # the case is gone (raised where its room would be made)
            return None
        _on_commit_broadcast(event.case_id, _message_event(msg))
        _on_commit_broadcast(event.case_id, {"type": "chat.case", "state": event.to_state,
                                             "action": event.action, "entry_id": event.entry_id})
    if event.to_state in CLOSING_STATES:
        chat_close(case=event.case_id)
    return msg


def on_case_event(event: CaseEvent) -> None:
    """cases.events subscriber (registered in MediationConfig.ready)."""
    chat_system_post(event=event)


def chat_digest_send(*, now=None) -> int:
    """Notify each member once per case about messages unread for over 2 minutes (see
    selectors.chat_digest_due), and remember up to which seq they were told. Returns how many
    notifications went out."""
    try:
        from notifications.services import notify
    except ImportError:
        log.warning("chat digest skipped: notifications.services.notify is not available")
        return 0
    from django.contrib.auth import get_user_model

    from mediation.selectors import chat_digest_due

    users = get_user_model().objects
    sent = 0
    for item in chat_digest_due(now=now):
        with transaction.atomic():
            marker, _ = ReadMarker.objects.get_or_create(user_id=item.user_id, case_id=item.case_id)
            marker = ReadMarker.objects.select_for_update().get(pk=marker.pk)
            if max(marker.notified_seq, marker.last_read_seq) >= item.upto_seq:
                continue  # read meanwhile, or another sweeper was first
            marker.notified_seq = item.upto_seq
            marker.save(update_fields=["notified_seq", "updated_at"])
            notify(event="chat_messages", users=[users.get(pk=item.user_id)],
                   case=Case.objects.get(pk=item.case_id), context={"count": item.count})
        sent += 1
    return sent


def on_shop_staff_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """`m2m_changed` of Seller.staff: people removed from a shop lose its cases' chats at once.
    After commit, each open case of the shops concerned gets a `chat.recheck` naming the users,
    and only their sockets re-read their membership (the periodic re-check is the safety net)."""
    if action not in ("post_remove", "pre_clear"):
        return
    if reverse:  # user.seller_memberships.remove(shop, …)
        users, shops = [instance.pk], list(pk_set or ())
    elif action == "pre_clear":  # shop.staff.clear(): whoever is staff now
        users, shops = list(instance.staff.values_list("pk", flat=True)), [instance.pk]
    else:
        users, shops = list(pk_set or ()), [instance.pk]
    if not users or not shops:
        return

    def announce() -> None:
        for case_id in Case.objects.filter(seller_id__in=shops).exclude(
                state=State.CLOSED).values_list("pk", flat=True).iterator():
            fanout.publish(case_id, {"type": "chat.recheck", "users": users})

    transaction.on_commit(announce)
