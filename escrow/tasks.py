"""Celery entry points for escrow delivery: thin wrappers around escrow.delivery."""

from celery import shared_task


@shared_task(name="escrow.deliver", acks_late=True, ignore_result=True)
def escrow_deliver(instruction_id: str) -> None:
    from escrow.delivery import deliver_instruction

    deliver_instruction(instruction_id=instruction_id)


@shared_task(name="escrow.sweep", acks_late=True, ignore_result=True)
def escrow_sweep() -> None:
    from escrow.delivery import escrow_sweep as sweep

    sweep()
