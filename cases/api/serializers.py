"""Shapes of the case API. Output serializers read prefetched data only; input serializers
check types and bounds, and services decide everything else. `state` is never writable."""

from django.urls import reverse
from rest_framework import serializers

from cases.models import (
    Appeal,
    Case,
    Decision,
    Evidence,
    Offer,
    Order,
    OrderLine,
    Outcome,
    Payment,
    Reason,
    Remedy,
    Shipment,
    ShipmentEvent,
    TimelineEntry,
)


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "name", "quantity", "unit_price", "amount"]


class OrderSerializer(serializers.ModelSerializer):
    marketplace = serializers.CharField(source="marketplace.code")
    seller = serializers.CharField(source="seller.name")
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = Order
        fields = ["id", "marketplace", "external_id", "seller", "total", "currency", "placed_at",
                  "expected_delivery_at", "delivered_at", "lines"]


class PaymentSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.code")

    class Meta:
        model = Payment
        fields = ["partner", "external_id", "method", "amount", "currency", "paid_at",
                  "held_amount", "released_amount", "refunded_amount"]


class ShipmentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShipmentEvent
        fields = ["status", "occurred_at", "location", "description"]


class ShipmentSerializer(serializers.ModelSerializer):
    carrier = serializers.CharField(source="carrier.code")
    events = ShipmentEventSerializer(many=True)

    class Meta:
        model = Shipment
        fields = ["carrier", "tracking_number", "direction", "status", "status_at",
                  "delivered_at", "proof_of_delivery", "events"]


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEntry
        fields = ["id", "created_at", "actor", "actor_role", "action", "from_state", "to_state",
                  "reason", "data"]

    def get_actor(self, entry: TimelineEntry) -> str | None:
        if entry.actor is None:
            return None
        return entry.actor.get_full_name() or entry.actor.username


class OfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = ["id", "author_role", "remedy", "amount", "note", "status", "buyer_accepted_at",
                  "seller_accepted_at", "created_at"]


class EvidenceSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["uid", "uploader_role", "original_name", "content_type", "size", "sha256",
                  "caption", "created_at", "download_url"]

    def get_download_url(self, evidence: Evidence) -> str:
        return reverse("api:evidence-download", kwargs={"uid": evidence.uid})


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = ["id", "outcome", "refund_amount", "reasons", "appeal_until", "created_at"]


class AppealSerializer(serializers.ModelSerializer):
    class Meta:
        model = Appeal
        fields = ["id", "appellant_role", "grounds", "result", "review_reasons", "created_at",
                  "reviewed_at"]


class CaseListSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    marketplace = serializers.CharField(source="marketplace.code", read_only=True)
    seller = serializers.CharField(source="seller.name", read_only=True)
    buyer = serializers.CharField(source="buyer.name", read_only=True)
    order = serializers.CharField(source="order.external_id", read_only=True)

    class Meta:
        model = Case
        fields = ["id", "reference", "state", "state_label", "reason", "desired_outcome",
                  "claimed_amount", "currency", "marketplace", "seller", "buyer", "order",
                  "due_at", "filed_at", "outcome", "refund_amount", "mediator_id",
                  "sla_breached_at"]
        read_only_fields = fields


class CaseSummarySerializer(CaseListSerializer):
    """What a write answers (the filing's 201, every action's 200): the case row as the service
    just wrote it and what the user may do next; the whole dossier is at the Location header."""

    actions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(CaseListSerializer.Meta):
        fields = [*CaseListSerializer.Meta.fields, "open_offer_remedy", "open_offer_amount",
                  "actions"]
        read_only_fields = fields


class _CaseRowSerializer(CaseListSerializer):
    """CaseSummarySerializer without `actions`, rendered by one shared instance: a
    ModelSerializer builds its ~20 fields anew for every instance (~0.5 ms), and they keep
    no state between calls."""

    class Meta(CaseListSerializer.Meta):
        fields = [f for f in CaseSummarySerializer.Meta.fields if f != "actions"]
        read_only_fields = fields


_case_row = _CaseRowSerializer()


def case_summary(case: Case, actions: list[str]) -> dict:
    """The body of CaseSummarySerializer from a case whose buyer, seller, marketplace and order
    are already loaded (no query)."""
    body = _case_row.to_representation(case)
    body["actions"] = actions
    return body


class CaseDetailSerializer(CaseListSerializer):
    order = OrderSerializer(read_only=True)
    payment = PaymentSerializer(read_only=True)
    shipments = ShipmentSerializer(source="order.shipments", many=True, read_only=True)
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    offers = OfferSerializer(many=True, read_only=True)
    evidence = EvidenceSerializer(many=True, read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)
    appeals = AppealSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta(CaseListSerializer.Meta):
        fields = [*CaseListSerializer.Meta.fields, "description", "open_offer_remedy",
                  "open_offer_amount", "order", "payment", "shipments", "timeline", "offers",
                  "evidence", "decisions", "appeals", "actions"]
        read_only_fields = fields

    def get_actions(self, case: Case) -> list[str]:
        return self.context["actions"]


# --- input -----------------------------------------------------------------------------------
class CaseFileInput(serializers.Serializer):
    order = serializers.IntegerField(min_value=1)
    reason = serializers.ChoiceField(choices=Reason.choices)
    desired_outcome = serializers.ChoiceField(choices=Remedy.choices)
    claimed_amount = serializers.IntegerField(min_value=1, max_value=10**13)
    description = serializers.CharField(max_length=5000)
    language = serializers.ChoiceField(choices=["vi", "en"], default="vi")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class RequiredReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class OfferInput(serializers.Serializer):
    remedy = serializers.ChoiceField(choices=Remedy.choices)
    amount = serializers.IntegerField(min_value=0, max_value=10**13, default=0)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ContestInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    evidence_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=True)


class ReturnShipInput(serializers.Serializer):
    carrier = serializers.SlugField()
    tracking_number = serializers.CharField(max_length=64)


class DecideInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[
        Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND, Outcome.SELLER_FAVOUR, Outcome.REPLACEMENT])
    refund_amount = serializers.IntegerField(min_value=0, max_value=10**13, default=0)
    reasons = serializers.CharField(max_length=10000)


class AppealInput(serializers.Serializer):
    grounds = serializers.CharField(max_length=10000)


class ReviewInput(serializers.Serializer):
    reasons = serializers.CharField(max_length=10000)


class AssignInput(serializers.Serializer):
    mediator = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class EvidenceUploadInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    caption = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ActionsOutput(serializers.Serializer):
    state = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())
