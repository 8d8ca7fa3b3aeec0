"""URL routes of the escrow app (included under /api/v1/)."""

from django.urls import path

from escrow import api

urlpatterns = [
    path("escrow/instructions/", api.InstructionList.as_view(), name="escrow-instructions"),
    path("escrow/instructions/<uuid:pk>/", api.InstructionDetail.as_view(), name="escrow-instruction"),
    path("escrow/instructions/<uuid:pk>/retry/", api.InstructionRetry.as_view(),
         name="escrow-instruction-retry"),
    path("escrow/instructions/<uuid:pk>/cancel/", api.InstructionCancel.as_view(),
         name="escrow-instruction-cancel"),
]
