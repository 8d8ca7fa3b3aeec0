"""Admin views of the escrow outbox. Retry and cancel go through the audited services."""

from django.contrib import admin, messages

from cases.errors import DomainError
from escrow import services
from escrow.models import Chargeback, DeliveryAttempt, EscrowInstruction


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "status_code", "latency_ms", "outcome", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EscrowInstruction)
class EscrowInstructionAdmin(admin.ModelAdmin):
    list_display = ["id", "case", "partner", "kind", "amount", "status", "attempts",
                    "next_attempt_at", "created_at", "confirmed_at"]
    list_filter = ["status", "kind", "partner"]
    search_fields = ["id", "partner_reference", "payment__external_id"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["retry_dead", "cancel_dead"]
    list_select_related = ["case", "partner"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, service, verb: str):
        done = 0
        for instruction in queryset:
            try:
                service(instruction_id=instruction.pk, actor=request.user,
                        reason=f"{verb} từ trang quản trị bởi {request.user}")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{instruction.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{verb}: {done}")

    @admin.action(description="Gửi lại các lệnh thất bại (dead letter)")
    def retry_dead(self, request, queryset):
        self._each(request, queryset, services.escrow_retry, "Gửi lại")

    @admin.action(description="Hủy các lệnh thất bại (dead letter)")
    def cancel_dead(self, request, queryset):
        self._each(request, queryset, services.escrow_cancel, "Hủy")


@admin.register(Chargeback)
class ChargebackAdmin(admin.ModelAdmin):
    list_display = ["external_id", "partner", "payment", "case", "amount", "opened_at"]
    list_filter = ["partner"]
    search_fields = ["external_id", "payment__external_id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
