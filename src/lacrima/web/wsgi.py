"""WSGI entry point (``gunicorn lacrima.web.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lacrima.web.settings")
application = get_wsgi_application()
