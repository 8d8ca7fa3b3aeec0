"""The Celery app. Tasks are thin wrappers around services; periodic sweeps live in beat."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")

app = Celery("odr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
