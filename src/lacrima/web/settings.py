"""Django settings for lacrima's web app, read from the environment.

Development (default): SQLite in ``LACRIMA_DATA_DIR`` (``./lacrima-data``), a secret key generated once
and kept in that directory. Production (``LACRIMA_ENV=production``): ``LACRIMA_SECRET_KEY`` (strong: see
lacrima.web.deploy) and ``LACRIMA_ALLOWED_HOSTS`` are required and the app refuses to start without them,
and SQLite is refused unless ``LACRIMA_ALLOW_SQLITE=1``. ``DATABASE_URL``
(``postgresql://user:pass@host:5432/name``) selects PostgreSQL. The data directory is created 0700, the
SQLite database and the key 0600 (docs/security.md, deployment checklist).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from lacrima.web import deploy

BASE_DIR = Path(__file__).resolve().parent
ENV = os.environ.get("LACRIMA_ENV", "development")
PRODUCTION = ENV == "production"
DATA_DIR = Path(os.environ.get("LACRIMA_DATA_DIR", "lacrima-data")).resolve()


def _secret_key() -> str:
    key = os.environ.get("LACRIMA_SECRET_KEY")
    if key:
        return deploy.check_secret_key(key) if PRODUCTION else key
    if PRODUCTION:
        raise ImproperlyConfigured(
            f"LACRIMA_SECRET_KEY is not set; production needs a long random secret key ({deploy.GENERATE})"
        )
    deploy.private_dir(DATA_DIR)
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
        options: dict[str, object] = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        # Prepared statements for the statements lacrima.web.prepared runs on every check-in (Django's own
        # queries bind on the client and are never prepared). LACRIMA_PG_PREPARED=0 turns them off for a
        # connection pooler that cannot keep them (PgBouncer before 1.21 in transaction mode).
        options["prepare_threshold"] = None if os.environ.get("LACRIMA_PG_PREPARED", "1") == "0" else 5
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
        # the same locking as the embedded default: writers queue (IMMEDIATE, 20 s) instead of failing
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parsed.path) or ":memory:",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
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
    "django_countries",
    "django_tasks",
    "django_tasks_db",
    "lacrima.web.clinic",
    # --- security: accounts (second factor, login throttling) and the API docs' packaged assets
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # security: static files (no CDN), before all else
    "lacrima.web.security.ResponseHeadersMiddleware",  # security: CSP and no-store on every page
    "lacrima.web.security.RateLimitMiddleware",  # security: 429 + Retry-After on /p/ and /api/
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # security: request.user.is_verified()
    "lacrima.web.security.SessionTimeoutMiddleware",  # security: idle and absolute session limits
    "lacrima.web.security.SecondFactorMiddleware",  # security: staff pages need a verified second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # security: lockout responses (keep last)
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

# Databases (hardening): PostgreSQL from DATABASE_URL; SQLite in a private data directory otherwise, which
# production refuses unless LACRIMA_ALLOW_SQLITE=1.
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    deploy.private_dir(DATA_DIR)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": deploy.private_file(DATA_DIR / "lacrima.sqlite3"),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
if PRODUCTION and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    deploy.refuse_sqlite_in_production()

# Every server error is logged with its traceback to standard error (hardening); the visitor sees 500.html.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain"}
    },
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "lacrima": {"handlers": ["stderr"], "level": os.environ.get("LACRIMA_LOG_LEVEL", "INFO")},
    },
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
# After signing out, the sign-in page (Django's own "logged out" page belongs to its admin site).
LOGOUT_REDIRECT_URL = LOGIN_URL

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
# A clinic's own guidance files (same format as lacrima/feedback/guidance/*.yaml), separated by the
# platform's path separator (":" on Linux); checked when the server starts (lacrima.web.clinic.checks).
LACRIMA_GUIDANCE_FILES = [p for p in os.environ.get("LACRIMA_GUIDANCE_FILES", "").split(os.pathsep) if p]
TASKS = {"default": {"BACKEND": os.environ.get("LACRIMA_TASK_BACKEND", "django_tasks_db.DatabaseBackend")}}
LACRIMA_SITE_URL = os.environ.get("LACRIMA_SITE_URL", "http://127.0.0.1:8000")
# --- security: accounts and headers (issue 12, items 1-2). Every number comes from the environment.


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def _env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit written ``COUNT/SECONDS`` (``60/60`` is 60 requests a minute)."""
    raw = os.environ.get(name, default)
    count, _, window = raw.partition("/")
    if not (count.isdigit() and window.isdigit() and int(count) > 0 and int(window) > 0):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate; write COUNT/SECONDS, e.g. 60/60")
    return int(count), int(window)


AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out accounts and addresses before the password
    "django.contrib.auth.backends.ModelBackend",
]
# Lock an account after LACRIMA_LOGIN_FAILURES wrong passwords from anywhere, and an address after as many
# from it for any accounts, for LACRIMA_LOGIN_COOLOFF_MINUTES; answered 429 with Retry-After.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = _env_int("LACRIMA_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = _env_int("LACRIMA_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "lacrima.web.accounts.views.locked_out"
AXES_VERBOSE = False  # failures and lockouts go to the audit log (lacrima.web.accounts.signals)
OTP_TOTP_ISSUER = os.environ.get("LACRIMA_OTP_ISSUER", "lacrima")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin lists devices (to delete a lost one), never their keys
# The demo's seeded staff accounts may skip the second factor only in demo mode: LACRIMA_DEMO=1, or the
# data directory that `lacrima demo` made (its SQLite database, not a DATABASE_URL); never in production.
# Real accounts never can (lacrima.web.accounts.models.StaffSecurity.demo_account).
LACRIMA_DEMO = deploy.demo_mode(
    DATA_DIR,
    env=os.environ.get("LACRIMA_DEMO"),
    database_url=os.environ.get("DATABASE_URL"),
    production=PRODUCTION,
)

# Sessions: signed out after LACRIMA_SESSION_IDLE_MINUTES without a request (sliding) and after
# LACRIMA_SESSION_MAX_HOURS in any case (lacrima.web.security.SessionTimeoutMiddleware).
LACRIMA_SESSION_IDLE_SECONDS = 60 * _env_int("LACRIMA_SESSION_IDLE_MINUTES", 30)
LACRIMA_SESSION_MAX_SECONDS = 3600 * _env_int("LACRIMA_SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = LACRIMA_SESSION_MAX_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Password reset by e-mail: printed to the console in development, SMTP in production (the same
# LACRIMA_EMAIL_* settings as the clinic's notifications).
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
PASSWORD_RESET_TIMEOUT = 60 * _env_int("LACRIMA_PASSWORD_RESET_MINUTES", 60)

# Rate limits (COUNT/SECONDS, fixed windows counted in the database, so shared by every worker):
# participant pages /p/ and the JSON API /api/, per client address and per token.
LACRIMA_RATE_LIMITS = {
    "participant:address": _env_rate("LACRIMA_RATE_PARTICIPANT_ADDRESS", "300/60"),
    "participant:token": _env_rate("LACRIMA_RATE_PARTICIPANT_TOKEN", "120/60"),
    "api:address": _env_rate("LACRIMA_RATE_API_ADDRESS", "300/60"),
    "api:token": _env_rate("LACRIMA_RATE_API_TOKEN", "30/60"),
    "reset:address": _env_rate("LACRIMA_RATE_PASSWORD_RESET", "5/900"),
}

# Static files (the pages' CSS and script, the admin's, Swagger UI's) are served by WhiteNoise from the
# installed packages, so nothing comes from a CDN and `collectstatic` is optional.
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
