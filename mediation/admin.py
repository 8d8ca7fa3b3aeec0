"""Read-only audit view of the chat for the centre's staff (redacted originals included)."""

from django.contrib import admin

from mediation.models import ChatMessage, ChatRoom, ReadMarker


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("case", "seq", "author_role", "author", "kind", "audience", "created_at",
                    "pinned_at", "redacted_at")
    list_filter = ("kind", "audience", "author_role")
    search_fields = ("case__id", "body")
    list_select_related = ("author",)
    raw_id_fields = ("case", "author", "evidence", "timeline_entry", "pinned_by", "redacted_by")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the record of a mediation is not edited; redaction is a service

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ChatRoom)
class ChatRoomAdmin(admin.ModelAdmin):
    list_display = ("case", "last_seq", "closed_at")
    raw_id_fields = ("case",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(ReadMarker)
