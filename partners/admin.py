"""Admin for partners (secrets rotate through the service, never typed into a form) and the
log of inbound events."""

from django.contrib import admin, messages

from partners import services
from partners.models import InboundEvent, Partner


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "base_url", "is_active", "secrets_rotated_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    exclude = ["signing_secrets"]
    readonly_fields = ["secrets_rotated_at", "active_secrets"]
    actions = ["rotate_secret", "retire_old_secrets"]

    @admin.display(description="Active secrets")
    def active_secrets(self, obj):
        return len([s for s in obj.signing_secrets if s])

    @admin.action(description="Rotate the signing secret (new one shown once)")
    def rotate_secret(self, request, queryset):
        for partner in queryset:
            secret = services.partner_rotate_secret(partner=partner)
            self.message_user(request, f"{partner.code}: {secret}", messages.WARNING)

    @admin.action(description="Retire old signing secrets (end of rotation)")
    def retire_old_secrets(self, request, queryset):
        for partner in queryset:
            services.partner_retire_old_secrets(partner=partner)
        self.message_user(request, "OK")


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "partner", "event_id", "type", "status", "error_code", "deliveries"]
    list_filter = ["status", "type", "partner"]
    search_fields = ["event_id"]
    date_hierarchy = "received_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
