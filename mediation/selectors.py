"""Reads of the chat, always scoped to what the reader may see (caucus messages only reach the
staff and the one party they are addressed to), with a fixed number of queries per call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from cases import roles
from cases.models import Case, Seller
from mediation.access import Member, display_name
from mediation.models import ChatMessage, ChatRoom, ReadMarker

HISTORY_LIMIT = 200


def message_json(msg: ChatMessage, *, staff: bool = False) -> dict:
    """The protocol's <message>. Parties see a redacted message with an empty body; the staff
    also get `original_body` (and the reason) so moderation stays auditable."""
    evidence = None
    if msg.evidence_id is not None:
        ev = msg.evidence
        evidence = {"uid": str(ev.uid), "name": ev.original_name, "content_type": ev.content_type,
                    "download_url": reverse("api:evidence-download", kwargs={"uid": ev.uid})}
    redacted = msg.redacted_at is not None
    data = {
        "seq": msg.seq,
        "id": msg.pk,
        "author": ({"id": msg.author_id, "name": display_name(msg.author)}
                   if msg.author_id is not None else None),
        "author_role": msg.author_role,
        "kind": msg.kind,
        "body": "" if redacted else msg.body,
        "audience": msg.audience,
        "evidence": evidence,
        "created_at": msg.created_at.isoformat(),
        "pinned": msg.pinned_at is not None,
        "redacted": redacted,
        "client_id": msg.client_id or None,
    }
    if staff and redacted:
        data["original_body"] = msg.body
        data["redaction_reason"] = msg.redaction_reason
    return data


def room_state(*, case: Case) -> tuple[int, bool]:
    """(last_seq, chat_open) of the case's chat; a case without messages has no room yet.
    No query when the case was read with select_related("chat_room") (a connecting socket)."""
    rel = Case._meta.get_field("chat_room")
    if rel.is_cached(case):
        loaded = rel.get_cached_value(case)
        room = (loaded.last_seq, loaded.closed_at) if loaded is not None else None
    else:
        room = ChatRoom.objects.filter(case_id=case.pk).values_list("last_seq", "closed_at").first()
    last_seq, closed_at = room or (0, None)
    return last_seq, case.is_open and closed_at is None


def _visible(*, member: Member, case: Case) -> QuerySet[ChatMessage]:
    return ChatMessage.objects.filter(case_id=case.pk, audience__in=member.audiences)


def _rendered(rows: list[ChatMessage], *, staff: bool) -> list[dict]:
    """`message_json` of each message, their authors and evidence read in one query each (none
    when no message has one). A room has a handful of authors: joining them in
    (select_related) made one author instance per message, 200 per connecting socket."""
    prefetch_related_objects(rows, "author", "evidence")
    return [message_json(m, staff=staff) for m in rows]


def chat_history(*, member: Member, case: Case, since: int | None = None,
                 before: int | None = None, limit: int = HISTORY_LIMIT) -> tuple[list[dict], bool]:
    """Messages this member may see, oldest first, and whether more exist in that direction.

    `since`: the first `limit` after it (resuming forward); `before`: the last `limit` before it
    (scrolling back); neither: the last `limit`. `since` and `before` together bound a window."""
    qs = _visible(member=member, case=case)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    if since is not None:
        qs = qs.filter(seq__gt=since)
    if since is not None and before is None:
        rows = list(qs.order_by("seq")[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
    else:
        rows = list(qs.order_by("-seq")[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit][::-1]
    return _rendered(rows, staff=member.is_staff), more


def chat_resume(*, member: Member, case: Case, since: int | None) -> tuple[list[dict], bool]:
    """What a (re)connecting socket gets: the messages after `since`, capped at the LAST 200
    (a client that missed more pages back over REST with `before`)."""
    qs = _visible(member=member, case=case)
    if since is not None:
        qs = qs.filter(seq__gt=since)
    rows = list(qs.order_by("-seq")[: HISTORY_LIMIT + 1])
    more = len(rows) > HISTORY_LIMIT
    return _rendered(rows[:HISTORY_LIMIT][::-1], staff=member.is_staff), more


def _visibility_q(user) -> Q:
    """Messages of cases `user` is a chat member of, that `user` may see — in SQL, so a list of
    cases needs one query (supervisor and shop membership are EXISTS subqueries)."""
    supervisor = Exists(Group.user_set.through.objects.filter(
        user_id=user.pk, group__name=roles.SUPERVISORS))
    staff_of_shop = Exists(Seller.staff.through.objects.filter(
        seller_id=OuterRef("case__seller_id"), user_id=user.pk))
    is_buyer = Q(case__buyer__user_id=user.pk)
    is_staff = Q(case__mediator_id=user.pk) | Q(supervisor)
    party_buyer = is_buyer
    party_seller = Q(staff_of_shop)
    member = party_buyer | party_seller | is_staff
    staff_only = is_staff & ~party_buyer & ~party_seller
    return member & (
        Q(audience="all")
        | (Q(audience="buyer") & (party_buyer | staff_only))
        | (Q(audience="seller") & (party_seller | staff_only))
    )


def unread_counts(user, case_ids) -> dict[int, int]:
    """{case_id: unread} for the given cases (absent when nothing is unread); ONE query.

    Counts messages by others that the user may see and has not marked read; system lines are
    left out (transitions notify on their own). A case the user is not a chat member of never
    appears, so the list leaks nothing."""
    ids = [int(i) for i in case_ids]
    if not ids or not getattr(user, "is_authenticated", False):
        return {}
    read_upto = Subquery(ReadMarker.objects.filter(user_id=user.pk, case_id=OuterRef("case_id"))
                         .values("last_read_seq")[:1])
    rows = (ChatMessage.objects.filter(case_id__in=ids).filter(_visibility_q(user))
            .exclude(kind=ChatMessage.Kind.SYSTEM).exclude(author_id=user.pk)
            .annotate(read_upto=Coalesce(read_upto, Value(0), output_field=IntegerField()))
            .filter(seq__gt=F("read_upto"))
            .values("case_id").annotate(n=Count("id")).order_by())
    return {r["case_id"]: r["n"] for r in rows}


@dataclass(frozen=True)
class DigestItem:
    user_id: int
    case_id: int
    count: int
    upto_seq: int


DIGEST_DELAY = timedelta(minutes=2)
DIGEST_LOOKBACK = timedelta(days=7)


def chat_digest_due(*, now=None) -> list[DigestItem]:
    """Who gets a "you have N unread messages" notification now: each party user and the
    assigned mediator with messages they may see, by others, unread for over 2 minutes and not
    in an earlier digest. Supervisors see every case and are not notified. One item per
    (user, case), however many messages; a few queries per case with recent messages."""
    now = now or timezone.now()
    cutoff = now - DIGEST_DELAY
    recent = (ChatMessage.objects.exclude(kind=ChatMessage.Kind.SYSTEM)
              .filter(created_at__lte=cutoff, created_at__gte=now - DIGEST_LOOKBACK))
    case_ids = sorted(set(recent.values_list("case_id", flat=True)))
    items: list[DigestItem] = []
    cases = Case.objects.filter(pk__in=case_ids).select_related("buyer").prefetch_related(
        "seller__staff")
    for case in cases:
        people: dict[int, set[str]] = {}
        if case.buyer.user_id:
            people.setdefault(case.buyer.user_id, set()).update({"all", "buyer"})
        for staff in case.seller.staff.all():
            people.setdefault(staff.pk, set()).update({"all", "seller"})
        if case.mediator_id:
            people.setdefault(case.mediator_id, set()).update({"all", "buyer", "seller"})
        markers = {m.user_id: max(m.last_read_seq, m.notified_seq)
                   for m in ReadMarker.objects.filter(case=case, user_id__in=people)}
        floor = min([markers.get(u, 0) for u in people], default=0)
        msgs = list(recent.filter(case=case, seq__gt=floor)
                    .values_list("seq", "audience", "author_id"))
        for user_id, audiences in people.items():
            seen = markers.get(user_id, 0)
            mine = [seq for seq, audience, author in msgs
                    if seq > seen and audience in audiences and author != user_id]
            if mine:
                items.append(DigestItem(user_id, case.pk, len(mine), max(mine)))
    return items
