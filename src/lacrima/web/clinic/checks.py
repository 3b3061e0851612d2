"""System checks of the clinic's configuration, run by ``lacrima serve`` (through ``migrate``) and
``lacrima manage check``: a clinic's own guidance files must load before any client page uses them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def guidance_files(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every problem in ``LACRIMA_GUIDANCE_FILES`` (unknown key, missing citation, clashing id, ...)."""
    if not settings.LACRIMA_GUIDANCE_FILES:
        return []
    from lacrima import feedback as fb
    from lacrima.errors import DataError

    try:
        fb.load_guidance(extra=settings.LACRIMA_GUIDANCE_FILES)
    except DataError as exc:
        return [
            Error(
                f"LACRIMA_GUIDANCE_FILES: {exc}",
                hint="Fix the file (lacrima manage check_guidance FILE lists every problem) or remove it "
                "from LACRIMA_GUIDANCE_FILES; the format is in docs/feedback.md.",
                id="lacrima.E001",
            )
        ]
    return []
