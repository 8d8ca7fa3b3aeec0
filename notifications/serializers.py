"""API shapes. The notification shape is also the WebSocket payload (push.notification_payload)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from notifications.backends import all_backends
from notifications.catalog import EVENTS
from notifications.models import Language, Notification
from notifications.selectors import preference_matrix


class NotificationSerializer(serializers.ModelSerializer):
    case = serializers.PrimaryKeyRelatedField(read_only=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "event", "title", "body", "url", "case", "created_at", "read"]
        read_only_fields = fields

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"])
    end = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"])

    def validate(self, attrs):
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError(_("Giờ bắt đầu và giờ kết thúc phải khác nhau."))
        return attrs


class PreferenceSerializer(serializers.Serializer):
    """`channels` holds only what the user changes; the response shows the effective matrix."""

    language = serializers.ChoiceField(choices=Language.choices, required=False)
    quiet_hours = QuietHoursSerializer(required=False, allow_null=True)
    channels = serializers.DictField(
        child=serializers.DictField(child=serializers.BooleanField()), required=False)

    def validate_channels(self, value: dict) -> dict:
        known_channels = set(all_backends())
        errors = []
        for event, per_channel in value.items():
            if event not in EVENTS:
                errors.append(_("Loại thông báo không tồn tại: %(event)s") % {"event": event})
                continue
            for channel in per_channel:
                if channel not in known_channels:
                    errors.append(_("Kênh không tồn tại: %(channel)s") % {"channel": channel})
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def to_representation(self, pref) -> dict:
        quiet = None
        if pref.quiet_start is not None and pref.quiet_end is not None:
            quiet = {"start": pref.quiet_start.strftime("%H:%M"), "end": pref.quiet_end.strftime("%H:%M")}
        return {
            "language": pref.language,
            "quiet_hours": quiet,
            "time_zone": "Asia/Ho_Chi_Minh",
            "channels": preference_matrix(pref=pref),
            "available_channels": [{"name": name, "label": backend.label or name}
                                   for name, backend in all_backends().items()],
        }
