"""Django settings for lacrima's web app, read from the environment.

Development (default): SQLite in ``LACRIMA_DATA_DIR`` (``./lacrima-data``), a secret key generated once
and kept in that directory. Production (``LACRIMA_ENV=production``): ``LACRIMA_SECRET_KEY`` and
``LACRIMA_ALLOWED_HOSTS`` are required and the app refuses to start without them. ``DATABASE_URL``
(``postgresql://user:pass@host:5432/name``) selects PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
ENV = os.environ.get("LACRIMA_ENV", "development")
PRODUCTION = ENV == "production"
DATA_DIR = Path(os.environ.get("LACRIMA_DATA_DIR", "lacrima-data")).resolve()


def _secret_key() -> str:
    key = os.environ.get("LACRIMA_SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured(
            "LACRIMA_SECRET_KEY is not set; production needs a long random secret key "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def database_from_url(url: str) -> dict[str, object]:
    """A Django DATABASES entry from a ``postgresql://`` or ``sqlite:///`` URL."""
    parsed = urlparse(url)
    if parsed.scheme in ("postgres", "postgresql", "pgsql"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": int(os.environ.get("LACRIMA_CONN_MAX_AGE", "60")),
            "OPTIONS": options,
        }
    if parsed.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parsed.path) or ":memory:"}
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported (postgresql or sqlite)"
    )


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("LACRIMA_DEBUG", "0") == "1" and not PRODUCTION

_hosts = os.environ.get("LACRIMA_ALLOWED_HOSTS", "")
if PRODUCTION and not _hosts:
    raise ImproperlyConfigured("LACRIMA_ALLOWED_HOSTS is not set; list the host names, comma-separated")
ALLOWED_HOSTS = [h.strip() for h in _hosts.split(",") if h.strip()] or [
    "localhost",
    "127.0.0.1",
    "[::1]",
    "testserver",
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("LACRIMA_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "lacrima.web.accounts",
    "lacrima.web.audit",
    "lacrima.web.studies",
    "lacrima.web.participate",
    "django_tasks",
    "django_tasks_db",
    "lacrima.web.clinic",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lacrima.web.urls"
WSGI_APPLICATION = "lacrima.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "lacrima.sqlite3",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("it", "Italiano"), ("he", "עברית")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/clinic/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("LACRIMA_HSTS_SECONDS", "31536000"))
    SECURE_SSL_REDIRECT = os.environ.get("LACRIMA_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Invitation links for one-off surveys expire after this many days unless a study sets otherwise.
LACRIMA_INVITATION_DAYS = int(os.environ.get("LACRIMA_INVITATION_DAYS", "30"))

# Clinic: background tasks in the database (django-tasks; a worker runs them: ``lacrima worker``), e-mail
# to therapists (console in development; SMTP from LACRIMA_EMAIL_* or a local MTA in production), and the
# site's address for links in those e-mails.
TASKS = {"default": {"BACKEND": os.environ.get("LACRIMA_TASK_BACKEND", "django_tasks_db.DatabaseBackend")}}
LACRIMA_SITE_URL = os.environ.get("LACRIMA_SITE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = os.environ.get("LACRIMA_FROM_EMAIL", "lacrima@localhost")
if os.environ.get("LACRIMA_EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["LACRIMA_EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("LACRIMA_EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("LACRIMA_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("LACRIMA_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = os.environ.get("LACRIMA_EMAIL_TLS", "1") == "1"
elif not PRODUCTION:  # production without LACRIMA_EMAIL_HOST uses Django's default: SMTP on localhost:25
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
