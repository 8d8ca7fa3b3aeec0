"""Bring a case into any state of the workflow through the services, as people would."""

from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services
from cases.models import Case, State
from escrow.models import EscrowInstruction

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
       b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
       b"\x00\x00IEND\xaeB`\x82")


def png(name: str = "anh.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def file_case(order, buyer, *, remedy: str = "full_refund", amount: int = 300_000,
              reason: str = "damaged") -> Case:
    return services.case_file(actor=buyer, order_id=order.pk, reason=reason,
                              desired_outcome=remedy, claimed_amount=amount,
                              description="Hộp chè bị móp, túi bên trong rách.")


def case_in(state: str, *, order, buyer, seller, mediator, supervisor) -> Case:
    """A case in `state`; in mediation and after, `mediator` is assigned."""
    remedy = "return_and_refund" if state == State.AWAITING_RETURN else "full_refund"
    case = file_case(order, buyer, remedy=remedy)
    if state == State.AWAITING_SELLER:
        return case
    if state == State.AWAITING_BUYER:
        return services.case_offer(case_id=case.pk, actor=seller, remedy="partial_refund",
                                   amount=100_000)
    if state == State.AWAITING_RETURN:
        return services.case_accept_claim(case_id=case.pk, actor=seller)
    if state in (State.RESOLVED, State.CLOSED):
        case = services.case_withdraw(case_id=case.pk, actor=buyer, reason="Đã nhận lại tiền")
        if state == State.CLOSED:
            EscrowInstruction.objects.filter(case=case).update(
                status=EscrowInstruction.Status.CONFIRMED)
            case = services.case_close_if_settled(case_id=case.pk)
        return case
    services.case_escalate(case_id=case.pk, actor=seller, reason="Cần hòa giải viên")
    case = services.case_assign(case_id=case.pk, actor=supervisor, mediator=mediator)
    if state == State.IN_MEDIATION:
        return case
    case = services.case_decide(case_id=case.pk, actor=mediator, outcome="partial_refund",
                                refund_amount=150_000, reasons="Hàng hư hỏng một phần.")
    if state == State.DECIDED:
        return case
    return services.case_appeal(case_id=case.pk, actor=seller, grounds="Ảnh chụp không rõ.")
