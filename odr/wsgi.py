"""WSGI entry point: the REST API served by sync workers with persistent DB connections."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
application = get_wsgi_application()
