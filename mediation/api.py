"""REST side of the chat: history with the same visibility rules as the socket, posting through
the same service, read markers and unread counts. Non-members get 404, never a hint."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.errors import InvalidInput
from cases.models import Case
from mediation import services
from mediation.access import Member, chat_member
from mediation.selectors import chat_history, message_json, room_state, unread_counts

PAGE = 50
MAX_PAGE = 200


def _case_and_member(request, pk: int) -> tuple[Case, Member]:
    case = Case.objects.select_related("buyer").filter(pk=pk).first()
    member = chat_member(request.user, case) if case else None
    if member is None:
        raise services.NotMember("Case not found")
    return case, member


def _int(request, name: str, default=None, *, lo: int = 0, hi: int | None = None):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput("Bad parameter", fields={name: ["Phải là số nguyên."]}) from exc
    if value < lo:
        raise InvalidInput("Bad parameter", fields={name: [f"Phải ≥ {lo}."]})
    return min(value, hi) if hi is not None else value


class PostSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False, default="")
    audience = serializers.ChoiceField(choices=["all", "buyer", "seller"], default="all")
    client_id = serializers.CharField(required=False, allow_null=True, max_length=64)
    evidence = serializers.CharField(required=False, allow_null=True)


class ReadSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0)


class ModerateSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class _AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _EvidenceRefSerializer(serializers.Serializer):
    uid = serializers.UUIDField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    download_url = serializers.CharField()


class MessageSchema(serializers.Serializer):
    """The protocol's <message> (documentation only: rendered by selectors.message_json)."""

    seq = serializers.IntegerField()
    id = serializers.IntegerField()
    author = _AuthorSerializer(allow_null=True)
    author_role = serializers.ChoiceField(["buyer", "seller", "mediator", "supervisor", "system"])
    kind = serializers.ChoiceField(["text", "system", "attachment"])
    body = serializers.CharField()
    audience = serializers.ChoiceField(["all", "buyer", "seller"])
    evidence = _EvidenceRefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    pinned = serializers.BooleanField()
    redacted = serializers.BooleanField()
    client_id = serializers.CharField(allow_null=True)
    original_body = serializers.CharField(required=False, help_text="staff only, when redacted")
    redaction_reason = serializers.CharField(required=False, help_text="staff only")


class HistorySchema(serializers.Serializer):
    results = MessageSchema(many=True)
    last_seq = serializers.IntegerField()
    chat_open = serializers.BooleanField()
    has_more = serializers.BooleanField()


class ReadResultSchema(serializers.Serializer):
    last_read_seq = serializers.IntegerField()


class MessagesView(APIView):
    @extend_schema(parameters=[
        OpenApiParameter("since", int, description="messages after this seq, oldest first"),
        OpenApiParameter("before", int, description="messages before this seq (scroll back)"),
        OpenApiParameter("limit", int, description=f"page size, default {PAGE}, max {MAX_PAGE}"),
    ], responses=HistorySchema)
    def get(self, request, pk: int):
        """A page of the chat: `{results, last_seq, chat_open, has_more}`. Page forward with
        `since=<last seq of the page>`, back with `before=<first seq of the page>`."""
        case, member = _case_and_member(request, pk)
        since, before = _int(request, "since"), _int(request, "before", lo=1)
        limit = _int(request, "limit", PAGE, lo=1, hi=MAX_PAGE)
        results, more = chat_history(member=member, case=case, since=since, before=before, limit=limit)
        last_seq, chat_open = room_state(case=case)
        return Response({"results": results, "last_seq": last_seq, "chat_open": chat_open,
                         "has_more": more})

    @extend_schema(request=PostSerializer, responses={201: MessageSchema})
    def post(self, request, pk: int):
        case, member = _case_and_member(request, pk)
        data = PostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        msg = services.chat_post(case=case, author=request.user, body=v["body"],
                                 audience=v["audience"], client_id=v.get("client_id"),
                                 evidence_uid=v.get("evidence"))
        return Response(message_json(msg, staff=member.is_staff), status=status.HTTP_201_CREATED)


class ReadView(APIView):
    @extend_schema(request=ReadSerializer, responses=ReadResultSchema)
    def post(self, request, pk: int):
        _case_and_member(request, pk)
        data = ReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seq = services.chat_mark_read(case=pk, user=request.user, seq=data.validated_data["seq"])
        return Response({"last_read_seq": seq})


def _moderation_view(kind: str):
    class View(APIView):
        @extend_schema(request=ModerateSerializer, responses=MessageSchema,
                       operation_id=f"chat_message_{kind}")
        def post(self, request, pk: int, seq: int):
            case, member = _case_and_member(request, pk)
            data = ModerateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            if kind == "redact":
                msg = services.chat_redact(case=case, actor=request.user, seq=seq,
                                           reason=data.validated_data["reason"])
            else:
                msg = services.chat_pin(case=case, actor=request.user, seq=seq, pinned=kind == "pin")
            return Response(message_json(msg, staff=member.is_staff))

    View.__name__ = f"Message{kind.capitalize()}View"
    return View


class UnreadView(APIView):
    @extend_schema(parameters=[OpenApiParameter("cases", str, description="comma-separated ids")],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """`{"<case_id>": unread, …}` for the listed cases (at most 500); one query."""
        raw = request.query_params.get("cases", "")
        try:
            ids = [int(x) for x in raw.split(",") if x.strip()][:500]
        except ValueError as exc:
            raise InvalidInput("Bad parameter", fields={"cases": ["Danh sách số."]}) from exc
        counts = unread_counts(request.user, ids)
        return Response({str(i): counts.get(i, 0) for i in ids})


MessagePinView = _moderation_view("pin")
MessageUnpinView = _moderation_view("unpin")
MessageRedactView = _moderation_view("redact")
