"""WSGI entry point: the REST API served by sync workers with persistent DB connections."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
application = get_wsgi_application()


def warm() -> None:
    """Do the first request's lazy work at import: under `gunicorn --preload` the master does it
    once before forking, instead of every worker on its first request (~0.5 s of CPU each,
    measured: the URLconf and the views it imports, the working-day calendar, Celery's app and
    its broker transport). Nothing here opens a connection: sockets must not cross a fork."""
    from django.conf import settings
    from django.urls import reverse
    from django.utils import timezone, translation

    import cases.tasks  # noqa: F401 - what a case event enqueues
    import escrow.tasks  # noqa: F401 - what an escrow instruction enqueues
    from cases.calendar import warm as warm_calendar
    from odr.celery import app

    for code, _ in settings.LANGUAGES:  # URL reversing is indexed per active language
        with translation.override(code):
            reverse("api:case-detail", kwargs={"pk": 1})  # imports every view on the way
    year = timezone.localdate().year
    warm_calendar([year, year + 1])
    app.finalize(auto=True)
    app.connection_for_write().get_transport_cls()  # lazy: imports the transport, no socket


warm()
