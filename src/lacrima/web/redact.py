"""Keep tokens out of the logs.

A participant's link (``/p/<token>/...``) is their credential and never expires for check-ins; a
password-reset link (``/accounts/reset/<uid>/<token>/``) is one too. Access logs (gunicorn's, Django's
development server's) and Django's request warnings ("Not Found: /p/...") would write them to disk in
the clear. :class:`RedactTokens` rewrites every record of the loggers that carry request lines, whatever
handlers and formats the deployment configures; :func:`install` attaches it (called when the app loads).
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_PATTERNS = [
    (re.compile(r"(/p/)[^/\s?#\"']+"), r"\g<1>" + REDACTED),
    (re.compile(r"(/accounts/reset/)[^/\s?#\"']+/[^/\s?#\"']+"), r"\g<1>" + REDACTED),
    (re.compile(r"(?i)(bearer\s+)[^\s\"']+"), r"\g<1>" + REDACTED),
]

# Loggers whose records carry a request path, a request line or a referrer.
LOGGERS = (
    "gunicorn.access",
    "gunicorn.error",
    "django.server",
    "django.request",
    "django.security.csrf",
    "django.security.DisallowedHost",
    "django.security.SuspiciousOperation",
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokens(logging.Filter):
    """Replaces the record's message by its redacted text (arguments merged in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        return True


_FILTER = RedactTokens()


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
