"""Support staff answer "did they get it?": notifications with their deliveries, and a retry
for failed sends."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from notifications.models import Delivery, Notification, Preference
from notifications.services import delivery_retry


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel", "status", "attempts", "last_error", "not_before", "sent_at", "updated_at"]
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "recipient", "event", "case", "language", "title", "read_at"]
    list_filter = ["event", "language", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body", "recipient__username", "recipient__email"]
    raw_id_fields = ["recipient", "case"]
    readonly_fields = ["recipient", "event", "case", "entry_id", "language", "title", "body", "url",
                       "context", "created_at", "read_at"]
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]
    list_select_related = ["recipient", "case"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "notification", "channel", "status", "attempts", "last_error", "not_before",
                    "sent_at", "updated_at"]
    list_filter = ["status", "channel"]
    search_fields = ["notification__recipient__username", "last_error"]
    raw_id_fields = ["notification"]
    readonly_fields = ["notification", "channel", "status", "attempts", "last_error", "not_before",
                       "claimed_until", "created_at", "updated_at", "sent_at"]
    actions = ["retry"]
    list_select_related = ["notification"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("Gửi lại các lượt gửi thất bại"))
    def retry(self, request, queryset) -> None:
        count = sum(delivery_retry(delivery_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, _("Đã gửi lại %(count)d lượt.") % {"count": count}, messages.SUCCESS)


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "language", "quiet_start", "quiet_end", "updated_at"]
    list_filter = ["language"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
