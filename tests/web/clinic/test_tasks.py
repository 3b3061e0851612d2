"""The other queued tasks: expected-recovery refits stored per study, reminders, and `lacrima worker`."""

from __future__ import annotations

import io
import math

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult
from typer.testing import CliRunner

from clinic_support import checkin, phq, survey
from lacrima.cli import app
from lacrima.web.clinic.evaluate import expected_recovery
from lacrima.web.clinic.models import Alert, ClientSummary, ClinicSettings, ExpectedRecoveryFit
from lacrima.web.clinic.tasks import refit_expected_recovery, send_reminders
from lacrima.web.studies.models import Client

pytestmark = pytest.mark.django_db


def _archive(world, n: int, measures: int = 4) -> None:
    for i in range(n):
        c = Client.objects.create(
            study=world.study, site=world.site_il, code=f"A{i:03d}", therapist=world.therapist
        )
        start = i % 3
        for k in range(measures):
            survey(c, phq(max(0, start + 1 - k)), session=4 * (k + 1))


def test_it_stores_the_documented_default_while_the_archive_is_small(world) -> None:
    _archive(world, 3)
    assert refit_expected_recovery.call(world.study.pk, "phq9") is False
    fit = ExpectedRecoveryFit.objects.get()
    assert fit.is_default and "archive" in fit.note and fit.n_clients == 3
    stored = expected_recovery(world.study, "phq9")
    assert stored.is_default and stored.note == fit.note


def test_it_refits_expected_recovery_from_the_studys_archive(world) -> None:
    ClinicSettings.objects.create(
        study=world.study, rule_overrides={"not-on-track": {"min_archive_clients": 20}}
    )
    _archive(world, 24)
    assert refit_expected_recovery.call(world.study.pk, "phq9") is True
    fit = ExpectedRecoveryFit.objects.get()
    assert not fit.is_default and fit.n_clients == 24
    stored = expected_recovery(world.study, "phq9")
    assert not stored.is_default and math.isfinite(stored.intake_sd)
    assert set(stored.coef) == {"(Intercept)", "lt", "xc", "lt:xc"}


def test_it_stores_the_default_with_the_reason_when_the_archive_cannot_be_fitted(world) -> None:
    ClinicSettings.objects.create(
        study=world.study, rule_overrides={"not-on-track": {"min_archive_clients": 20}}
    )
    _archive(world, 24, measures=3)  # two later measurements per client: as many as random effects
    assert refit_expected_recovery.call(world.study.pk, "phq9") is False
    fit = ExpectedRecoveryFit.objects.get()
    assert fit.is_default and "could not be fitted" in fit.note and "random effects" in fit.note


def test_it_raises_missed_checkins_when_the_reminder_task_runs(world) -> None:
    from datetime import timedelta

    from django.utils import timezone

    for s in (1, 2, 3):
        checkin(world.client, s, day=timezone.localdate() - timedelta(days=70 - 7 * s))
    assert send_reminders.call() >= 1
    assert Alert.objects.filter(client=world.client, kind="missed-checkins").exists()
    assert ClientSummary.objects.filter(client=world.client).exists()


@pytest.mark.django_db(transaction=True)
def test_it_runs_queued_work_with_lacrima_worker(world) -> None:
    checkin(world.client, 1)
    from lacrima.web.clinic.tasks import compute_alerts

    compute_alerts.enqueue(world.client.pk)
    result = CliRunner().invoke(app, ["worker", "--batch", "--no-reminders"])
    assert result.exit_code == 0, result.output
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert ClientSummary.objects.get(client=world.client).n_sessions == 1


def test_it_queues_reminders_from_the_management_command(world) -> None:
    call_command("clinic_reminders", verbosity=0)
    assert DBTaskResult.objects.filter(task_path__endswith="send_reminders").count() == 1


def _refits() -> list[list[object]]:
    return sorted(
        r.args_kwargs["args"]
        for r in DBTaskResult.objects.filter(task_path__endswith="refit_expected_recovery", status="READY")
    )


def test_it_queues_a_refit_when_the_archive_grows_and_not_twice(world) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from lacrima.web.clinic.tasks import REFIT_NEW_CLIENTS, compute_alerts, queue_due_refits, refit_due

    assert refit_due(world.study, "phq9") == ""  # nothing measured: nothing to fit
    _archive(world, 3)
    compute_alerts.call(world.client.pk)  # an evaluation after a new measure checks whether one is due
    assert _refits() == [[world.study.pk, "phq9"]]  # the first fit; GAD-7 was never measured
    assert queue_due_refits() == 0  # already waiting: not queued twice
    DBTaskResult.objects.all().delete()
    refit_expected_recovery.call(world.study.pk, "phq9")
    assert refit_due(world.study, "phq9") == ""  # just fitted, archive unchanged
    later = timezone.now() + timedelta(days=2)
    assert refit_due(world.study, "phq9", now=later) == ""  # old, but no new measures since
    for i in range(REFIT_NEW_CLIENTS):
        c = Client.objects.create(study=world.study, site=world.site_il, code=f"N{i:03d}")
        survey(c, phq(1), session=4)
    assert "grew from 3 to 23 clients" in refit_due(world.study, "phq9")
    assert send_reminders.call() >= 0  # the daily reminder check queues due refits too
    assert _refits() == [[world.study.pk, "phq9"]]


def test_it_refits_once_a_day_when_new_measures_arrived(world) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from lacrima.web.clinic.tasks import refit_due
    from lacrima.web.participate.models import Response

    _archive(world, 3)
    refit_expected_recovery.call(world.study.pk, "phq9")
    Response.objects.update(completed_at=timezone.now() - timedelta(days=3))
    ExpectedRecoveryFit.objects.update(fitted_at=timezone.now() - timedelta(days=2))
    assert refit_due(world.study, "phq9") == ""  # a day old, but nothing new
    survey(world.client, phq(2), session=4)
    assert refit_due(world.study, "phq9").startswith("new measures since the fit")


def test_it_queues_refits_from_the_management_command(world) -> None:
    from django.core.management.base import CommandError

    _archive(world, 2)
    out = io.StringIO()
    call_command("refit_expected_recovery", study=["cry-2026"], stdout=out)
    assert "queued 2 refit(s)" in out.getvalue()
    assert _refits() == [[world.study.pk, "gad7"], [world.study.pk, "phq9"]]
    with pytest.raises(CommandError, match="no study with slug nope"):
        call_command("refit_expected_recovery", study=["nope"])


def test_it_runs_a_periodic_job_in_the_worker_and_survives_a_failing_run() -> None:
    import threading

    from lacrima.cli._clinic import start_periodic

    runs: list[int] = []
    done = threading.Event()

    def job() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("first run fails")
        done.set()

    stop = threading.Event()
    thread = start_periodic(0.01, job, name="test", stop=stop)
    assert done.wait(5) and len(runs) >= 2
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
