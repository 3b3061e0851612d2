"""The study page's battery button queues the work; a status page follows it; the worker runs it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from lacrima.web.clinic.models import BatteryRun

pytestmark = pytest.mark.django_db


def _worker() -> None:
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)


@pytest.mark.django_db(transaction=True)  # the worker closes its connection when done (PostgreSQL)
def test_it_queues_the_battery_and_follows_it_to_a_clear_message(
    world, django_capture_on_commit_callbacks
) -> None:
    c = world.login(world.admin)
    assert "clinic/cry-2026/battery/" in c.get("/studies/cry-2026/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post("/clinic/cry-2026/battery/")
    run = BatteryRun.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/clinic/cry-2026/battery/{run.pk}/"
    page = c.get(r["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page and 'data-status="queued"' in page
    _worker()
    run.refresh_from_db()
    assert run.status == "failed" and "completed surveys; the battery needs at least 5" in run.message
    page = c.get(r["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in page and run.message in page
    assert c.get(f"/clinic/cry-2026/battery/{run.pk}/report/").status_code == 302


def test_it_lets_only_researchers_and_admins_run_the_battery(world) -> None:
    for user in (world.therapist, world.other_therapist, world.outsider):
        assert world.login(user).post("/clinic/cry-2026/battery/").status_code == 404
    assert world.login(world.researcher).post("/clinic/cry-2026/battery/").status_code == 302
    run = BatteryRun.objects.get()
    assert run.site_ids == [world.site_il.pk]  # a site researcher's run covers their sites only
    # another staff member cannot follow someone else's run
    assert world.login(world.admin).get(f"/clinic/cry-2026/battery/{run.pk}/").status_code == 404
    assert world.login(world.therapist).get(f"/clinic/cry-2026/battery/{run.pk}/").status_code == 404
