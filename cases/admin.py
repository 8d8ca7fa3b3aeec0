"""Admin for records and cases. The state is read-only here as everywhere: transitions are
admin actions that call the same services as the API, acting as the signed-in user."""

from django.contrib import admin, messages

from cases import services
from cases.errors import DomainError
from cases.models import (
    Appeal,
    Buyer,
    Case,
    Decision,
    Evidence,
    Offer,
    Order,
    OrderLine,
    Payment,
    Seller,
    Shipment,
    ShipmentEvent,
    TimelineEntry,
)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["external_id", "marketplace", "seller", "buyer", "total", "placed_at",
                    "delivered_at"]
    list_filter = ["marketplace"]
    search_fields = ["external_id", "buyer__name", "seller__name"]
    list_select_related = ["marketplace", "seller", "buyer"]
    raw_id_fields = ["buyer", "seller"]
    inlines = [OrderLineInline]


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    list_display = ["name", "marketplace", "external_id", "province", "ocop_stars"]
    search_fields = ["name", "external_id"]
    filter_horizontal = ["staff"]


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ["name", "marketplace", "external_id", "phone", "user"]
    search_fields = ["name", "external_id", "phone"]
    raw_id_fields = ["user"]


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["external_id", "partner", "method", "amount", "held_amount",
                    "released_amount", "refunded_amount"]
    list_filter = ["partner", "method"]
    search_fields = ["external_id"]
    raw_id_fields = ["order"]
    readonly_fields = ["held_amount", "released_amount", "refunded_amount"]


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["tracking_number", "carrier", "direction", "status", "status_at"]
    list_filter = ["carrier", "direction", "status"]
    search_fields = ["tracking_number"]
    raw_id_fields = ["order"]
    inlines = [ShipmentEventInline]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TimelineInline(ReadOnlyInline):
    model = TimelineEntry
    fields = ["created_at", "actor", "actor_role", "action", "from_state", "to_state", "reason"]


class OfferInline(ReadOnlyInline):
    model = Offer
    fields = ["created_at", "author_role", "remedy", "amount", "status", "note"]


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ["created_at", "uploader_role", "original_name", "content_type", "size", "sha256"]


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = ["created_at", "decided_by", "outcome", "refund_amount", "reasons"]


class AppealInline(ReadOnlyInline):
    model = Appeal
    fields = ["created_at", "appellant_role", "grounds", "result", "reviewed_by"]


def _run(modeladmin, request, queryset, label: str, call) -> None:
    done = 0
    for case in queryset:
        try:
            call(case, request.user)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{case.reference}: {exc.message}", messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{label}: {done}", messages.SUCCESS)


def _action(name: str, label: str, call):
    def action(modeladmin, request, queryset):
        _run(modeladmin, request, queryset, label, call)

    action.__name__ = name
    action.short_description = label
    return action


REASON = "Thực hiện qua trang quản trị"
ADMIN_ACTIONS = [
    _action("take_case", "Nhận hòa giải vụ việc (tôi)", lambda c, u: services.case_assign(
        case_id=c.pk, actor=u, mediator=u, reason=REASON)),
    _action("uphold_decision", "Giữ nguyên quyết định (khiếu nại lại)", lambda c, u:
            services.case_uphold(case_id=c.pk, actor=u, reasons=REASON)),
    _action("apply_deadline", "Áp dụng hạn đã qua", lambda c, u: services.case_deadline_pass(
        case_id=c.pk)),
    _action("close_if_settled", "Đóng nếu đối tác đã xác nhận", lambda c, u:
            services.case_close_if_settled(case_id=c.pk)),
]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["reference", "state", "reason", "claimed_amount", "seller", "buyer",
                    "mediator", "due_at", "filed_at"]
    list_filter = ["state", "reason", "marketplace", "outcome"]
    search_fields = ["order__external_id", "seller__name", "buyer__name"]
    list_select_related = ["seller", "buyer", "mediator"]
    date_hierarchy = "filed_at"
    readonly_fields = [f.name for f in Case._meta.fields]
    inlines = [TimelineInline, OfferInline, EvidenceInline, DecisionInline, AppealInline]
    actions = ADMIN_ACTIONS

    def has_add_permission(self, request) -> bool:
        return False  # cases are filed by buyers (API or web), never typed in

    @admin.display(description="Mã vụ việc", ordering="pk")
    def reference(self, case: Case) -> str:
        return case.reference
