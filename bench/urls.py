"""The product's URLs plus the bench-only baseline endpoint."""

from django.urls import include, path

from bench.baseline.views import BaselineCreate

urlpatterns = [
    path("bench/baseline/", BaselineCreate.as_view(), name="bench-baseline"),
    path("", include("odr.urls")),
]
