"""Readable Vietnamese lines for the system messages that announce case events in the chat."""

from django.utils import translation

from cases.events import CaseEvent
from cases.models import Outcome, Reason, Remedy, State

ROLE_VI = {
    "buyer": "Người mua", "seller": "Người bán", "mediator": "Hòa giải viên",
    "supervisor": "Giám sát viên", "system": "Hệ thống", "unknown": "Hệ thống",
}

# Per action: a sentence; {who} is the actor's role, {detail} what the data adds.
ACTIONS_VI = {
    "file": "{who} đã gửi khiếu nại{detail}.",
    "accept_claim": "{who} đã chấp nhận yêu cầu của người mua{detail}.",
    "offer": "{who} đã đưa ra đề nghị{detail}.",
    "make_offer": "{who} đã đưa ra đề nghị{detail}.",
    "contest": "{who} không đồng ý với khiếu nại và đã gửi bằng chứng.",
    "accept_offer": "{who} đã chấp nhận đề nghị{detail}.",
    "counter_offer": "{who} đã đưa ra đề nghị khác{detail}.",
    "withdraw": "{who} đã rút khiếu nại.",
    "escalate": "{who} đã đề nghị chuyển vụ việc sang hòa giải.",
    "return_ship": "{who} đã gửi trả hàng.",
    "return_delivered": "Hàng hoàn đã được giao tới người bán.",
    "confirm_return": "{who} đã xác nhận nhận lại hàng{detail}.",
    "dispute_return": "{who} phản đối tình trạng hàng hoàn.",
    "assign": "Vụ việc đã được phân công cho hòa giải viên.",
    "propose_settlement": "{who} đề xuất phương án hòa giải{detail}.",
    "accept_settlement_partial": "{who} đã chấp nhận phương án hòa giải, đang chờ bên còn lại.",
    "accept_settlement": "Hai bên đã chấp nhận phương án hòa giải{detail}.",
    "decide": "{who} đã ra quyết định{detail}.",
    "appeal": "{who} đã khiếu nại lại quyết định.",
    "uphold": "{who} đã giữ nguyên quyết định{detail}.",
    "overturn": "{who} đã thay đổi quyết định{detail}.",
    "seller_deadline_passed": "Quá hạn: người bán không trả lời, vụ việc được giải quyết có lợi "
                              "cho người mua{detail}.",
    "buyer_deadline_passed": "Quá hạn: người mua không trả lời đề nghị, vụ việc được giải quyết "
                             "có lợi cho người bán.",
    "return_deadline_passed": "Quá hạn hoàn hàng.",
    "appeal_window_passed": "Hết thời hạn khiếu nại lại: quyết định có hiệu lực{detail}.",
    "sla_breach": "Quá hạn xử lý: vụ việc được chuyển cho giám sát viên.",
    "close": "Đối tác thanh toán đã xác nhận; vụ việc đã đóng.",
    "evidence_add": "{who} đã nộp bằng chứng{detail}.",
}


def _money(amount) -> str:
    return f"{int(amount):,}".replace(",", ".") + " ₫"


def _detail(data: dict) -> str:
    parts = []
    reason = data.get("reason")
    if reason in Reason.values:
        parts.append(str(Reason(reason).label).lower())
    remedy = data.get("remedy")
    if remedy in Remedy.values:
        parts.append(str(Remedy(remedy).label).lower())
    outcome = data.get("outcome")
    if outcome in Outcome.values:
        parts.append(str(Outcome(outcome).label).lower())
    amount = data.get("amount", data.get("refund_amount", data.get("claimed_amount")))
    if isinstance(amount, int) and amount > 0:
        parts.append(_money(amount))
    name = data.get("name")
    if name:
        parts.append(f"«{name}»")
    return (": " + ", ".join(parts)) if parts else ""


def _state(value: str) -> str:
    return str(State(value).label) if value in State.values else value


def system_text(event: CaseEvent) -> str:
    """One line such as "Người bán đã đưa ra đề nghị: hoàn tiền một phần, 100.000 ₫.
    Trạng thái: Chờ người bán trả lời → Chờ người mua trả lời."""
    with translation.override("vi"):
        who = ROLE_VI.get(event.actor_role, "Hệ thống")
        template = ACTIONS_VI.get(event.action)
        if template is None:
            text = f"{who}: {event.action.replace('_', ' ')}."
        else:
            text = template.format(who=who, detail=_detail(event.data or {}))
        if event.from_state and event.to_state and event.from_state != event.to_state:
            text += f" Trạng thái: {_state(event.from_state)} → {_state(event.to_state)}."
        return text
