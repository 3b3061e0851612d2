"""``lacrima manage create_api_token USER [--name NAME]``: print a new API token for a staff user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lacrima.web.accounts.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for a user; the token is printed once and only its hash is kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="api")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user called {options['username']!r}")
        _, token = ApiToken.issue(user, options["name"])
        self.stdout.write(token)
