"""Shapes of the desk and workspace API; services decide everything beyond types and bounds."""

from rest_framework import serializers

from cases.models import Case, DeadlineExtension, Reason
from mediators.models import EvidenceRequest, Language


class QueueCaseSerializer(serializers.ModelSerializer):
    reference = serializers.CharField()
    seller = serializers.CharField(source="seller.name")
    marketplace = serializers.CharField(source="marketplace.code")
    mediator = serializers.IntegerField(source="mediator_id", allow_null=True)

    class Meta:
        model = Case
        fields = ["id", "reference", "state", "reason", "language", "claimed_amount", "currency",
                  "seller", "marketplace", "mediator", "filed_at", "due_at", "sla_breached_at"]


class WorkloadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    languages = serializers.ListField(child=serializers.CharField())
    specialities = serializers.ListField(child=serializers.CharField())
    capacity = serializers.IntegerField()
    available = serializers.BooleanField()
    away_until = serializers.DateTimeField(allow_null=True)
    conflict_sellers = serializers.ListField(child=serializers.IntegerField())
    active_cases = serializers.IntegerField()
    decided_cases = serializers.IntegerField()
    breaching_cases = serializers.IntegerField()


class DeskCountsSerializer(serializers.Serializer):
    unassigned = serializers.IntegerField()
    sla_breaching = serializers.IntegerField()
    appealed = serializers.IntegerField()
    overdue_evidence_requests = serializers.IntegerField()


class DeskAssignInput(serializers.Serializer):
    mediator = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ProfileInput(serializers.Serializer):
    available = serializers.BooleanField(required=False)
    away_until = serializers.DateTimeField(required=False, allow_null=True)
    conflict_sellers = serializers.ListField(child=serializers.IntegerField(), required=False)
    languages = serializers.ListField(child=serializers.ChoiceField(choices=Language.choices),
                                      required=False)
    specialities = serializers.ListField(child=serializers.ChoiceField(choices=Reason.choices),
                                         required=False)
    capacity = serializers.IntegerField(required=False, min_value=0, max_value=200)


class ExtensionInput(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=30)
    reason = serializers.CharField(max_length=2000)


class ExtensionDecideInput(serializers.Serializer):
    grant = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ExtensionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadlineExtension
        fields = ["id", "requester_role", "state", "days", "reason", "old_due_at", "new_due_at",
                  "status", "decider_role", "decision_reason", "created_at", "decided_at"]


class EvidenceRequestInput(serializers.Serializer):
    party = serializers.ChoiceField(choices=EvidenceRequest.Party.choices)
    message = serializers.CharField(max_length=4000)
    days = serializers.IntegerField(required=False, default=3, min_value=1, max_value=30)


class FulfilInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class EvidenceRequestSerializer(serializers.ModelSerializer):
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceRequest
        fields = ["id", "party", "message", "due_at", "created_at", "fulfilled_at", "evidence",
                  "cancelled_at", "overdue"]

    def get_overdue(self, obj: EvidenceRequest) -> bool:
        return obj.is_overdue()
