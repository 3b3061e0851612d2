"""Background work on Django's tasks framework (the ``django-tasks`` backport, database-backed worker).

The same code runs on SQLite (one worker, the embedded default) and PostgreSQL (several workers on several
machines; ``django_tasks_db`` claims each task with ``SELECT ... FOR UPDATE SKIP LOCKED`` there). Tasks
take ids, never model instances, and are idempotent: alerts are stored by key, a battery run by its row.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta

import numpy as np
from django.db.models import F, Max, Q
from django.utils import timezone
from django_tasks import task

from lacrima.web.clinic.models import BatteryRun
from lacrima.web.studies.models import Client, Study

log = logging.getLogger("lacrima.clinic")


def queue_client_evaluation(client_id: int | None) -> None:
    """Queue an evaluation of the client (called when a survey is completed).

    Called inside the transaction that stores the answers: the task row lives in the same database, so it
    commits or rolls back with them, and a worker cannot pick it up before the answers are visible.
    Check-ins, the high-volume path, queue nothing: :func:`queue_stale_evaluations` finds them.
    """
    if client_id is None:
        return
    compute_alerts.enqueue(int(client_id))


def stale_clients() -> list[int]:
    """Ids of clients whose newest completed answers are newer than their caseload row (or who have answers
    and no row yet): the same test the caseload page applies."""
    return [pk for pk, _ in _stale()]


def _stale() -> list[tuple[int, object]]:
    newest = Max("responses__pk", filter=Q(responses__completed_at__isnull=False))
    latest = Max("responses__completed_at")
    return list(
        Client.objects.annotate(newest=newest, latest=latest)
        .filter(newest__isnull=False)
        .filter(Q(clinic_summary__isnull=True) | Q(newest__gt=F("clinic_summary__through_response")))
        .order_by("pk")
        .values_list("pk", "latest")
    )


def _failed_since(client_id: int, since: object) -> bool:
    """Whether an evaluation of the client failed after its newest answers (its traceback is in the task
    row and the worker's log); the sweep does not retry it until new answers arrive."""
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(
        task_path=compute_alerts.module_path,
        status="FAILED",
        args_kwargs__args__0=client_id,
        finished_at__gte=since,
    ).exists()


def queue_stale_evaluations() -> int:
    """Queue an evaluation for every stale client that has none waiting; returns how many were queued.

    ``lacrima worker`` runs this every few seconds (``--sweep``), so a check-in's alerts follow within that
    interval without the check-in itself writing a task (benchmarks/bench_checkins.py: the task insert was
    a quarter of a check-in's server time). Several workers may sweep at once: a second task for a client
    only evaluates it twice, and alerts are stored by key. A client whose evaluation failed after its
    newest answers waits for new answers (or the caseload page) instead of failing every few seconds.
    """
    return sum(enqueue_evaluation(pk) for pk, latest in _stale() if not _failed_since(pk, latest))


# When a study's expected-recovery trajectory is refitted: it has none yet, its archive of measured clients
# grew by REFIT_NEW_CLIENTS since the last fit, or the last fit is a day old and new measures arrived since.
REFIT_INSTRUMENTS = {"phq9": "phq_", "gad7": "gad_"}
REFIT_NEW_CLIENTS = 20
REFIT_MAX_AGE = timedelta(days=1)


def _waiting(task_path: str, args: list[object]) -> bool:
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(task_path=task_path, status="READY")
    for i, value in enumerate(args):
        waiting = waiting.filter(**{f"args_kwargs__args__{i}": value})
    return waiting.exists()


def refit_due(study: Study, instrument: str, *, now: datetime | None = None) -> str:
    """Why the study's ``instrument`` trajectory should be refitted now ("" when it need not be)."""
    from lacrima.web.clinic.models import ExpectedRecoveryFit
    from lacrima.web.participate.models import Response

    measured = Response.objects.filter(
        study=study,
        kind=Response.Kind.SURVEY,
        completed_at__isnull=False,
        session__isnull=False,
        answers__has_key=f"{REFIT_INSTRUMENTS[instrument]}01",
    )
    n_clients = measured.values("client").distinct().count()
    if n_clients == 0:
        return ""
    last = ExpectedRecoveryFit.objects.filter(study=study, instrument=instrument).order_by("-pk").first()
    if last is None:
        return f"no fit yet ({n_clients} clients measured)"
    if n_clients - last.n_clients >= REFIT_NEW_CLIENTS:
        return f"the archive grew from {last.n_clients} to {n_clients} clients"
    now = now or timezone.now()
    if now - last.fitted_at >= REFIT_MAX_AGE and measured.filter(completed_at__gt=last.fitted_at).exists():
        return f"new measures since the fit of {last.fitted_at:%Y-%m-%d %H:%M}"
    return ""


def queue_refit(study_id: int, instrument: str) -> bool:
    """Queue a refit unless one for this study and measure is already waiting; returns whether queued."""
    if _waiting(refit_expected_recovery.module_path, [study_id, instrument]):
        return False
    refit_expected_recovery.enqueue(study_id, instrument)
    return True


def queue_due_refits(study_ids: list[int] | None = None, *, now: datetime | None = None) -> int:
    """Queue the refits that :func:`refit_due` asks for (after each evaluation, and daily with the
    reminders); returns how many were queued."""
    studies = Study.objects.all() if study_ids is None else Study.objects.filter(pk__in=study_ids)
    queued = 0
    for study in studies:
        for instrument in REFIT_INSTRUMENTS:
            reason = refit_due(study, instrument, now=now)
            if reason and queue_refit(study.pk, instrument):
                log.info("queued a refit of %s for study %s: %s", instrument, study.slug, reason)
                queued += 1
    return queued


def enqueue_evaluation(client_id: int, *, notify: bool = True) -> bool:
    """Queue an evaluation unless one for this client is already waiting (pages that find a client's row
    out of date call this on every view); returns whether a task was queued."""
    if _waiting(compute_alerts.module_path, [client_id]):
        return False
    compute_alerts.enqueue(client_id, notify)
    return True


@task()
def compute_alerts(client_id: int, notify: bool = True) -> int:
    """Evaluate one client: store new alerts (by key, so twice is the same as once) and the caseload row;
    e-mail the therapist about new risk items and ruptures unless ``notify`` is False (the demo's seed)."""
    from lacrima.web.clinic.evaluate import refresh_client

    client = Client.objects.select_related("study", "therapist").filter(pk=client_id).first()
    if client is None:
        return 0
    new = len(refresh_client(client, notify=notify))
    queue_due_refits([client.study_id])  # the archive may have grown by this client's measures
    return new


def queue_reminders() -> bool:
    """Queue :func:`send_reminders` unless one is already waiting; returns whether queued."""
    if _waiting(send_reminders.module_path, []):
        return False
    send_reminders.enqueue()
    return True


@task()
def send_reminders() -> int:
    """Re-evaluate every active client so that missed check-ins raise their alert even when no new check-in
    arrives, and queue the expected-recovery refits that are due (run daily: ``lacrima worker`` queues it
    at start and every day while it runs, cron can queue it with ``lacrima manage clinic_reminders``).
    Returns the number of new alerts."""
    from lacrima.web.clinic.evaluate import refresh_client

    new = 0
    for client in Client.objects.filter(withdrawn_at__isnull=True).select_related("study", "therapist"):
        new += len(refresh_client(client))
    queue_due_refits()  # and once a day at least, the refits that are due
    return new


@task()
def refit_expected_recovery(study_id: int, instrument: str = "phq9") -> bool:
    """Refit the study's expected-recovery trajectory from its archive with ``lc.mixed`` and store it.

    Returns True when a fitted trajectory was stored, False when the archive was too small and the
    documented default (with the library's note saying why) was stored instead."""
    from lacrima import feedback as fb
    from lacrima.web.clinic.archive import symptom_archive
    from lacrima.web.clinic.evaluate import clinic_settings
    from lacrima.web.clinic.models import ExpectedRecoveryFit

    study = Study.objects.get(pk=study_id)
    rules = fb.load_rules(overrides=clinic_settings(study).rule_overrides or None)
    archive = symptom_archive(study)
    fitted = fb.fit_expected_recovery(
        archive, instrument, min_clients=int(rules["not-on-track"]["min_archive_clients"])
    )
    ExpectedRecoveryFit.objects.create(
        study=study,
        instrument=instrument,
        payload=fitted.to_dict(),
        is_default=bool(fitted.is_default),
        note=str(fitted.note),
        n_clients=int(archive["client_id"].nunique()) if len(archive) else 0,
    )
    return not fitted.is_default


@task()
def run_battery(run_id: int) -> str:
    """Run the replication battery for a queued :class:`BatteryRun`, recording progress as it goes."""
    from lacrima.errors import DataError
    from lacrima.report import analyze
    from lacrima.report.render import build_html
    from lacrima.web.studies.tables import study_tables

    run = BatteryRun.objects.select_related("study").get(pk=run_id)
    if run.status == BatteryRun.Status.DONE:
        return run.status

    def stage(progress: int, text: str, **extra: object) -> None:
        BatteryRun.objects.filter(pk=run.pk).update(progress=progress, stage=text, **extra)

    stage(10, "Reading the study's completed surveys", status=BatteryRun.Status.RUNNING)
    try:
        sites = None if run.site_ids is None else run.study.sites.filter(pk__in=run.site_ids)
        respondents, _ = study_tables(run.study, sites)  # a site researcher's sites, in the query itself
        if len(respondents) < 5:
            raise DataError(
                f"the study has {len(respondents)} completed surveys; the battery needs at least 5"
            )
        stage(30, f"Scoring {len(respondents)} surveys and running the battery (1,000 resamples)")
        result = analyze(
            respondents,
            seed=2024,
            n_boot=1000,
            title=f"{run.study.title}: replication report",
            missing="skip",
        )
        stage(90, "Writing the report")
        html = build_html(result).render()
    except DataError as exc:
        stage(100, "Stopped", status=BatteryRun.Status.FAILED, message=str(exc), finished_at=timezone.now())
        return BatteryRun.Status.FAILED
    except (ArithmeticError, np.linalg.LinAlgError) as exc:  # numerical trouble the library did not type
        log.error("battery run %s: the computation failed on this data:\n%s", run.pk, traceback.format_exc())
        message = f"The battery was not run, because the computation failed: {exc}"
        stage(100, "Stopped", status=BatteryRun.Status.FAILED, message=message, finished_at=timezone.now())
        return BatteryRun.Status.FAILED
    except Exception:
        log.error("battery run %s failed:\n%s", run.pk, traceback.format_exc())
        stage(
            100,
            "Stopped",
            status=BatteryRun.Status.FAILED,
            message="The battery stopped with an internal error; the worker's log has the details.",
            finished_at=timezone.now(),
        )
        raise
    stage(100, "Done", status=BatteryRun.Status.DONE, html=html, finished_at=timezone.now())
    return BatteryRun.Status.DONE
