"""Template helpers of the web centre: money, deadlines, labels."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cases.calendar import working_days_between
from web import labels

register = template.Library()


@register.filter
def vnd(amount: int | None) -> str:
    """450000 → "450.000 ₫" (Vietnamese grouping, no minor unit)."""
    if amount is None or amount == "":
        return "—"
    return f"{int(amount):,} ₫".replace(",", ".")


def countdown(due_at: datetime | None, now: datetime | None = None) -> tuple[str, str]:
    """(text, css class) for a deadline: "còn 2 ngày làm việc", "hạn hôm nay", "quá hạn"."""
    if due_at is None:
        return "", ""
    now = now or timezone.now()
    if due_at <= now:
        return _("overdue"), "due-over"
    days = working_days_between(now, due_at)
    if days <= 0:
        hours = max(1, int((due_at - now).total_seconds() // 3600))
        return ngettext("%(n)d hour left", "%(n)d hours left", hours) % {"n": hours}, "due-soon"
    text = ngettext("%(n)d working day left", "%(n)d working days left", days) % {"n": days}
    return text, "due-soon" if days <= 1 else "due-ok"


@register.simple_tag
def deadline(due_at: datetime | None) -> str:
    """A badge with the countdown and the exact local time in its title."""
    text, css = countdown(due_at)
    if not text:
        return ""
    local = timezone.localtime(due_at)
    return format_html('<span class="due {}" title="{}"><time datetime="{}">{}</time></span>',
                       css, f"{local:%d/%m/%Y %H:%M}", due_at.isoformat(), text)


@register.filter
def action_label(action: str) -> str:
    return labels.action_label(action)


@register.filter
def role_label(role: str) -> str:
    return labels.role_label(role)


@register.filter
def state_label(state: str) -> str:
    return labels.state_label(state)


@register.filter
def escrow_status(instruction) -> str:
    return labels.escrow_status_label(instruction.status)


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.filter
def is_supervisor(user) -> bool:
    from cases import roles

    return roles.is_supervisor(user)


@register.filter
def has_buyer_account(user) -> bool:
    return user.is_authenticated and user.buyer_accounts.exists()


@register.filter
def percent(value: float | None) -> str:
    from django.utils.formats import number_format

    return "—" if value is None else f"{number_format(value * 100, 1)} %"


@register.filter
def bar_width(value: float | int | None, maximum: float | int | None) -> str:
    """Width (percent, dot decimal) of a CSS bar relative to the largest value."""
    if not value or not maximum:
        return "0"
    return f"{min(100.0, 100.0 * float(value) / float(maximum)):.1f}"


@register.filter
def duration_hours(hours: float | None) -> str:
    """A duration given in hours, in the unit a person reads best: minutes, hours or days."""
    from django.utils.formats import number_format

    if hours is None:
        return "—"
    if hours < 1:
        minutes = round(hours * 60)
        return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
    if hours < 48:
        return _("%(n)s h") % {"n": number_format(hours, 1)}
    return _("%(n)s days") % {"n": number_format(hours / 24, 1)}


@register.inclusion_tag("web/_week_chart.html")
def week_chart(weeks: list[dict]) -> dict:
    """A server-rendered SVG column chart of cases filed (and resolved) per week."""
    top = max([w["filed"] for w in weeks] + [1])
    width, height, pad = max(600, 12 * len(weeks)), 200, 26
    step = (width - pad) / max(1, len(weeks))
    bars = []
    for i, w in enumerate(weeks):
        h = (height - pad) * w["filed"] / top
        hr = (height - pad) * w["resolved"] / top
        x = pad + i * step
        bars.append({"x": f"{x:.1f}", "w": f"{max(2.0, step * 0.7):.1f}", "y": f"{height - pad - h:.1f}",
                     "h": f"{h:.1f}", "yr": f"{height - pad - hr:.1f}", "hr": f"{hr:.1f}",
                     "label": w["week"], "filed": w["filed"], "resolved": w["resolved"],
                     "tick": i % max(1, len(weeks) // 6) == 0})
    return {"bars": bars, "width": width, "height": height, "pad": pad, "top": top,
            "base": height - pad}
