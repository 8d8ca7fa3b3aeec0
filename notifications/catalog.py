"""Every notification the centre sends: its title and body, written once as translatable
strings (Vietnamese source, English catalog), and rendered in the RECIPIENT's language.

`render(event=…, context=…, case=…, language=…)` is the only entry point. Contexts hold raw,
JSON-able values (amounts in đồng, ISO times, role and outcome codes); everything a reader sees
— labels, money, times — is produced here inside `translation.override(language)`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from notifications import conf


@dataclass(frozen=True)
class Message:
    title: Any
    body: Any
    anchor: str = ""  # appended to the case URL, e.g. "#chat"


# --- labels ------------------------------------------------------------------------------------
ROLES = {
    "buyer": pgettext_lazy("notification actor", "Người mua"),
    "seller": pgettext_lazy("notification actor", "Người bán"),
    "mediator": pgettext_lazy("notification actor", "Hòa giải viên"),
    "supervisor": pgettext_lazy("notification actor", "Giám sát viên"),
    "system": pgettext_lazy("notification actor", "Hệ thống"),
}
REASONS = {
    "not_received": _("không nhận được hàng"),
    "not_as_described": _("hàng không đúng mô tả"),
    "damaged": _("hàng bị hư hỏng"),
    "wrong_item": _("giao sai hàng"),
    "missing_parts": _("thiếu phụ kiện, bộ phận"),
    "counterfeit": _("hàng giả, hàng nhái"),
    "unauthorised_payment": _("giao dịch không được phép"),
    "duplicate_charge": _("bị trừ tiền hai lần"),
    "refund_not_processed": _("chưa được hoàn tiền"),
    "other": _("lý do khác"),
}
OUTCOMES = {
    "full_refund": _("hoàn tiền toàn bộ"),
    "partial_refund": _("hoàn tiền một phần"),
    "return_and_refund": _("trả hàng và hoàn tiền"),
    "replacement": _("đổi hàng mới"),
    "seller_favour": _("có lợi cho người bán"),
    "withdrawn": _("người mua rút yêu cầu"),
}
# Why a deadline acted on its own (by timeline action, and for returns by where it led).
WHY = {
    "seller_deadline_passed": _("Người bán không trả lời trong thời hạn."),
    "buyer_deadline_passed": _("Người mua không trả lời đề nghị trong thời hạn."),
    "return_not_shipped": _("Người mua không gửi trả hàng trong thời hạn."),
    "return_not_confirmed": _("Người bán không xác nhận hàng hoàn trong thời hạn."),
    "return_stuck": _("Hàng hoàn chưa đến nơi trong thời hạn."),
    "appeal_window_passed": _("Hết thời hạn khiếu nại lại: quyết định của hòa giải viên có hiệu lực."),
}
ESCROW = {
    "refund": _("Đối tác thanh toán đã hoàn {amount} cho người mua."),
    "release": _("Đối tác thanh toán đã chuyển {amount} cho người bán."),
    "hold": _("Đối tác thanh toán đã tạm giữ {amount} trong thời gian giải quyết vụ việc."),
}
NEXT_RETURN = _("Người mua gửi trả hàng trước {due}; khoản hoàn {refund} được chuyển khi người bán "
                "xác nhận đã nhận hàng.")
NEXT_REFUND = _("Vụ việc đã được giải quyết; khoản hoàn {refund} sẽ được chuyển qua đối tác thanh toán.")
NEXT_CLOSED = _("Vụ việc đã được giải quyết.")
NEXT_MEDIATION = _("Vụ việc được chuyển cho hòa giải viên.")
ASSIGNED = _("Bạn là hòa giải viên được phân công.")
UNASSIGNED = _("Vụ việc đang chờ hòa giải viên nhận.")
UPHELD = _("Giám sát viên giữ nguyên quyết định")
OVERTURNED = _("Giám sát viên thay đổi quyết định")
STAGE_MEDIATION = _("đang hòa giải")
STAGE_APPEAL = _("đang xem xét khiếu nại lại")
NO_DEADLINE = _("(không có hạn)")


# --- the catalog -------------------------------------------------------------------------------
MESSAGES: dict[str, Message] = {
    "case_filed": Message(
        _("Khiếu nại mới {reference}"),
        _("Người mua khiếu nại đơn hàng {order} ({reason}) và yêu cầu {remedy}, {claimed}. Vui lòng "
          "trả lời trước {due}; nếu không, vụ việc sẽ tự động được giải quyết theo hướng có lợi cho "
          "người mua."),
    ),
    "claim_accepted": Message(
        _("Người bán chấp nhận khiếu nại {reference}"),
        _("Người bán đồng ý với yêu cầu của bạn ({outcome}). {next_step}"),
    ),
    "offer_made": Message(
        _("Người bán đưa ra đề nghị {reference}"),
        _("Người bán đề nghị: {remedy}, {amount}. Bạn có thể chấp nhận, đề nghị lại hoặc yêu cầu hòa "
          "giải viên xem xét trước {due}."),
    ),
    "claim_contested": Message(
        _("Người bán từ chối khiếu nại {reference}"),
        _("Người bán từ chối khiếu nại và đã gửi bằng chứng. Bạn có thể yêu cầu hòa giải viên xem xét "
          "hoặc rút khiếu nại trước {due}."),
    ),
    "counter_offered": Message(
        _("Người mua đề nghị lại {reference}"),
        _("Người mua đề nghị: {remedy}, {amount}. Vui lòng trả lời trước {due}."),
    ),
    "offer_accepted": Message(
        _("Người mua chấp nhận đề nghị {reference}"),
        _("Người mua chấp nhận đề nghị của bạn ({outcome}). {next_step}"),
    ),
    "case_withdrawn": Message(
        _("Người mua rút khiếu nại {reference}"),
        _("Người mua đã rút khiếu nại; vụ việc kết thúc và khoản tiền tạm giữ được trả cho người bán."),
    ),
    "case_escalated": Message(
        _("Vụ việc cần hòa giải {reference}"),
        _("{who} đề nghị hòa giải viên xem xét vụ việc {reference} ({reason}, {claimed}). {next_step}"),
    ),
    "case_in_mediation": Message(
        _("Vụ việc chuyển sang hòa giải {reference}"),
        _("{who} đã đề nghị hòa giải viên của trung tâm xem xét vụ việc. Hòa giải viên sẽ làm việc "
          "với cả hai bên."),
    ),
    "mediator_assigned": Message(
        _("Bạn được phân công vụ việc {reference}"),
        _("Bạn được phân công hòa giải vụ việc {reference} ({reason}, {claimed}). Hạn xử lý: {due}."),
    ),
    "evidence_requested": Message(
        _("Cần bổ sung bằng chứng {reference}"),
        _("Hòa giải viên đề nghị bạn cung cấp: {message} Hạn: {due}."),
    ),
    "settlement_proposed": Message(
        _("Đề xuất hòa giải {reference}"),
        _("Hòa giải viên đề xuất: {remedy}, {amount}. Vụ việc được giải quyết khi cả hai bên chấp nhận."),
    ),
    "settlement_accepted_partial": Message(
        _("Một bên đã chấp nhận đề xuất hòa giải {reference}"),
        _("{who} đã chấp nhận đề xuất hòa giải. Vụ việc được giải quyết khi bên còn lại cũng chấp nhận."),
    ),
    "settlement_accepted": Message(
        _("Hòa giải thành công {reference}"),
        _("Hai bên đã chấp nhận đề xuất hòa giải ({outcome}). {next_step}"),
    ),
    "decision_made": Message(
        _("Quyết định của hòa giải viên {reference}"),
        _("Hòa giải viên đã quyết định: {outcome}, hoàn cho người mua {refund}. Nếu không đồng ý, bạn "
          "có thể khiếu nại lại trước {due}."),
    ),
    "appeal_filed": Message(
        _("Khiếu nại lại quyết định {reference}"),
        _("{who} khiếu nại lại quyết định của hòa giải viên. Vui lòng xem xét trước {due}."),
    ),
    "appeal_decided": Message(
        _("Kết quả xem xét khiếu nại lại {reference}"),
        _("{result}: {outcome}, hoàn cho người mua {refund}."),
    ),
    "deadline_passed": Message(
        _("Hết hạn xử lý vụ việc {reference}"),
        _("{why} Kết quả: {next_step}"),
    ),
    "sla_breach": Message(
        _("Quá hạn xử lý {reference}"),
        _("Vụ việc {reference} {stage} đã quá hạn xử lý; cần giám sát viên phân công lại hoặc xử lý."),
    ),
    "escrow_executed": Message(
        _("Xác nhận thanh toán {reference}"),
        _("{escrow} Số tiền: {amount}."),
    ),
    "return_shipped": Message(
        _("Người mua đã gửi trả hàng {reference}"),
        _("Người mua gửi trả hàng qua {carrier}, mã vận đơn {tracking}. Vui lòng xác nhận khi nhận "
          "được hàng."),
    ),
    "return_delivered": Message(
        _("Hàng hoàn đã đến {reference}"),
        _("Đơn vị vận chuyển báo đã giao hàng hoàn. Vui lòng xác nhận hoặc báo hàng không đúng trước "
          "{due}; nếu không, người mua sẽ được hoàn tiền."),
    ),
    "return_confirmed": Message(
        _("Người bán đã nhận hàng hoàn {reference}"),
        _("Người bán xác nhận đã nhận hàng hoàn. Khoản hoàn {refund} sẽ được chuyển qua đối tác thanh "
          "toán."),
    ),
    "extension_requested": Message(
        _("Yêu cầu gia hạn {reference}"),
        _("{who} xin thêm {days} ngày làm việc. Lý do: {text} Vui lòng chấp thuận hoặc từ chối."),
    ),
    "extension_granted": Message(
        _("Gia hạn được chấp thuận {reference}"),
        _("Yêu cầu gia hạn của bạn đã được chấp thuận. Hạn mới: {due}."),
    ),
    "extension_refused": Message(
        _("Gia hạn bị từ chối {reference}"),
        _("Yêu cầu gia hạn của bạn bị từ chối. Hạn vẫn là {due}."),
    ),
    "chat_messages": Message(
        _("Tin nhắn mới trong vụ việc {reference}"),
        "",  # plural: see _chat_body
        anchor="#chat",
    ),
    "deadline_reminder": Message(
        _("Sắp đến hạn: {reference}"),
        "",  # plural: see _reminder_body
    ),
}
EVENTS: tuple[str, ...] = tuple(MESSAGES)


def _chat_body(ctx: dict) -> str:
    count = int(ctx.get("count") or 0)
    return ngettext("Bạn có {count} tin nhắn mới chưa đọc.", "Bạn có {count} tin nhắn mới chưa đọc.",
                    count)


def _reminder_body(ctx: dict) -> str:
    hours = int(ctx.get("hours") or 0)
    return ngettext(
        "Còn khoảng {hours} giờ để xử lý vụ việc {reference} (hạn {due}). Nếu quá hạn, vụ việc sẽ "
        "được xử lý tự động theo quy định.",
        "Còn khoảng {hours} giờ để xử lý vụ việc {reference} (hạn {due}). Nếu quá hạn, vụ việc sẽ "
        "được xử lý tự động theo quy định.",
        hours,
    )


# --- formatting --------------------------------------------------------------------------------
class _Lenient(string.Formatter):
    """A missing key renders as nothing rather than breaking a notification."""

    def get_value(self, key, args, kwargs):
        if isinstance(key, str):
            return kwargs.get(key, "")
        return super().get_value(key, args, kwargs)


_fmt = _Lenient()


def format_vnd(amount: Any, language: str | None = None) -> str:
    """Whole đồng with the local thousands separator: "150.000 ₫" (vi), "150,000 ₫" (en)."""
    try:
        value = int(amount)
    except (TypeError, ValueError):
        return ""
    grouped = f"{value:,}"
    if (language or translation.get_language() or "vi")[:2] != "en":
        grouped = grouped.replace(",", ".")
    return f"{grouped} ₫"


def format_when(value: Any) -> str:
    """A moment as the parties read it: wall-clock time in Vietnam."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        return str(NO_DEADLINE)
    return value.astimezone(ZoneInfo(conf.timezone_name())).strftime("%H:%M %d/%m/%Y")


def _label(table: dict, code: Any) -> str:
    return str(table.get(code, code or ""))


def _next_step(ctx: dict, case) -> str:
    to_state = ctx.get("to_state") or getattr(case, "state", "")
    if to_state == "awaiting_return":
        return _fmt.format(str(NEXT_RETURN), **ctx)
    if to_state == "in_mediation":
        return str(NEXT_MEDIATION)
    if to_state in ("resolved", "closed"):
        return _fmt.format(str(NEXT_REFUND), **ctx) if int(ctx.get("_refund") or 0) else str(NEXT_CLOSED)
    return ""


def _why(ctx: dict) -> str:
    action = ctx.get("action", "")
    if action == "return_deadline_passed":
        if ctx.get("to_state") == "in_mediation":
            return str(WHY["return_stuck"])
        key = "return_not_shipped" if ctx.get("outcome") == "seller_favour" else "return_not_confirmed"
        return str(WHY[key])
    return _label(WHY, action)


def _values(event: str, raw: dict, case, language: str) -> dict:
    """Raw context + case → the strings the templates interpolate (already in `language`)."""
    ctx: dict[str, Any] = dict(raw)
    if case is not None:
        ctx.setdefault("reference", case.reference)
        ctx.setdefault("order", getattr(case.order, "external_id", ""))
        ctx.setdefault("reason_code", case.reason)
        ctx.setdefault("remedy_code", case.desired_outcome)
        ctx.setdefault("claimed_amount", case.claimed_amount)
        ctx.setdefault("due_at", case.due_at)
        ctx.setdefault("outcome", case.outcome)
        ctx.setdefault("refund_amount", case.refund_amount)
    ctx["_refund"] = ctx.get("refund_amount") or 0
    ctx["reason"] = _label(REASONS, ctx.get("reason_code"))
    ctx["remedy"] = _label(OUTCOMES, ctx.get("remedy") or ctx.get("remedy_code"))
    ctx["claimed"] = format_vnd(ctx.get("claimed_amount"), language)
    ctx["refund"] = format_vnd(ctx.get("refund_amount") or 0, language)
    ctx["amount"] = format_vnd(ctx.get("amount"), language)
    ctx["due"] = format_when(ctx.get("due_at"))
    ctx["who"] = _label(ROLES, ctx.get("actor_role"))
    ctx["outcome_code"] = ctx.get("outcome")
    ctx["outcome"] = _label(OUTCOMES, ctx.get("outcome"))
    if event in ("claim_accepted", "offer_accepted", "settlement_accepted", "deadline_passed"):
        ctx["next_step"] = _next_step({**ctx, "outcome": ctx["outcome_code"]}, case)
    if event == "deadline_passed":
        ctx["why"] = _why({**ctx, "outcome": ctx["outcome_code"]})
        if ctx.get("to_state") not in ("in_mediation",) and ctx["outcome_code"]:
            ctx["next_step"] = f"{ctx['outcome']}, {ctx['refund']}. {ctx['next_step']}".strip()
    if event == "case_escalated":
        ctx["next_step"] = str(ASSIGNED if ctx.get("assigned") else UNASSIGNED)
    if event == "appeal_decided":
        ctx["result"] = str(OVERTURNED if ctx.get("action") == "overturn" else UPHELD)
    if event == "sla_breach":
        ctx["stage"] = str(STAGE_APPEAL if ctx.get("state") == "under_appeal" else STAGE_MEDIATION)
    if event == "escrow_executed":
        ctx["escrow"] = _fmt.format(str(ESCROW.get(ctx.get("kind"), ESCROW["refund"])), **ctx)
    if event == "extension_requested":
        ctx["text"] = str(ctx.get("text") or "").strip()
    return ctx


def render(*, event: str, context: dict | None, case, language: str) -> tuple[str, str, str]:
    """(title, body, url) of `event` for one recipient, in `language`."""
    message = MESSAGES.get(event) or Message(_("Thông báo {reference}"), "")
    with translation.override(language):
        ctx = _values(event, context or {}, case, language)
        body = str(message.body) if message.body else ""
        if event == "chat_messages":
            body = _chat_body(ctx)
        elif event == "deadline_reminder":
            body = _reminder_body(ctx)
        title = _fmt.format(str(message.title), **ctx).strip()
        body = " ".join(_fmt.format(body, **ctx).split())
    url = f"/cases/{case.pk}/{message.anchor}" if case is not None else ""
    return title[:200], body, url
