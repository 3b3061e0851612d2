"""Background work on Django's tasks framework (the ``django-tasks`` backport, database-backed worker).

The same code runs on SQLite (one worker, the embedded default) and PostgreSQL (several workers on several
machines; ``django_tasks_db`` claims each task with ``SELECT ... FOR UPDATE SKIP LOCKED`` there). Tasks
take ids, never model instances, and are idempotent: alerts are stored by key, a battery run by its row.
"""

from __future__ import annotations

import logging
import traceback

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from lacrima.web.clinic.models import BatteryRun
from lacrima.web.studies.models import Client, Study

log = logging.getLogger("lacrima.clinic")


def queue_client_evaluation(client_id: int | None) -> None:
    """Queue an evaluation of the client once the current transaction commits (called after each check-in
    and survey submission)."""
    if client_id is None:
        return
    transaction.on_commit(lambda: compute_alerts.enqueue(int(client_id)))


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
