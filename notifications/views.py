"""The notifications API: list mine, unread count, mark read, mark all read, preferences.
Views parse input, call one service or selector, render output."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.serializers import NotificationSerializer, PreferenceSerializer

_COUNT = inline_serializer("UnreadCount", {"count": serializers.IntegerField()})


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in ("1", "true", "yes")


_UNREAD = OpenApiParameter("unread", bool, description="true: unread only; false: read only")


@extend_schema(parameters=[_UNREAD])
class NotificationListView(generics.ListAPIView):
    serializer_class = NotificationSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.notifications_for(user=self.request.user,
                                           unread=_flag(self.request.query_params.get("unread")))


class UnreadCountView(APIView):
    @extend_schema(responses=_COUNT)
    def get(self, request: Request) -> Response:
        return Response({"count": selectors.unread_count(user_id=request.user.pk)})


class MarkReadView(APIView):
    @extend_schema(request=None, responses=inline_serializer("MarkRead", {
        "notification": NotificationSerializer(), "unread": serializers.IntegerField()}))
    def post(self, request: Request, pk: int) -> Response:
        notification = services.notification_mark_read(user=request.user, notification_id=pk)
        return Response({"notification": NotificationSerializer(notification).data,
                         "unread": selectors.unread_count(user_id=request.user.pk)})


class MarkAllReadView(APIView):
    @extend_schema(request=None, responses=inline_serializer("MarkAllRead", {
        "marked": serializers.IntegerField(), "unread": serializers.IntegerField()}))
    def post(self, request: Request) -> Response:
        marked = services.notifications_mark_all_read(user=request.user)
        return Response({"marked": marked, "unread": selectors.unread_count(user_id=request.user.pk)})


class PreferenceView(APIView):
    @extend_schema(responses=PreferenceSerializer)
    def get(self, request: Request) -> Response:
        pref = selectors.preference_of(user=request.user)
        return Response(PreferenceSerializer(pref).data)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def patch(self, request: Request) -> Response:
        return self._save(request, replace=False)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def put(self, request: Request) -> Response:
        return self._save(request, replace=True)

    def _save(self, request: Request, *, replace: bool) -> Response:
        serializer = PreferenceSerializer(data=request.data, partial=not replace)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        quiet = data.get("quiet_hours")
        pref = services.preference_update(
            user=request.user, language=data.get("language"), channels=data.get("channels"),
            quiet_start=quiet["start"] if quiet else None, quiet_end=quiet["end"] if quiet else None,
            set_quiet_hours="quiet_hours" in data or replace, replace_channels=replace,
        )
        return Response(PreferenceSerializer(pref).data)
