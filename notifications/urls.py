"""URL routes of this app (included under /api/v1/, namespace "api")."""

from django.urls import path

from notifications import views

urlpatterns: list = [
    path("notifications/", views.NotificationListView.as_view(), name="notification-list"),
    path("notifications/unread-count/", views.UnreadCountView.as_view(), name="notification-unread-count"),
    path("notifications/read-all/", views.MarkAllReadView.as_view(), name="notification-read-all"),
    path("notifications/preferences/", views.PreferenceView.as_view(), name="notification-preferences"),
    path("notifications/<int:pk>/read/", views.MarkReadView.as_view(), name="notification-read"),
]
