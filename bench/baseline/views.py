"""The bare DRF baseline: validate a small JSON body, INSERT one row, return 201. No auth, no
permission, no extra query — what any create endpoint on this stack costs at least."""

from rest_framework import serializers
from rest_framework.generics import CreateAPIView
from rest_framework.permissions import AllowAny

from bench.baseline.models import BaselineRow


class BaselineRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = BaselineRow
        fields = ["id", "note", "amount", "created_at"]


class BaselineCreate(CreateAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = BaselineRowSerializer
