"""Pages of the web centre. Thin: parse a form, call one service or selector, render."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases import roles, selectors, services
from cases.errors import ActionNotAllowed, DomainError
from cases.models import Case, Evidence, Offer, State
from web import forms as f
from web import stats as stats_selectors
from web.labels import action_label, domain_error_message

log = logging.getLogger(__name__)

CLOSED_STATES = [State.RESOLVED, State.CLOSED]


# --- who is looking ---------------------------------------------------------------------------
def primary_role(user) -> str:
    """The hat the person wears on the list page: supervisor > mediator > seller > buyer."""
    if roles.is_supervisor(user):
        return "supervisor"
    if roles.is_mediator(user):
        return "mediator"
    if roles.seller_ids(user):
        return "seller"
    return "buyer"


def _unread_counts(user, case_ids: list[int]) -> dict[int, int]:
    """Unread chat messages per case, if the chat app provides them (it may not yet)."""
    if not case_ids:
        return {}
    try:
        from mediation.selectors import unread_counts
    except ImportError:
        return {}
    try:
        return unread_counts(user, case_ids)
    except Exception:  # the chat must never take the case list down
        log.exception("unread_counts failed")
        return {}


def _chat_member(user, case: Case) -> bool:
    """Whether the chat panel is shown: the chat app decides membership when it is present."""
    try:
        from mediation.access import chat_member
    except ImportError:
        return roles.is_party(user, case) or roles.is_case_mediator(user, case)
    return chat_member(user, case) is not None


# --- the case list ----------------------------------------------------------------------------
QUEUES = {
    "buyer": ["open", "all"],
    "seller": ["open", "all"],
    "mediator": ["mine", "open", "all"],
    "supervisor": ["unassigned", "breaching", "appeals", "all"],
}


def _queue(qs: QuerySet[Case], queue: str, user) -> QuerySet[Case]:
    if queue == "open" and roles.is_staff_of_centre(user):
        return qs.filter(state=State.IN_MEDIATION, mediator__isnull=True)
    if queue == "open":
        return qs.exclude(state__in=CLOSED_STATES)
    if queue == "mine":
        return qs.filter(mediator=user).exclude(state__in=CLOSED_STATES)
    if queue == "unassigned":
        return qs.filter(state__in=[State.IN_MEDIATION, State.DECIDED, State.UNDER_APPEAL],
                         mediator__isnull=True)
    if queue == "breaching":
        return qs.filter(sla_breached_at__isnull=False).exclude(state__in=CLOSED_STATES)
    if queue == "appeals":
        return qs.filter(state=State.UNDER_APPEAL)
    return qs


def _search(qs: QuerySet[Case], text: str, *, staff: bool = False) -> QuerySet[Case]:
    """By reference (ODR-2026-000123), case number or order id; the centre's staff also by shop
    or buyer name."""
    text = text.strip()
    if not text:
        return qs
    pk = Case.pk_from_reference(text)
    match = Q(order__external_id__iexact=text)
    if staff:
        match |= Q(seller__name__icontains=text) | Q(buyer__name__icontains=text)
    if pk:
        match |= Q(pk=pk)
    elif text.isdigit():
        match |= Q(pk=int(text))
    return qs.filter(match)


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    """Cases this person may see, for the role they work in, with filters and search."""
    role = primary_role(request.user)
    queues = QUEUES[role]
    queue = request.GET.get("queue") or queues[0]
    if queue not in queues:
        queue = queues[0]
    form = f.CaseFilterForm(request.GET or None)
    qs = _queue(selectors.case_list(user=request.user).select_related("mediator"), queue, request.user)
    if form.is_valid():
        data = form.cleaned_data
        qs = _search(qs, data.get("q") or "", staff=roles.is_staff_of_centre(request.user))
        if data.get("state"):
            qs = qs.filter(state=data["state"])
        if data.get("reason"):
            qs = qs.filter(reason=data["reason"])
        if data.get("marketplace"):
            qs = qs.filter(marketplace__code=data["marketplace"])
    sort = request.GET.get("sort") or ("filed" if role == "buyer" else "due")
    if sort == "due":
        qs = qs.order_by(F("due_at").asc(nulls_last=True), "-filed_at")
    else:
        qs = qs.order_by("-filed_at", "-pk")
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    cases = list(page.object_list)
    unread = _unread_counts(request.user, [c.pk for c in cases])
    for case in cases:
        case.unread = unread.get(case.pk, 0)
    params = request.GET.copy()
    params.pop("page", None)
    visible = selectors.cases_visible_to(request.user)
    counts = {q: _queue(visible, q, request.user).count() for q in queues if q != "all"}
    return render(request, "web/case_list.html", {
        "role": role, "queues": queues, "queue": queue, "form": form, "page": page,
        "cases": cases, "sort": sort, "querystring": params.urlencode(), "counts": counts,
        "workload": _workload() if role == "supervisor" else None,
        "filtering": any(request.GET.get(k) for k in ("q", "state", "reason", "marketplace")),
    })


def _workload() -> list[dict]:
    """Each mediator's load, for the supervisor deciding whom to assign (mediators app)."""
    try:
        from mediators.selectors import mediator_workload
    except ImportError:
        return []
    return mediator_workload()


# --- filing -----------------------------------------------------------------------------------
@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    """The buyer files a complaint: order, reason, wish, amount, description, evidence."""
    form = f.FileComplaintForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # the case and its evidence are filed together or not at all
                case = services.case_file(
                    actor=request.user, order_id=data["order"].pk, reason=data["reason"],
                    desired_outcome=data["desired_outcome"], claimed_amount=data["claimed_amount"],
                    description=data["description"], language=request.LANGUAGE_CODE[:2],
                )
                case = selectors.case_get(user=request.user, case_id=case.pk)
                for upload in data["files"]:
                    services.evidence_add(case=case, actor=request.user, upload=upload)
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("Your complaint %(ref)s was filed. The seller has been asked "
                                        "to answer.") % {"ref": case.reference})
            return redirect("web:case", pk=case.pk)
    orders = form.fields["order"].queryset
    open_orders = set(Case.objects.filter(order__in=orders).exclude(state=State.CLOSED)
                      .values_list("order_id", flat=True))
    return render(request, "web/case_new.html", {"form": form, "orders": orders,
                                                 "open_orders": open_orders},
                  status=400 if form.is_bound and form.errors else 200)


# --- the case page ----------------------------------------------------------------------------
def _case_or_404(request: HttpRequest, pk: int) -> Case:
    case = selectors.case_get(user=request.user, case_id=pk)
    if case is None:
        raise Http404
    return case


# The main moves first, the quiet ones (evidence, withdrawing) last.
ACTION_ORDER = ["take", "accept_offer", "accept_settlement", "accept_claim", "make_offer",
                "counter_offer", "contest", "return_ship", "confirm_return", "dispute_return",
                "propose_settlement", "decide", "uphold", "overturn", "assign", "escalate", "appeal",
                "add_evidence", "withdraw"]


def _action_order(action: str) -> int:
    return ACTION_ORDER.index(action) if action in ACTION_ORDER else len(ACTION_ORDER)


def _case_context(request: HttpRequest, case: Case, bound: tuple[str, f.BaseForm] | None = None
                  ) -> dict:
    user = request.user
    actions = sorted(selectors.case_actions_for(case, user), key=_action_order)
    forms_by_action = {a: f.action_form(a, case, user) for a in actions if a in f.ACTION_FORMS}
    if bound:
        forms_by_action[bound[0]] = bound[1]
    shipments = list(case.order.shipments.all())
    offers = list(case.offers.all())
    open_offer = next((o for o in reversed(offers) if o.status == Offer.Status.OPEN), None)
    member = _chat_member(user, case)
    return {
        "case": case,
        "role": roles.role_in_case(user, case),
        "actions": actions,
        "forms": forms_by_action,
        "open_action": bound[0] if bound else request.GET.get("do", ""),
        "lines": list(case.order.lines.all()),
        "forward_shipments": [s for s in shipments if s.direction == "forward"],
        "return_shipments": [s for s in shipments if s.direction == "return"],
        "offers": offers,
        "open_offer": open_offer,
        "evidence": list(case.evidence.all()),
        "timeline": list(case.timeline.all()),
        "decisions": list(case.decisions.all()),
        "appeals": list(case.appeals.all()),
        "evidence_requests": _evidence_requests(user, case),
        "escrow": list(case.escrow_instructions.select_related("partner").order_by("created_at")),
        "chat_member": member,
        "is_mediator": roles.is_case_mediator(user, case),
        "now": timezone.now(),
    }


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    return render(request, "web/case_detail.html", _case_context(request, case))


@login_required
def case_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The parts of the case page that change with its state (header, actions, records of
    the dispute): fetched again when the chat socket says the case moved."""
    case = _case_or_404(request, pk)
    return render(request, "web/_case_live.html", _case_context(request, case))


def _assign(*, case_id: int, actor, mediator, reason: str) -> None:
    """A supervisor's assignment, with the centre's rules (conflicts of interest, a reason to
    reassign) when the mediators app provides them."""
    try:
        from mediators.services import mediator_assign
    except ImportError:
        services.case_assign(case_id=case_id, actor=actor, mediator=mediator, reason=reason)
        return
    mediator_assign(case_id=case_id, actor=actor, mediator=mediator, reason=reason)


def _evidence_requests(user, case: Case) -> list:
    try:
        from mediators.selectors import evidence_requests_for
    except ImportError:
        return []
    return list(evidence_requests_for(user=user, case=case))


def _run_action(action: str, case: Case, user, data: dict) -> None:
    """Call the service of one action with the form's cleaned data."""
    pk = case.pk
    if action == "accept_claim":
        services.case_accept_claim(case_id=pk, actor=user, reason=data["reason"])
    elif action == "make_offer":
        services.case_offer(case_id=pk, actor=user, remedy=data["remedy"], amount=data["amount"],
                            note=data["note"])
    elif action == "contest":
        uids = list(data.get("evidence_ids") or [])
        for upload in data["files"]:
            uids.append(str(services.evidence_add(case=case, actor=user, upload=upload).uid))
        services.case_contest(case_id=pk, actor=user, reason=data["reason"], evidence_ids=uids)
    elif action == "accept_offer":
        services.case_accept_offer(case_id=pk, actor=user, reason=data["reason"])
    elif action == "counter_offer":
        services.case_counter_offer(case_id=pk, actor=user, remedy=data["remedy"],
                                    amount=data["amount"], note=data["note"])
    elif action == "escalate":
        services.case_escalate(case_id=pk, actor=user, reason=data["reason"])
    elif action == "withdraw":
        services.case_withdraw(case_id=pk, actor=user, reason=data["reason"])
    elif action == "return_ship":
        services.case_return_ship(case_id=pk, actor=user, carrier_code=data["carrier"].code,
                                  tracking_number=data["tracking_number"])
    elif action == "confirm_return":
        services.case_confirm_return(case_id=pk, actor=user, reason=data["reason"])
    elif action == "dispute_return":
        services.case_dispute_return(case_id=pk, actor=user, reason=data["reason"])
    elif action == "take":
        services.case_assign(case_id=pk, actor=user, mediator=user)
    elif action == "assign":
        _assign(case_id=pk, actor=user, mediator=data["mediator"], reason=data["reason"])
    elif action == "propose_settlement":
        services.case_propose_settlement(case_id=pk, actor=user, remedy=data["remedy"],
                                         amount=data["amount"], note=data["note"])
    elif action == "accept_settlement":
        services.case_accept_settlement(case_id=pk, actor=user)
    elif action == "decide":
        services.case_decide(case_id=pk, actor=user, outcome=data["outcome"],
                             refund_amount=data["refund_amount"], reasons=data["reasons"])
    elif action == "appeal":
        services.case_appeal(case_id=pk, actor=user, grounds=data["grounds"])
    elif action == "uphold":
        services.case_uphold(case_id=pk, actor=user, reasons=data["reasons"])
    elif action == "overturn":
        services.case_overturn(case_id=pk, actor=user, outcome=data["outcome"],
                               refund_amount=data["refund_amount"], reasons=data["reasons"])
    elif action == "add_evidence":
        for upload in data["files"]:
            services.evidence_add(case=case, actor=user, upload=upload, caption=data["caption"])
    elif action == "extension_request":
        from cases.services.deadlines import deadline_extension_request

        deadline_extension_request(case_id=pk, actor=user, days=data["days"], reason=data["reason"])
    elif action == "extension_decide":
        from cases.services.deadlines import deadline_extension_decide

        deadline_extension_decide(case_id=pk, actor=user, grant=data["decision"] == "grant",
                                  reason=data["reason"])
    elif action == "evidence_request":
        from mediators.services import evidence_request_create

        evidence_request_create(case_id=pk, actor=user, party=data["party"],
                                message=data["message"], days=data["days"])
    else:  # pragma: no cover - ACTION_FORMS and this table list the same actions
        raise Http404


@login_required
@require_POST
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Carry out one action from the case page, offered only if case_actions_for lists it."""
    if action not in f.ACTION_FORMS:
        raise Http404
    case = _case_or_404(request, pk)
    if action not in selectors.case_actions_for(case, request.user):
        messages.error(request, domain_error_message("action_not_allowed", ""))
        return redirect("web:case", pk=pk)
    form = f.action_form(action, case, request.user, request.POST, request.FILES)
    if form.is_valid():
        try:
            with transaction.atomic():
                _run_action(action, case, request.user, form.cleaned_data)
        except ActionNotAllowed:
            messages.error(request, domain_error_message("action_not_allowed", ""))
            return redirect("web:case", pk=pk)
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("Done: %(action)s.") % {"action": action_label(action)})
            return redirect(reverse("web:case", kwargs={"pk": pk}) + "#case-top")
    case = _case_or_404(request, pk)
    return render(request, "web/case_detail.html", _case_context(request, case, (action, form)),
                  status=400)


@login_required
def evidence_file(request: HttpRequest, uid) -> HttpResponse:
    """An evidence file for someone who may see its case; images and video shown inline."""
    evidence = Evidence.objects.select_related("case__buyer").filter(uid=uid).first()
    if evidence is None or not roles.can_view(request.user, evidence.case):
        raise Http404
    inline = evidence.content_type.startswith(("image/", "video/")) and "download" not in request.GET
    response = FileResponse(evidence.file.open("rb"), content_type=evidence.content_type,
                            as_attachment=not inline, filename=evidence.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def case_dossier(request: HttpRequest, pk: int) -> HttpResponse:
    """The case dossier as PDF, for referral to Sở Công Thương Quảng Ninh."""
    from web.dossier import dossier_pdf

    case = _case_or_404(request, pk)
    pdf = dossier_pdf(case=case, user=request.user, escrow=list(case.escrow_instructions.all()))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{case.reference}-dossier.pdf"'
    return response


# --- statistics for the authority -------------------------------------------------------------
def _stats_params(request: HttpRequest) -> tuple[f.StatsFilterForm, dict]:
    today = timezone.localdate()
    initial = {"date_from": today.replace(day=1) - timedelta(days=90), "date_to": today}
    form = f.StatsFilterForm(request.GET or None, initial=initial)
    if form.is_bound and form.is_valid():
        params = {"date_from": form.cleaned_data["date_from"], "date_to": form.cleaned_data["date_to"],
                  "marketplace": form.cleaned_data.get("marketplace") or None}
    else:
        params = {**initial, "marketplace": None}
    return form, params


def _supervisor_only(request: HttpRequest) -> None:
    if not roles.is_supervisor(request.user):
        raise PermissionDenied


@login_required
def stats(request: HttpRequest) -> HttpResponse:
    _supervisor_only(request)
    form, params = _stats_params(request)
    summary = stats_selectors.stats_summary(**params) if not form.errors else None
    return render(request, "web/stats.html", {"form": form, "s": summary, "params": params},
                  status=400 if form.errors else 200)


@login_required
def stats_csv(request: HttpRequest) -> HttpResponse:
    _supervisor_only(request)
    form, params = _stats_params(request)
    if form.errors:
        return HttpResponse(status=400)
    body = stats_selectors.stats_csv(stats_selectors.stats_summary(**params))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"odr-stats-{params['date_from']:%Y%m%d}-{params['date_to']:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
