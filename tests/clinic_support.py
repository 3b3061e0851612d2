"""Helpers for the clinic's web tests: completed check-ins and surveys written the way the app stores them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Client, Invitation


def checkin(
    client: Client,
    session: int,
    *,
    cried: int = 0,
    alliance: float | None = 6,
    feelings: Iterable[int] | None = None,
    day: date | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A completed check-in: alliance items chk_07-09 all ``alliance`` (None leaves them unanswered)."""
    inv = Invitation.objects.filter(client=client, kind="checkin").first()
    if inv is None:
        inv, _ = Invitation.issue(study=client.study, site=client.site, kind="checkin", client=client, days=0)
    answers: dict[str, Any] = {"cried": cried}
    if alliance is not None:
        answers.update({"chk_07": alliance, "chk_08": alliance, "chk_09": alliance})
    if cried and feelings is not None:
        answers.update(dict(zip(["chk_02", "chk_03", "chk_04", "chk_05", "chk_06"], feelings, strict=True)))
    answers.update(extra or {})
    return Response.objects.create(
        study=client.study,
        site=client.site,
        client=client,
        invitation=inv,
        kind="checkin",
        session=session,
        session_date=day or (timezone.localdate() - timedelta(days=7 * (20 - session))),
        language=client.language,
        answers=answers,
        completed_at=timezone.now(),
        idempotency_key=f"{client.code}-{session}",
    )


def survey(client: Client, answers: dict[str, Any], *, session: int | None = None) -> Response:
    inv = Invitation.objects.filter(client=client).first()
    if inv is None:
        inv, _ = Invitation.issue(study=client.study, site=client.site, kind="checkin", client=client, days=0)
    return Response.objects.create(
        study=client.study,
        site=client.site,
        client=client,
        invitation=inv,
        kind="survey",
        session=session,
        language=client.language,
        answers=answers,
        completed_at=timezone.now(),
    )


def phq(total_per_item: int, item9: int = 0) -> dict[str, int]:
    out = {f"phq_{i:02d}": total_per_item for i in range(1, 9)}
    out["phq_09"] = item9
    return out


def rupture_course(client: Client) -> None:
    """The issue's example: alliance 6.3 -> 2.0 over four sessions, intense crying followed by shame."""
    for s in range(1, 7):
        checkin(client, s, alliance=6)
    for s, level in zip(range(7, 11), (6, 5, 3, 2), strict=True):
        crying = s == 9
        checkin(client, s, alliance=level, cried=int(crying), feelings=(7, 1, 1, 7, 7) if crying else None)


def queued_report(world: Any, user: Any = None) -> Any:
    """The replication report as staff get it: queued from the study's battery button, run by the worker's
    task (called here in the test's process), then opened from the run's report link."""
    from lacrima.web.clinic.models import BatteryRun
    from lacrima.web.clinic.tasks import run_battery

    c = world.login(user or world.admin)
    assert c.post("/clinic/cry-2026/battery/").status_code == 302
    run = BatteryRun.objects.latest("pk")
    run_battery.call(run.pk)
    run.refresh_from_db()
    assert run.status == "done", run.message
    r = c.get(f"/clinic/cry-2026/battery/{run.pk}/report/")
    assert r.status_code == 200
    return r
