"""``lacrima manage refit_expected_recovery [--study SLUG ...] [--due]``: queue expected-recovery refits."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lacrima.web.clinic.tasks import REFIT_INSTRUMENTS, queue_due_refits, queue_refit
from lacrima.web.studies.models import Study


class Command(BaseCommand):
    help = (
        "Queue a refit of each study's expected-recovery trajectories (PHQ-9, GAD-7) from its archive; "
        "with --due only the refits the worker's own rule finds due. A running worker does the fitting."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--study", action="append", default=[], help="study slug (repeatable; all)")
        parser.add_argument("--due", action="store_true", help="only the refits that are due")

    def handle(self, *args: Any, **options: Any) -> None:
        studies = Study.objects.order_by("slug")
        if options["study"]:
            studies = studies.filter(slug__in=options["study"])
            unknown = sorted(set(options["study"]) - set(studies.values_list("slug", flat=True)))
            if unknown:
                raise CommandError(f"no study with slug {', '.join(unknown)}; /studies/ lists the slugs")
        if options["due"]:
            n = queue_due_refits([s.pk for s in studies])
        else:
            n = sum(queue_refit(s.pk, name) for s in studies for name in REFIT_INSTRUMENTS)
        self.stdout.write(f"queued {n} refit(s); a running lacrima worker fits them")
