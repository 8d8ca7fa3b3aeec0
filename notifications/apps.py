from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Thông báo")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cases.events import subscribe
        from notifications.subscriber import on_case_event

        subscribe(on_case_event)
