"""The case dossier: a PDF of the records, evidence (with SHA-256), timeline, decisions and chat,
for referral to the provincial Department of Industry and Trade (Sở Công Thương Quảng Ninh).

Rendered with fpdf2 and a TrueType font with complete Vietnamese glyphs (DejaVu Sans from
Debian's fonts-dejavu-core, or any path in settings.ODR_PDF_FONT_DIR / the list below)."""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from cases import roles
from cases.models import Case
from web import labels

# fontTools logs every font subset at INFO: keep the server's log about the server.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIRS = [
    Path(getattr(settings, "ODR_PDF_FONT_DIR", "") or "/nonexistent"),
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
]


def _font_paths() -> tuple[Path, Path]:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists():
            return regular, bold if bold.exists() else regular
    raise RuntimeError("No Vietnamese-capable font found (install fonts-dejavu-core)")


def _vnd(amount: int | None) -> str:
    return "—" if amount is None else f"{int(amount):,} ₫".replace(",", ".")


def _when(dt) -> str:
    return timezone.localtime(dt).strftime("%d/%m/%Y %H:%M") if dt else "—"


class _Dossier(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        regular, bold = _font_paths()
        self.add_font("dejavu", "", str(regular))
        self.add_font("dejavu", "B", str(bold))
        self.set_font("dejavu", size=10)
        self.set_auto_page_break(auto=True, margin=15)
        self.doc_title = title
        self.set_title(title)
        self.set_creator("odr — Trung tâm giải quyết tranh chấp trực tuyến Quảng Ninh")

    def normalize_text(self, text: str) -> str:
        """Text typed on some phones arrives decomposed (NFD): compose it so every Vietnamese
        letter is one glyph of the font, with its marks in place."""
        return super().normalize_text(unicodedata.normalize("NFC", text))

    def header(self) -> None:
        self.set_font("dejavu", "B", 9)
        self.cell(0, 6, self.doc_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("dejavu", "", 10)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("dejavu", "", 8)
        self.cell(0, 6, f"{self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font("dejavu", "B", 12)
        self.multi_cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("dejavu", "", 10)

    def kv(self, key: str, value: str) -> None:
        self.set_font("dejavu", "B", 10)
        self.cell(55, 6, key)
        self.set_font("dejavu", "", 10)
        self.multi_cell(0, 6, value or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def para(self, text: str, size: int = 10) -> None:
        self.set_font("dejavu", "", size)
        self.multi_cell(0, 5, text or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _chat_messages(case: Case, user) -> list:
    """Messages the downloader may see, if the chat app exists: all of them for the mediator and
    supervisors, otherwise those addressed to everyone or to the downloader's side."""
    try:
        from mediation.access import chat_member
        from mediation.models import ChatMessage
    except ImportError:
        return []
    member = chat_member(user, case)
    if member is None:
        return []
    return list(ChatMessage.objects.filter(case_id=case.pk, audience__in=member.audiences)
                .select_related("author").order_by("seq")[:5000])


def dossier_pdf(*, case: Case, user, escrow: list) -> bytes:
    """The dossier of one case as PDF bytes; `case` comes from selectors.case_get."""
    pdf = _Dossier(_("Case dossier %(ref)s") % {"ref": case.reference})
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("dejavu", "B", 15)
    pdf.multi_cell(0, 8, _("Online dispute resolution centre — Quảng Ninh"),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("dejavu", "", 10)
    pdf.para(_("Dossier for referral to the Department of Industry and Trade of Quảng Ninh "
               "(Sở Công Thương Quảng Ninh). Generated %(when)s by %(who)s.")
             % {"when": _when(timezone.now()), "who": user.get_full_name() or user.username})

    pdf.heading(_("1. The case"))
    pdf.kv(_("Reference"), case.reference)
    pdf.kv(_("State"), str(case.get_state_display()))
    pdf.kv(_("Reason"), str(case.get_reason_display()))
    pdf.kv(_("Buyer asks for"), str(case.get_desired_outcome_display()))
    pdf.kv(_("Amount claimed"), _vnd(case.claimed_amount))
    pdf.kv(_("Filed"), _when(case.filed_at))
    if case.outcome:
        pdf.kv(_("Outcome"), f"{case.get_outcome_display()} — {_vnd(case.refund_amount)}")
    pdf.kv(_("Resolved"), _when(case.resolved_at))
    if case.mediator:
        pdf.kv(_("Mediator"), case.mediator.get_full_name() or case.mediator.username)
    pdf.kv(_("Description"), case.description)

    pdf.heading(_("2. Records"))
    order = case.order
    pdf.kv(_("Marketplace"), case.marketplace.name)
    pdf.kv(_("Order"), f"{order.external_id} — {_when(order.placed_at)} — {_vnd(order.total)}")
    pdf.kv(_("Buyer"), case.buyer.name)
    pdf.kv(_("Seller"), case.seller.name)
    for line in order.lines.all():
        pdf.para(f"  • {line.name} ({line.sku}) × {line.quantity} = {_vnd(line.amount)}")
    if case.payment:
        p = case.payment
        pdf.kv(_("Payment"), f"{p.partner.name} {p.external_id} · {p.get_method_display()} · "
                             f"{_vnd(p.amount)} · {_when(p.paid_at)}")
    for shipment in order.shipments.all():
        pdf.kv(_("Shipment"), f"{shipment.carrier.name} {shipment.tracking_number} "
                              f"({shipment.get_direction_display()}) — {shipment.get_status_display()}")
        for event in shipment.events.all():
            pdf.para(f"  {_when(event.occurred_at)}  {event.get_status_display()}  {event.location} "
                     f"{event.description}", size=9)
    for instruction in escrow:
        pdf.kv(_("Escrow"), f"{instruction.get_kind_display()} {_vnd(instruction.amount)} — "
                            f"{labels.escrow_status_label(instruction.status)}")

    pdf.heading(_("3. Evidence (SHA-256 fingerprints)"))
    evidence = list(case.evidence.all())
    if not evidence:
        pdf.para(_("No evidence."))
    for e in evidence:
        pdf.para(f"• {e.original_name} — {e.content_type}, {e.size:,} B — "
                 f"{labels.role_label(e.uploader_role)}, {_when(e.created_at)}")
        pdf.set_font("dejavu", "", 8)
        pdf.multi_cell(0, 4, f"  SHA-256: {e.sha256}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if e.caption:
            pdf.para(f"  {e.caption}", size=9)

    pdf.heading(_("4. Offers, decisions and appeals"))
    for o in case.offers.all():
        pdf.para(f"• {_when(o.created_at)} {labels.role_label(o.author_role)}: "
                 f"{o.get_remedy_display()} {_vnd(o.amount)} — {o.get_status_display()}. {o.note}")
    for d in case.decisions.all():
        pdf.para(f"• {_('Decision')} {_when(d.created_at)}: {d.get_outcome_display()} "
                 f"{_vnd(d.refund_amount)}. {d.reasons}")
    for a in case.appeals.all():
        result = a.get_result_display() if a.result else _("pending")
        pdf.para(f"• {_('Appeal')} {_when(a.created_at)} ({labels.role_label(a.appellant_role)}): "
                 f"{a.grounds} — {result}. {a.review_reasons}")

    pdf.heading(_("5. Timeline"))
    for t in case.timeline.all():
        who = labels.role_label(t.actor_role)
        if t.actor:
            who = f"{t.actor.get_full_name() or t.actor.username} ({who})"
        move = f" [{labels.state_label(t.from_state)} → {labels.state_label(t.to_state)}]" \
            if t.from_state and t.to_state and t.from_state != t.to_state else ""
        pdf.para(f"{_when(t.created_at)}  {who}: {labels.action_label(t.action)}{move}"
                 + (f" — {t.reason}" if t.reason else ""), size=9)

    pdf.heading(_("6. Mediation chat"))
    chat = _chat_messages(case, user)
    if not chat:
        pdf.para(_("No chat messages."))
    for m in chat:
        author = m.author
        name = (author.get_full_name() or author.username) if author else _("ODR system")
        audience = m.audience
        private = "" if audience == "all" else f" [{_('private with')} {labels.role_label(audience)}]"
        body = m.body
        if m.redacted_at is not None:
            staff = roles.is_case_mediator(user, case) or roles.is_supervisor(user)
            body = f"[{_('removed')}] {m.body}" if staff else f"({_('removed')})"
        pdf.para(f"#{m.seq} {_when(m.created_at)} {name}{private}: "
                 f"{body}", size=9)
    return bytes(pdf.output())
