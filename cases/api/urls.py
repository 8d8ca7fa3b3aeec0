from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import SimpleRouter

from cases.api import views

router = SimpleRouter()
router.register("cases", views.CaseViewSet, basename="case")

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="token"),
    path("orders/", views.MyOrdersView.as_view(), name="my-orders"),
    path("cases/<int:pk>/actions/", views.ActionsView.as_view(), name="case-actions"),
    path("cases/<int:pk>/evidence/", views.EvidenceUploadView.as_view(), name="case-evidence"),
    path("evidence/<uuid:uid>/", views.EvidenceDownloadView.as_view(), name="evidence-download"),
    *[path(f"cases/<int:pk>/{slug}/", views.action_view(slug), name=f"case-{slug}")
      for slug in views.ACTIONS],
    *router.urls,
]
