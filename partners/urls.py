"""URL routes of the partners app (included under /api/v1/)."""

from django.urls import path

from partners import views

urlpatterns = [
    path("partners/<slug:code>/events/", views.PartnerEventsView.as_view(), name="partner-events"),
    path("partners/<slug:code>/ghn/<str:token>/", views.GhnWebhookView.as_view(), name="partner-ghn"),
]
