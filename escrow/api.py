"""Escrow API for supervisors: the outbox, its delivery attempts, retry and cancel of dead
letters. Others get 404 (parties) or 403 (mediators): thin views over selectors and services."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import roles
from cases.errors import NotFound
from escrow import selectors, services
from escrow.models import DeliveryAttempt, EscrowInstruction


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "status_code", "latency_ms", "outcome", "error",
                  "response_excerpt"]


class InstructionSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="case.reference")
    case_id = serializers.IntegerField()
    partner = serializers.CharField(source="partner.code")
    payment_reference = serializers.CharField(source="payment.external_id")

    class Meta:
        model = EscrowInstruction
        fields = ["id", "case", "case_id", "partner", "payment_reference", "kind", "amount",
                  "reason", "status", "attempts", "next_attempt_at", "give_up_at", "last_error",
                  "partner_reference", "created_at", "confirmed_at"]
        read_only_fields = fields


class InstructionDetailSerializer(InstructionSerializer):
    delivery_attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(InstructionSerializer.Meta):
        fields = [*InstructionSerializer.Meta.fields, "delivery_attempts"]
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class InstructionFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=EscrowInstruction.Status.choices)
    kind = django_filters.ChoiceFilter(choices=EscrowInstruction.Kind.choices)
    partner = django_filters.CharFilter(field_name="partner__code")
    case = django_filters.NumberFilter(field_name="case_id")

    class Meta:
        model = EscrowInstruction
        fields: list[str] = []


def _gate(user) -> None:
    """Supervisors only: a mediator learns it is forbidden, anyone else that nothing is here."""
    if roles.is_supervisor(user):
        return
    if roles.is_mediator(user):
        raise PermissionDenied("Chỉ giám sát viên được xem lệnh ký quỹ.")
    raise NotFound("Not found")


class InstructionList(generics.ListAPIView):
    serializer_class = InstructionSerializer
    filterset_class = InstructionFilter

    def get_queryset(self):
        _gate(self.request.user)
        return selectors.instructions_for(user=self.request.user).order_by("-created_at")


class InstructionDetail(APIView):
    @extend_schema(responses=InstructionDetailSerializer)
    def get(self, request, pk):
        _gate(request.user)
        instruction = selectors.instruction_get(user=request.user, instruction_id=pk)
        if instruction is None:
            raise NotFound("Unknown escrow instruction")
        return Response(InstructionDetailSerializer(instruction).data)


def _action(service):
    class View(APIView):
        @extend_schema(request=ReasonSerializer, responses=InstructionDetailSerializer)
        def post(self, request, pk):
            _gate(request.user)
            data = ReasonSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            service(instruction_id=pk, actor=request.user, reason=data.validated_data["reason"])
            instruction = selectors.instruction_get(user=request.user, instruction_id=pk)
            return Response(InstructionDetailSerializer(instruction).data)

    View.__name__ = f"Instruction{service.__name__.title().replace('_', '')}"
    return View


InstructionRetry = _action(services.escrow_retry)
InstructionCancel = _action(services.escrow_cancel)
