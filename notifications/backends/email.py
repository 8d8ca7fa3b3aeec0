"""Email through Django's email backend (console by default, SMTP in production): a text and an
HTML part rendered in the recipient's language, with an absolute link to the case."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from notifications import conf
from notifications.backends.base import Backend, DeliveryError


class EmailBackend(Backend):
    label = "Email"

    def address(self, user) -> str | None:
        return user.email or None

    def send(self, notification) -> None:
        to = self.address(notification.recipient)
        if not to:
            raise DeliveryError("no email address")
        link = f"{conf.site_url()}{notification.url}" if notification.url else conf.site_url()
        context = {"notification": notification, "link": link, "user": notification.recipient,
                   "site_url": conf.site_url()}
        with translation.override(notification.language):
            text = render_to_string("notifications/email/notification.txt", context)
            html = render_to_string("notifications/email/notification.html", context)
        message = EmailMultiAlternatives(
            subject=f"[ODR] {notification.title}", body=text,
            from_email=self.options.get("from_email") or settings.DEFAULT_FROM_EMAIL, to=[to],
            headers={"X-ODR-Notification": str(notification.pk)},
        )
        message.attach_alternative(html, "text/html")
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # SMTP refused, timed out, connection reset…
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
