"""Words the pages show for codes: actions, roles, states, escrow statuses, and the field
messages services raise (written in Vietnamese there; translated here into the user's language)."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from cases.models import State

ACTIONS = {
    "file": gettext_lazy("Complaint filed"),
    "accept_claim": gettext_lazy("Accept the claim"),
    "make_offer": gettext_lazy("Make an offer"),
    "contest": gettext_lazy("Contest with evidence"),
    "accept_offer": gettext_lazy("Accept the offer"),
    "counter_offer": gettext_lazy("Counter-offer"),
    "escalate": gettext_lazy("Ask the centre to mediate"),
    "withdraw": gettext_lazy("Withdraw the complaint"),
    "return_ship": gettext_lazy("Register the return shipment"),
    "return_delivered": gettext_lazy("Return delivered"),
    "confirm_return": gettext_lazy("Confirm the returned item"),
    "dispute_return": gettext_lazy("Dispute the returned item"),
    "take": gettext_lazy("Take this case"),
    "assign": gettext_lazy("Assign a mediator"),
    "propose_settlement": gettext_lazy("Propose a settlement"),
    "accept_settlement": gettext_lazy("Accept the settlement"),
    "accept_settlement_partial": gettext_lazy("Settlement accepted by one party"),
    "decide": gettext_lazy("Decide"),
    "appeal": gettext_lazy("Appeal the decision"),
    "uphold": gettext_lazy("Uphold the decision"),
    "overturn": gettext_lazy("Overturn the decision"),
    "add_evidence": gettext_lazy("Add evidence"),
    "extension_request": gettext_lazy("Ask for more time"),
    "extension_decide": gettext_lazy("Decide on the request for more time"),
    "evidence_request": gettext_lazy("Request evidence"),
    "evidence_add": gettext_lazy("Evidence added"),
    "seller_deadline_passed": gettext_lazy("Seller's deadline passed"),
    "buyer_deadline_passed": gettext_lazy("Buyer's deadline passed"),
    "return_deadline_passed": gettext_lazy("Return deadline passed"),
    "appeal_window_passed": gettext_lazy("Appeal window passed"),
    "sla_breach": gettext_lazy("Handling deadline missed"),
    "close": gettext_lazy("Closed"),
    "extension_grant": gettext_lazy("Extension granted"),
    "extension_refuse": gettext_lazy("Extension refused"),
    "extension_lapsed": gettext_lazy("Extension request lapsed"),
    "evidence_request_fulfil": gettext_lazy("Requested evidence provided"),
    "proof_of_delivery": gettext_lazy("Proof of delivery received"),
    "escrow_confirmed": gettext_lazy("Payment partner confirmed the money transfer"),
    "escrow_dead_letter": gettext_lazy("Money transfer failed — being handled"),
    "escrow_retry": gettext_lazy("Money transfer retried"),
    "escrow_cancel": gettext_lazy("Money transfer cancelled"),
    "escrow_confirmed_after_cancel": gettext_lazy("Partner confirmed a cancelled transfer"),
    "chargeback_opened": gettext_lazy("Chargeback opened"),
    "escrow_blocked_by_chargeback": gettext_lazy("Money transfer blocked by a chargeback"),
    "escrow_cancelled_by_chargeback": gettext_lazy("Money transfer cancelled by a chargeback"),
}

ROLES = {
    "buyer": gettext_lazy("Buyer"),
    "seller": gettext_lazy("Seller"),
    "mediator": gettext_lazy("Mediator"),
    "supervisor": gettext_lazy("Supervisor"),
    "system": gettext_lazy("ODR system"),
}

ESCROW = {
    "pending": gettext_lazy("pending"),
    "accepted": gettext_lazy("pending (partner received it)"),
    "confirmed": gettext_lazy("done"),
    "dead": gettext_lazy("failed — being handled"),
    "cancelled": gettext_lazy("cancelled"),
}


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, action.replace("_", " ")))


def role_label(role: str) -> str:
    return str(ROLES.get(role, role))


def state_label(state: str) -> str:
    try:
        return str(State(state).label)
    except ValueError:
        return state


def escrow_status_label(status: str) -> str:
    return str(ESCROW.get(status, status))


# Field messages the services raise verbatim (Vietnamese); marked so they enter the catalogs.
SERVICE_MESSAGES = [
    gettext_noop("Số tiền yêu cầu phải lớn hơn 0."),
    gettext_noop("Đơn hàng chưa được giao: chưa thể khiếu nại về chất lượng hàng."),
    gettext_noop("Lý do không hợp lệ."),
    gettext_noop("Yêu cầu không hợp lệ."),
    gettext_noop("Vui lòng mô tả vấn đề."),
    gettext_noop("Không tìm thấy đơn hàng."),
    gettext_noop("Tệp rỗng."),
    gettext_noop("Chỉ nhận ảnh (JPEG, PNG, WebP, GIF), PDF hoặc video (MP4, MOV, WebM)."),
    gettext_noop("Phương án không hợp lệ."),
    gettext_noop("Vui lòng nêu lý do."),
    gettext_noop("Cần ít nhất một bằng chứng do người bán tải lên."),
    gettext_noop("Đơn vị vận chuyển không hợp lệ."),
    gettext_noop("Bắt buộc."),
    gettext_noop("Vui lòng nêu căn cứ."),
    gettext_noop("Người này không phải hòa giải viên."),
    gettext_noop("Hòa giải viên có liên quan đến một bên."),
    gettext_noop("Kết quả không hợp lệ."),
    gettext_noop("Quyết định phải có lý do."),
    gettext_noop("Không tìm thấy."),
    gettext_noop("Vui lòng nêu lý do chuyển vụ việc."),
    gettext_noop("Hòa giải viên có xung đột lợi ích với vụ việc."),
]

# Messages with numbers in them: (pattern, translatable template with the same named groups).
_PATTERNS = [
    (re.compile(r"^Số tiền yêu cầu vượt quá số đã thanh toán \((?P<n>\d+) ₫\)\.$"),
     gettext_noop("The amount exceeds what was paid (%(n)s ₫).")),
    (re.compile(r"^Số tiền phải từ 1 đến (?P<n>\d+) ₫ \(số tiền đang tranh chấp\)\.$"),
     gettext_noop("The amount must be between 1 and %(n)s ₫ (the disputed amount).")),
    (re.compile(r"^Tệp quá lớn \((?P<size>\d+) byte\); tối đa (?P<max>\d+) MB\.$"),
     gettext_noop("The file is too large (%(size)s bytes); at most %(max)s MB.")),
    (re.compile(r"^Chỉ có thể khiếu nại 'không nhận được hàng' từ (?P<when>.+)\.$"),
     gettext_noop("A 'not received' complaint can be filed from %(when)s.")),
    (re.compile(r"^Đã hết thời hạn khiếu nại \((?P<n>\d+) ngày sau khi nhận hàng\)\.$"),
     gettext_noop("The time to complain has passed (%(n)s days after delivery).")),
]


def service_message(message: str) -> str:
    """A service's field message in the user's language."""
    for pattern, template in _PATTERNS:
        match = pattern.match(message)
        if match:
            groups = dict(match.groupdict())
            for key in ("n", "size"):
                if key in groups and groups[key].isdigit():
                    groups[key] = f"{int(groups[key]):,}".replace(",", ".")
            return _(template) % groups
    return _(message)


GENERIC = {
    "case_exists": gettext_noop("This order already has an open complaint."),
    "action_not_allowed": gettext_noop("This action is no longer possible: the case has moved on. "
                                       "The page shows what you can do now."),
    "concurrent_update": gettext_noop("Someone changed the case at the same time; please try again."),
    "not_found": gettext_noop("Not found."),
    "case_closed": gettext_noop("The case is closed."),
    "decision_on_record": gettext_noop("The deciding mediator stays on a decided case."),
    "already_assigned": gettext_noop("The case is already assigned to this mediator."),
}


def domain_error_message(code: str, fallback: str) -> str:
    text = GENERIC.get(code)
    return _(text) if text else _("The request could not be carried out: %(detail)s") % {
        "detail": service_message(fallback)}
