"""WSGI entry point (``gunicorn lacrima.web.wsgi``)."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lacrima.web.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as exc:  # a refused setting: one line, and gunicorn stops (boot error, code 3)
    sys.stderr.write(f"error: {exc}\n")
    raise SystemExit(3) from None
