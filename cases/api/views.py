"""The case API: thin views that parse input, call one service or selector, render output."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import roles, selectors, services
from cases.api import serializers as s
from cases.errors import NotFound
from cases.models import Case, Evidence, Order, Reason, State


class CaseFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=State.choices)
    reason = django_filters.ChoiceFilter(choices=Reason.choices)
    marketplace = django_filters.CharFilter(field_name="marketplace__code")
    seller = django_filters.NumberFilter(field_name="seller_id")
    filed_after = django_filters.IsoDateTimeFilter(field_name="filed_at", lookup_expr="gte")
    filed_before = django_filters.IsoDateTimeFilter(field_name="filed_at", lookup_expr="lt")
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    queue = django_filters.ChoiceFilter(
        choices=[("open", "open"), ("mine", "mine"), ("breaching", "breaching")],
        method="filter_queue")
    q = django_filters.CharFilter(method="filter_q")
    ordering = django_filters.OrderingFilter(fields=["due_at", "filed_at", "claimed_amount"])

    class Meta:
        model = Case
        fields: list[str] = []

    def filter_overdue(self, qs, name, value):
        now = timezone.now()
        return qs.filter(due_at__lte=now) if value else qs.exclude(due_at__lte=now)

    def filter_queue(self, qs, name, value):
        if value == "open":
            return qs.filter(state=State.IN_MEDIATION, mediator__isnull=True)
        if value == "breaching":
            return qs.filter(sla_breached_at__isnull=False).exclude(
                state__in=[State.RESOLVED, State.CLOSED])
        return qs.filter(mediator=self.request.user)

    def filter_q(self, qs, name, value):
        pk = Case.pk_from_reference(value)
        match = Q(order__external_id__iexact=value.strip()) | Q(seller__name__icontains=value)
        return qs.filter(match | Q(pk=pk)) if pk else qs.filter(match)


def _detail(request, case_id: int) -> Response:
    case = selectors.case_get(user=request.user, case_id=case_id)
    if case is None:
        raise NotFound("Case not found")
    context = {"request": request, "actions": selectors.case_actions_for(case, request.user)}
    return Response(s.CaseDetailSerializer(case, context=context).data)


class CaseViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Cases the current user is part of: a buyer's own, a seller's shop's, a mediator's
    assigned ones and the open queue, all of them for a supervisor."""

    serializer_class = s.CaseListSerializer
    filterset_class = CaseFilter

    def get_queryset(self):
        return selectors.case_list(user=self.request.user)

    @extend_schema(responses=s.CaseDetailSerializer)
    def retrieve(self, request, pk: int):
        return _detail(request, int(pk))

    @extend_schema(request=s.CaseFileInput, responses={201: s.CaseSummarySerializer})
    def create(self, request):
        data = _valid(s.CaseFileInput, request)
        case = services.case_file(
            actor=request.user, order_id=data["order"], reason=data["reason"],
            desired_outcome=data["desired_outcome"], claimed_amount=data["claimed_amount"],
            description=data["description"], language=data["language"],
        )
        return _written(request, case, status.HTTP_201_CREATED)


def _written(request, case: Case, code: int = status.HTTP_200_OK) -> Response:
    """Answer a write with the case as the service just wrote it (no re-read of the dossier,
    which costs a dozen queries) and what the user may do now; Location has the detail."""
    body = s.case_summary(case, selectors.case_actions_for(case, request.user))
    headers = {"Location": reverse("api:case-detail", kwargs={"pk": case.pk})}
    return Response(body, status=code, headers=headers)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _case_of(result, request, pk: int) -> Case:
    """The case a service returned (itself, or through the offer it wrote); read again only
    for a service that returns neither (the return shipment)."""
    case = result if isinstance(result, Case) else getattr(result, "case", None)
    if isinstance(case, Case):
        return case
    case = selectors.case_list(user=request.user).filter(pk=pk).first()
    if case is None:
        raise NotFound("Case not found")
    return case


def _case_or_404(request, pk: int) -> Case:
    case = selectors.cases_visible_to(request.user).select_related("buyer").filter(pk=pk).first()
    if case is None:
        raise NotFound("Case not found")
    return case


class ActionsView(APIView):
    @extend_schema(responses=s.ActionsOutput)
    def get(self, request, pk: int):
        case = _case_or_404(request, pk)
        return Response({"state": case.state,
                         "actions": selectors.case_actions_for(case, request.user)})


def _mediator_assign(**kwargs):
    from mediators.services import mediator_assign  # conflicts, reasons, no change after decision

    return mediator_assign(**kwargs)


def _mediator(user_id: int):
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("Mediator not found", fields={"mediator": ["Không tìm thấy."]})
    return user


# One endpoint per action: (input serializer, how to call the service with the parsed input).
ACTIONS = {
    "accept-claim": (s.ReasonInput, lambda pk, u, d: services.case_accept_claim(
        case_id=pk, actor=u, reason=d["reason"])),
    "offer": (s.OfferInput, lambda pk, u, d: services.case_offer(
        case_id=pk, actor=u, remedy=d["remedy"], amount=d["amount"], note=d["note"])),
    "contest": (s.ContestInput, lambda pk, u, d: services.case_contest(
        case_id=pk, actor=u, reason=d["reason"], evidence_ids=d["evidence_ids"])),
    "accept-offer": (s.ReasonInput, lambda pk, u, d: services.case_accept_offer(
        case_id=pk, actor=u, reason=d["reason"])),
    "counter-offer": (s.OfferInput, lambda pk, u, d: services.case_counter_offer(
        case_id=pk, actor=u, remedy=d["remedy"], amount=d["amount"], note=d["note"])),
    "escalate": (s.RequiredReasonInput, lambda pk, u, d: services.case_escalate(
        case_id=pk, actor=u, reason=d["reason"])),
    "withdraw": (s.ReasonInput, lambda pk, u, d: services.case_withdraw(
        case_id=pk, actor=u, reason=d["reason"])),
    "return-shipment": (s.ReturnShipInput, lambda pk, u, d: services.case_return_ship(
        case_id=pk, actor=u, carrier_code=d["carrier"], tracking_number=d["tracking_number"])),
    "confirm-return": (s.ReasonInput, lambda pk, u, d: services.case_confirm_return(
        case_id=pk, actor=u, reason=d["reason"])),
    "dispute-return": (s.RequiredReasonInput, lambda pk, u, d: services.case_dispute_return(
        case_id=pk, actor=u, reason=d["reason"])),
    "take": (None, lambda pk, u, d: services.case_assign(case_id=pk, actor=u, mediator=u)),
    "assign": (s.AssignInput, lambda pk, u, d: _mediator_assign(
        case_id=pk, actor=u, mediator=_mediator(d["mediator"]), reason=d["reason"])),
    "settlement": (s.OfferInput, lambda pk, u, d: services.case_propose_settlement(
        case_id=pk, actor=u, remedy=d["remedy"], amount=d["amount"], note=d["note"])),
    "accept-settlement": (None, lambda pk, u, d: services.case_accept_settlement(
        case_id=pk, actor=u)),
    "decide": (s.DecideInput, lambda pk, u, d: services.case_decide(
        case_id=pk, actor=u, outcome=d["outcome"], refund_amount=d["refund_amount"],
        reasons=d["reasons"])),
    "appeal": (s.AppealInput, lambda pk, u, d: services.case_appeal(
        case_id=pk, actor=u, grounds=d["grounds"])),
    "uphold": (s.ReviewInput, lambda pk, u, d: services.case_uphold(
        case_id=pk, actor=u, reasons=d["reasons"])),
    "overturn": (s.DecideInput, lambda pk, u, d: services.case_overturn(
        case_id=pk, actor=u, outcome=d["outcome"], refund_amount=d["refund_amount"],
        reasons=d["reasons"])),
}


def action_view(slug: str):
    input_class, run = ACTIONS[slug]

    class CaseActionView(APIView):
        @extend_schema(request=input_class, responses=s.CaseSummarySerializer,
                       operation_id=f"cases_{slug.replace('-', '_')}", tags=["case actions"])
        def post(self, request, pk: int):
            data = _valid(input_class, request) if input_class else {}
            return _written(request, _case_of(run(pk, request.user, data), request, pk))

    CaseActionView.__name__ = f"Case{slug.title().replace('-', '')}View"
    return CaseActionView.as_view()


class EvidenceUploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=s.EvidenceUploadInput, responses={201: s.EvidenceSerializer})
    def post(self, request, pk: int):
        case = _case_or_404(request, pk)
        data = _valid(s.EvidenceUploadInput, request)
        evidence = services.evidence_add(case=case, actor=request.user, upload=data["file"],
                                         caption=data["caption"])
        return Response(s.EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)


class EvidenceDownloadView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, uid):
        evidence = Evidence.objects.select_related("case__buyer").filter(uid=uid).first()
        if evidence is None or not roles.can_view(request.user, evidence.case):
            raise NotFound("Evidence not found")
        response = FileResponse(evidence.file.open("rb"), content_type=evidence.content_type,
                                as_attachment=True, filename=evidence.original_name)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class MyOrdersView(generics.ListAPIView):
    """The buyer's own orders, to pick one when filing."""

    serializer_class = s.OrderSerializer

    def get_queryset(self):
        return (Order.objects.filter(buyer__user=self.request.user)
                .select_related("marketplace", "seller").prefetch_related("lines")
                .order_by("-placed_at"))
