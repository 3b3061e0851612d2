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


def test_it_queues_the_report_from_the_report_page_instead_of_running_it_in_the_request(
    world, monkeypatch
) -> None:
    import lacrima.report as report

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the battery ran inside the request")

    monkeypatch.setattr(report, "analyze", never)
    c = world.login(world.admin)
    page = c.get("/studies/cry-2026/report/")
    html = page.content.decode()
    assert page.status_code == 200 and 'action="/clinic/cry-2026/battery/"' in html
    assert 'id="battery-runs"' not in html  # no runs yet
    r = c.post("/clinic/cry-2026/battery/")
    run = BatteryRun.objects.get()
    assert r.status_code == 302 and BatteryRun.objects.get().status == "queued"
    html = c.get("/studies/cry-2026/report/").content.decode()
    assert 'id="battery-runs"' in html and 'data-status="queued"' in html and "<progress" in html
    assert 'http-equiv="refresh"' in html  # follows the run until it is done
    BatteryRun.objects.filter(pk=run.pk).update(status="running", progress=30, stage="Scoring 40 surveys")
    html = c.get(f"/clinic/cry-2026/battery/{run.pk}/").content.decode()
    assert 'value="30"' in html and "Scoring 40 surveys" in html
    done = "<html><style>p{}</style></html>"
    BatteryRun.objects.filter(pk=run.pk).update(status="done", progress=100, html=done)
    html = c.get("/studies/cry-2026/report/").content.decode()
    assert f"/clinic/cry-2026/battery/{run.pk}/report/" in html and 'http-equiv="refresh"' not in html
    report_page = c.get(f"/clinic/cry-2026/battery/{run.pk}/report/")
    assert "'sha256-" in report_page["Content-Security-Policy"]  # its inline CSS allowed, by hash


def test_it_says_why_when_the_computation_fails_numerically(world, monkeypatch) -> None:
    import numpy as np

    import lacrima.report as report
    from lacrima.web.clinic.tasks import run_battery

    def singular(*args: object, **kwargs: object) -> None:
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(report, "analyze", singular)
    monkeypatch.setattr("lacrima.web.studies.tables.study_tables", lambda *a, **k: (_five(), None))
    run = BatteryRun.objects.create(study=world.study, requested_by=world.admin)
    assert run_battery.call(run.pk) == "failed"
    run.refresh_from_db()
    assert run.message == "The battery was not run, because the computation failed: Singular matrix"


def _five():
    import pandas as pd

    return pd.DataFrame({"site": ["tlv"] * 5, "cry_01": [1, 2, 3, 4, 5]})
