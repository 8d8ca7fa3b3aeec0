"""The supervisor's desk, mediator profiles, requests for more time and evidence requests:
thin views that parse input and call one service or selector."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import roles
from cases import selectors as case_selectors
from cases.errors import NotFound
from cases.services import deadlines
from mediators import selectors, services
from mediators import serializers as s


class IsSupervisor(BasePermission):
    message = "Chỉ giám sát viên."

    def has_permission(self, request, view) -> bool:
        return roles.is_supervisor(request.user)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _visible_case(request, pk: int):
    case = (case_selectors.cases_visible_to(request.user).select_related("buyer", "seller")
            .filter(pk=pk).first())
    if case is None:
        raise NotFound("Case not found")
    return case


def _user(user_id: int, *, field: str = "mediator"):
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("User not found", fields={field: ["Không tìm thấy."]})
    return user


# --- supervisor's desk --------------------------------------------------------------------------
class DeskView(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=s.DeskCountsSerializer, tags=["desk"])
    def get(self, request):
        return Response(selectors.desk_counts())


class DeskQueueView(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=s.QueueCaseSerializer(many=True), tags=["desk"])
    def get(self, request, queue: str):
        if queue not in selectors.QUEUES:
            raise NotFound("Unknown queue")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.desk_queue(queue=queue), request, view=self)
        return paginator.get_paginated_response(s.QueueCaseSerializer(page, many=True).data)


class DeskMediatorsView(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=s.WorkloadSerializer(many=True), tags=["desk"])
    def get(self, request):
        return Response(s.WorkloadSerializer(selectors.mediator_workload(), many=True).data)


def _profile_out(user) -> dict:
    rows = [r for r in selectors.mediator_workload() if r["id"] == user.pk]
    return s.WorkloadSerializer(rows[0]).data if rows else {}


class DeskMediatorView(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(request=s.ProfileInput, responses=s.WorkloadSerializer, tags=["desk"])
    def patch(self, request, user_id: int):
        data = _valid(s.ProfileInput, request)
        user = _user(user_id)
        services.mediator_profile_update(actor=request.user, user=user, **data)
        return Response(_profile_out(user))


class DeskAssignView(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(request=s.DeskAssignInput, responses=s.QueueCaseSerializer, tags=["desk"])
    def post(self, request, pk: int):
        data = _valid(s.DeskAssignInput, request)
        case = services.mediator_assign(case_id=pk, actor=request.user,
                                        mediator=_user(data["mediator"]), reason=data["reason"])
        return Response(s.QueueCaseSerializer(selectors.desk_queue_case(case.pk)).data)


class DeskAutoAssignView(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(request=None, responses=s.QueueCaseSerializer, tags=["desk"])
    def post(self, request, pk: int):
        services.mediator_auto_assign(case_id=pk)
        case = selectors.desk_queue_case(pk)
        if case is None:
            raise NotFound("Case not found")
        return Response(s.QueueCaseSerializer(case).data)


class MyProfileView(APIView):
    """A mediator's own availability ("away until") and declared conflicts."""

    @extend_schema(responses=s.WorkloadSerializer, tags=["mediators"])
    def get(self, request):
        if not roles.is_mediator(request.user):
            raise NotFound("Not a mediator")
        return Response(_profile_out(request.user))

    @extend_schema(request=s.ProfileInput, responses=s.WorkloadSerializer, tags=["mediators"])
    def patch(self, request):
        data = _valid(s.ProfileInput, request)
        services.mediator_profile_update(actor=request.user, user=request.user, **data)
        return Response(_profile_out(request.user))


# --- more time ----------------------------------------------------------------------------------
class ExtensionView(APIView):
    @extend_schema(responses=s.ExtensionSerializer(many=True), tags=["deadlines"])
    def get(self, request, pk: int):
        case = _visible_case(request, pk)
        return Response(s.ExtensionSerializer(case.extensions.all(), many=True).data)

    @extend_schema(request=s.ExtensionInput, responses={201: s.ExtensionSerializer}, tags=["deadlines"])
    def post(self, request, pk: int):
        data = _valid(s.ExtensionInput, request)
        extension = deadlines.deadline_extension_request(case_id=pk, actor=request.user,
                                                         days=data["days"], reason=data["reason"])
        return Response(s.ExtensionSerializer(extension).data, status=status.HTTP_201_CREATED)


class ExtensionDecideView(APIView):
    @extend_schema(request=s.ExtensionDecideInput, responses=s.ExtensionSerializer, tags=["deadlines"])
    def post(self, request, pk: int):
        data = _valid(s.ExtensionDecideInput, request)
        extension = deadlines.deadline_extension_decide(case_id=pk, actor=request.user,
                                                        grant=data["grant"], reason=data["reason"])
        return Response(s.ExtensionSerializer(extension).data)


# --- evidence requests --------------------------------------------------------------------------
class EvidenceRequestsView(APIView):
    @extend_schema(responses=s.EvidenceRequestSerializer(many=True), tags=["mediators"])
    def get(self, request, pk: int):
        case = _visible_case(request, pk)
        qs = selectors.evidence_requests_for(user=request.user, case=case)
        return Response(s.EvidenceRequestSerializer(qs, many=True).data)

    @extend_schema(request=s.EvidenceRequestInput, responses={201: s.EvidenceRequestSerializer},
                   tags=["mediators"])
    def post(self, request, pk: int):
        data = _valid(s.EvidenceRequestInput, request)
        created = services.evidence_request_create(case_id=pk, actor=request.user, party=data["party"],
                                                   message=data["message"], days=data["days"])
        return Response(s.EvidenceRequestSerializer(created).data, status=status.HTTP_201_CREATED)


class EvidenceRequestFulfilView(APIView):
    @extend_schema(request=s.FulfilInput, responses=s.EvidenceRequestSerializer, tags=["mediators"])
    def post(self, request, request_id: int):
        data = _valid(s.FulfilInput, request)
        done = services.evidence_request_fulfil(request_id=request_id, actor=request.user,
                                                note=data["note"])
        return Response(s.EvidenceRequestSerializer(done).data)
