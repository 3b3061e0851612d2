"""Background work on Django's tasks framework (the ``django-tasks`` backport, database-backed worker).

The same code runs on SQLite (one worker, the embedded default) and PostgreSQL (several workers on several
machines; ``django_tasks_db`` claims each task with ``SELECT ... FOR UPDATE SKIP LOCKED`` there). Tasks
take ids, never model instances, and are idempotent: alerts are stored by key, a battery run by its row.
"""

from __future__ import annotations

import logging
import traceback

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
    newest = Max("responses__pk", filter=Q(responses__completed_at__isnull=False))
    return list(
        Client.objects.annotate(newest=newest)
        .filter(newest__isnull=False)
        .filter(Q(clinic_summary__isnull=True) | Q(newest__gt=F("clinic_summary__through_response")))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def queue_stale_evaluations() -> int:
    """Queue an evaluation for every stale client that has none waiting; returns how many were queued.

    ``lacrima worker`` runs this every few seconds (``--sweep``), so a check-in's alerts follow within that
    interval without the check-in itself writing a task (benchmarks/bench_checkins.py: the task insert was
    a quarter of a check-in's server time). Several workers may sweep at once: a second task for a client
    only evaluates it twice, and alerts are stored by key.
    """
    return sum(enqueue_evaluation(pk) for pk in stale_clients())


def enqueue_evaluation(client_id: int, *, notify: bool = True) -> bool:
    """Queue an evaluation unless one for this client is already waiting (pages that find a client's row
    out of date call this on every view); returns whether a task was queued."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(
        task_path=compute_alerts.module_path, status="READY", args_kwargs__args__0=client_id
    )
    if waiting.exists():
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
    return len(refresh_client(client, notify=notify))


@task()
def send_reminders() -> int:
    """Re-evaluate every active client so that missed check-ins raise their alert even when no new check-in
    arrives (run daily: ``lacrima worker`` queues it at start, cron can queue it with
    ``lacrima manage clinic_reminders``). Returns the number of new alerts."""
    from lacrima.web.clinic.evaluate import refresh_client

    new = 0
    for client in Client.objects.filter(withdrawn_at__isnull=True).select_related("study", "therapist"):
        new += len(refresh_client(client))
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
        respondents, _ = study_tables(run.study)
        if run.site_ids is not None:
            codes = set(run.study.sites.filter(pk__in=run.site_ids).values_list("code", flat=True))
            respondents = respondents[respondents["site"].isin(codes)]
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
