"""``lacrima manage check_guidance FILE ...``: validate a clinic's own guidance files before using them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Check guidance files (the format of lacrima/feedback/guidance/*.yaml) together with the shipped "
        "ones: every problem is listed (unknown key, missing citation, bad evidence level, clashing id)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("files", nargs="+", help="guidance YAML files")

    def handle(self, *args: Any, **options: Any) -> None:
        from lacrima import feedback as fb
        from lacrima.errors import DataError

        try:
            guidance = fb.load_guidance(extra=options["files"])
        except DataError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"ok: {len(guidance)} prompts in force with these files")
