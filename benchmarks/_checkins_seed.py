"""Seed the check-in benchmark's database: migrate, then one study, two sites, consent texts, and N
consented clients, each with a check-in link.

Run by ``bench_checkins.py`` in a subprocess with ``DATABASE_URL`` pointing at the benchmark database;
prints ``[{"code": ..., "token": ...}, ...]`` as JSON on stdout (the plain tokens exist nowhere else).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def seed(n_clients: int) -> list[dict[str, str]]:
    """Migrate and create the benchmark study; return each client's code and check-in token."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lacrima.web.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from lacrima.web.participate.models import Consent
    from lacrima.web.studies.models import Client, ConsentVersion, Invitation, Site, Study

    call_command("migrate", interactive=False, verbosity=0)
    out: list[dict[str, str]] = []
    with transaction.atomic():
        study = Study.objects.create(
            slug="bench-checkins",
            title="Check-in load benchmark",
            kind=Study.Kind.CHECKIN,
            checkin_instruments=["session_checkin"],
            invitation_days=365,
        )
        sites = [
            Site.objects.create(study=study, code="roma", name="Roma", country="IT", languages=["it", "en"]),
            Site.objects.create(
                study=study, code="tlv", name="Tel Aviv", country="IL", languages=["he", "en"]
            ),
        ]
        versions = {
            lang: ConsentVersion.objects.create(
                study=study, version=1, language=lang, text=f"consent ({lang})"
            )
            for lang in ("en", "it", "he")
        }
        for i in range(n_clients):
            site = sites[i % 2]
            language = site.languages[0]
            client = Client.objects.create(study=study, site=site, code=f"B{i + 1:05d}", language=language)
            inv, token = Invitation.issue(study=study, site=site, kind="checkin", client=client)
            Consent.objects.create(
                invitation=inv, client=client, version=versions[language], language=language, agreed=True
            )
            out.append({"code": client.code, "token": token})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clients", type=int)
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        sys.exit("DATABASE_URL is not set; the seeder only writes to the benchmark database it is given")
    json.dump(seed(args.clients), sys.stdout)


if __name__ == "__main__":
    main()
