"""Delivery of escrow instructions to payment partners (issue: partners & escrow)."""


def deliver_instruction(*, instruction_id: str) -> None:
    """Placeholder until the delivery worker lands: instructions stay pending in the outbox."""
    return None
