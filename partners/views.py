"""Partner-facing endpoints: thin, the signature is checked on the raw bytes before anything
else looks at the body."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from partners import services, signing


class PartnerEventsView(APIView):
    """`POST /api/v1/partners/<code>/events/`: one signed event (`X-Odr-Timestamp`,
    `X-Odr-Signature`). 200 when processed or already processed (`duplicate: true`)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={200: OpenApiResponse(description="processed"),
                                            400: None, 401: None, 404: None, 413: None, 422: None},
                   tags=["partners"])
    def post(self, request, code: str):
        raw = request._request.body  # the exact bytes that were signed
        partner, signed_at = services.partner_authenticate(
            code=code, timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
            signature=request.headers.get(signing.SIGNATURE_HEADER), raw_body=raw)
        receipt = services.inbound_event_receive(partner=partner, raw_body=raw, signed_at=signed_at)
        event = receipt.event
        return Response({"event_id": event.event_id, "type": event.type, "status": event.status,
                         "duplicate": receipt.duplicate, "result": event.result})


class GhnWebhookView(APIView):
    """GHN's native tracking webhook (`partners/adapters/ghn.py`), authenticated by the secret
    path token GHN was given; mapped onto `shipment.event`."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={200: OpenApiResponse(description="processed")},
                   tags=["partners"])
    def post(self, request, code: str, token: str):
        import json

        from cases.errors import InvalidInput, NotFound
        from partners.adapters import ghn
        from partners.models import Partner

        partner = Partner.objects.filter(code=code, kind=Partner.Kind.CARRIER, is_active=True).first()
        if partner is None or not ghn.token_valid(partner, token):
            raise NotFound("Unknown partner", code="unknown_partner")
        try:
            payload = json.loads(request._request.body)
        except ValueError:
            raise InvalidInput("Body is not valid JSON", code="malformed_body") from None
        mapped = ghn.to_message(partner, payload)
        if mapped is None:
            return Response({"ignored": True})
        event_id, message = mapped
        receipt = services.inbound_message_receive(partner=partner, event_id=event_id,
                                                   event_type="shipment.event", message=message)
        return Response({"event_id": event_id, "status": receipt.event.status,
                         "duplicate": receipt.duplicate, "result": receipt.event.result})
