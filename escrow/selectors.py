"""Reads of escrow rows for the centre's supervisors (nobody else sees them)."""

from django.db.models import Prefetch, QuerySet

from cases import roles
from escrow.models import DeliveryAttempt, EscrowInstruction


def instructions_for(*, user) -> QuerySet[EscrowInstruction]:
    """Every instruction for a supervisor, none for anybody else."""
    qs = EscrowInstruction.objects.select_related("case", "payment", "partner")
    return qs if roles.is_supervisor(user) else qs.none()


def instruction_get(*, user, instruction_id) -> EscrowInstruction | None:
    return (
        instructions_for(user=user)
        .prefetch_related(Prefetch("delivery_attempts",
                                   queryset=DeliveryAttempt.objects.order_by("number", "pk")))
        .filter(pk=instruction_id).first()
    )
