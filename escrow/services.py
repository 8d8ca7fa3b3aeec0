"""Escrow: what the case workflow asks of the payment partner."""

from django.db import transaction

from escrow.models import EscrowInstruction


def escrow_instruct(*, case, kind: str, amount: int, reason: str = "") -> EscrowInstruction | None:
    """Write an instruction to the outbox. Must run inside the transaction of the transition
    that needs it, so the two commit or fail together; delivery starts after commit and the
    periodic sweep picks up anything the enqueue lost."""
    if case.payment_id is None or amount <= 0:
        return None
    assert transaction.get_connection().in_atomic_block, "escrow_instruct needs a transaction"
    instruction = EscrowInstruction.objects.create(
        case=case, payment_id=case.payment_id, partner_id=case.payment.partner_id,
        kind=kind, amount=amount, reason=reason[:200],
    )
    transaction.on_commit(lambda: _enqueue(instruction.pk))
    return instruction


def _enqueue(instruction_id) -> None:
    from escrow.tasks import escrow_deliver

    escrow_deliver.delay(str(instruction_id))


def escrow_outstanding(*, case) -> bool:
    """True while any instruction of the case is not yet confirmed or cancelled."""
    return case.escrow_instructions.exclude(
        status__in=[EscrowInstruction.Status.CONFIRMED, EscrowInstruction.Status.CANCELLED]
    ).exists()
