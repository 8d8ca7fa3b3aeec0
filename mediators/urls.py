"""Routes of the supervisor's desk, mediator profiles, extensions and evidence requests
(included at /api/v1/)."""

from django.urls import path

from mediators import views

urlpatterns = [
    path("desk/", views.DeskView.as_view(), name="desk"),
    path("desk/queues/<str:queue>/", views.DeskQueueView.as_view(), name="desk-queue"),
    path("desk/mediators/", views.DeskMediatorsView.as_view(), name="desk-mediators"),
    path("desk/mediators/<int:user_id>/", views.DeskMediatorView.as_view(), name="desk-mediator"),
    path("desk/cases/<int:pk>/assign/", views.DeskAssignView.as_view(), name="desk-assign"),
    path("desk/cases/<int:pk>/auto-assign/", views.DeskAutoAssignView.as_view(), name="desk-auto-assign"),
    path("mediators/me/", views.MyProfileView.as_view(), name="mediator-me"),
    path("cases/<int:pk>/extension/", views.ExtensionView.as_view(), name="case-extension"),
    path("cases/<int:pk>/extension/decide/", views.ExtensionDecideView.as_view(),
         name="case-extension-decide"),
    path("cases/<int:pk>/evidence-requests/", views.EvidenceRequestsView.as_view(),
         name="case-evidence-requests"),
    path("evidence-requests/<int:request_id>/fulfil/", views.EvidenceRequestFulfilView.as_view(),
         name="evidence-request-fulfil"),
]
