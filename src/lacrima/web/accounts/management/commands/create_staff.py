"""``lacrima manage create_staff USER [--email ADDRESS] [--demo]``: a staff account with a generated
first password, printed once; the account must choose its own password (after its second factor) before
it sees any page.

``--demo`` marks one of the demo's seeded accounts: it skips the second factor, but only while the server
runs with ``LACRIMA_DEMO=1``, which production refuses.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lacrima.web.accounts.models import StaffSecurity


class Command(BaseCommand):
    help = "Create a staff account with a one-time generated password (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="for password reset by e-mail")
        parser.add_argument("--demo", action="store_true", help="a demo account (see LACRIMA_DEMO)")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if users.filter(username=options["username"]).exists():
            raise CommandError(f"a user called {options['username']!r} exists already")
        password = secrets.token_urlsafe(12)
        user = users.create_user(options["username"], email=options["email"], password=password)
        StaffSecurity.objects.create(
            user=user, must_change_password=not options["demo"], demo_account=options["demo"]
        )
        self.stdout.write(password)
