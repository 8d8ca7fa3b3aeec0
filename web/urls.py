"""Routes of the web centre (mounted at the site root)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from web import views

app_name = "web"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html",
                                               redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:login"), name="logout"),
    path("", views.case_list, name="cases"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/live/", views.case_live, name="case-live"),
    path("cases/<int:pk>/do/<slug:action>/", views.case_act, name="case-act"),
    path("cases/<int:pk>/dossier.pdf", views.case_dossier, name="case-dossier"),
    path("evidence/<uuid:uid>/", views.evidence_file, name="evidence"),
    path("stats/", views.stats, name="stats"),
    path("stats.csv", views.stats_csv, name="stats-csv"),
]
