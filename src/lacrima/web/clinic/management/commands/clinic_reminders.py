"""``lacrima manage clinic_reminders``: queue the daily check for missed check-ins (run it from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from lacrima.web.clinic.tasks import send_reminders


class Command(BaseCommand):
    help = "Queue a re-evaluation of every active client (missed check-ins raise their alerts)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = send_reminders.enqueue()
        self.stdout.write(f"queued {result.id}")
