"""Seeding the demo clinic that ``lacrima demo`` puts into its SQLite database.

Two therapists and about 40 clients with 10-40 weekly sessions each, from ``lc.simulate_sessions``;
dates are moved so that the therapy is happening now. Intake surveys (ECR-R, attitudes to crying,
PHQ-9, GAD-7, gender) and PHQ-9/GAD-7 every fourth session are generated here from each client's simulated
attachment. Five clients carry one planted course each, so that every alert kind appears: an alliance
rupture (6.3 to 2.0 over four sessions, the issue's example), a difficult crying episode (intense crying
followed by shame), a risk answer (PHQ-9 item 9), symptoms that worsen (not on track) and check-ins that
stop (missed). Everything else is the simulation as it came.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from lacrima.web.accounts.models import Membership, StaffSecurity
from lacrima.web.deploy import DEMO_MARKER
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies.models import Client, ConsentVersion, Invitation, Site, Study

SLUG = "demo-clinic"
ACCOUNTS = ("demo-therapist", "demo-therapist-2", "demo-researcher")
PLANTED = {
    "D001": "alliance-rupture",
    "D002": "difficult-crying",
    "D003": "risk-item",
    "D004": "not-on-track",
    "D005": "missed-checkins",
}


@dataclass(frozen=True)
class DemoClinic:
    study: Study
    credentials: Path
    clients: int
    sessions: int


def _items(instrument: str) -> list[Any]:
    from lacrima.instruments import load_instrument

    return list(load_instrument(instrument).items)


def _dimension_items(instrument: str, levels: dict[str, float], rng: np.random.Generator) -> dict[str, int]:
    """Item answers whose subscale means come out near ``levels`` (reverse-keyed items answered reversed)."""
    from lacrima.instruments import load_instrument

    ins = load_instrument(instrument)
    lo, hi = int(ins.scale.min), int(ins.scale.max)
    out: dict[str, int] = {}
    for name, sub in ins.subscales.items():
        level = levels.get(name, (lo + hi) / 2)
        for number in sub.items:
            item = ins.items[number - 1]
            v = int(np.clip(round(level + rng.normal(0, 0.6)), lo, hi))
            out[item.column] = lo + hi - v if item.reverse else v
    return out


def _symptom_items(prefix: str, n: int, total: float, rng: np.random.Generator) -> dict[str, int]:
    """``n`` items scored 0-3 that add up to about ``total``."""
    total = float(np.clip(total, 0, 3 * n))
    base = np.full(n, total / n)
    answers = np.clip(np.round(base + rng.normal(0, 0.45, n)), 0, 3).astype(int)
    return {f"{prefix}_{i + 1:02d}": int(a) for i, a in enumerate(answers)}


def _checkin_answers(row: pd.Series, columns: list[str]) -> dict[str, Any]:
    answers: dict[str, Any] = {"cried": int(row["cried"])}
    for c in columns:
        v = row.get(c)
        if v is not None and not pd.isna(v):
            answers[c] = int(v)
    return answers


def _plant(code: str, one: pd.DataFrame) -> pd.DataFrame:
    """Give a client one planted course in the last sessions (see the module docstring)."""
    one = one.copy()
    kind = PLANTED.get(code)
    n = len(one)
    alliance = ["chk_07", "chk_08", "chk_09"]
    feelings = ["chk_02", "chk_03", "chk_04", "chk_05", "chk_06"]
    if kind == "alliance-rupture":
        # a steady alliance around 6 (a flat line of 6.0 looked unreal), then the fall to 2.0
        steady = [(6, 6, 6), (6, 7, 6), (6, 6, 5), (7, 6, 6), (6, 6, 6), (5, 6, 6), (6, 7, 7), (6, 6, 6)]
        for i in range(n - 4):
            one.loc[one.index[i], alliance] = steady[i % len(steady)]
        for i, level in zip(range(n - 4, n), (6.3, 4.7, 3.3, 2.0), strict=True):
            one.loc[one.index[i], alliance] = [round(level + d) for d in (0.2, -0.1, -0.1)]
        last = one.index[-2]
        one.loc[last, "cried"] = 1
        one.loc[last, feelings] = [7, 1, 1, 7, 7]
    elif kind == "difficult-crying":
        last = one.index[-1]
        one.loc[last, "cried"] = 1
        one.loc[last, feelings] = [7, 1, 1, 7, 6]
        one.loc[last, alliance] = [3, 3, 2]
    return one


def _credentials(users: dict[str, User], out: Path) -> Path:
    path = out / "demo-credentials.txt"
    lines = []
    for name in ACCOUNTS:
        password = secrets.token_urlsafe(12)
        users[name].set_password(password)
        users[name].save(update_fields=["password"])
        lines.append(f"{name} {password}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    (out / DEMO_MARKER).write_text(
        "This data directory holds lacrima's demo clinic: `lacrima serve --data` on it lets the\n"
        "demo's seeded accounts sign in without a second factor (real accounts still need theirs;\n"
        "production refuses it).\n",
        encoding="utf-8",
    )
    return path


def seed_demo_clinic(
    out: Path,
    *,
    seed: int = 2024,
    n_clients: int = 40,
    n_therapists: int = 2,
    sessions: tuple[int, int] = (10, 40),
) -> DemoClinic:
    """Create the demo clinic in the current (fresh) database and write ``out/demo-credentials.txt``."""
    import lacrima as lc
    from lacrima import feedback as fb

    rng = np.random.default_rng(seed)
    sim = lc.simulate_sessions(
        n_clients=n_clients,
        n_therapists=n_therapists,
        sessions=sessions,
        seed=seed,
        instrument=lc.load_instrument("session_checkin"),
    )
    data = sim.data
    checkin_cols = [c for c in data.columns if c.startswith("chk_")]
    today = timezone.localdate()
    expected = fb.default_expected_recovery("phq9")
    expected_gad = fb.default_expected_recovery("gad7")
    with transaction.atomic():
        # `lacrima demo` writes a fresh database each time, so the demo study is new here
        study = Study.objects.create(
            slug=SLUG,
            title="Demo clinic",
            kind=Study.Kind.BOTH,
            survey_instruments=["demographics", "crying_attitudes", "phq9", "gad7"],
            checkin_instruments=["session_checkin"],
        )
        site_tlv, _ = Site.objects.get_or_create(
            study=study,
            code="tlv",
            defaults={"name": "Tel Aviv clinic", "country": "IL", "languages": ["he", "en"]},
        )
        site_rome, _ = Site.objects.get_or_create(
            study=study,
            code="roma",
            defaults={"name": "Roma clinic", "country": "IT", "languages": ["it", "en"]},
        )
        versions = {
            lang: ConsentVersion.objects.get_or_create(
                study=study, version=1, language=lang, defaults={"text": "Demo consent text."}
            )[0]
            for lang in ("en", "he", "it")
        }
        users = {}
        for name in ACCOUNTS:
            user, _ = User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.org"})
            users[name] = user
            # demo accounts may skip the second factor, only while LACRIMA_DEMO=1 (never in production)
            StaffSecurity.objects.update_or_create(user=user, defaults={"demo_account": True})
        roles = [
            ("demo-therapist", site_tlv, Membership.Role.THERAPIST),
            ("demo-therapist-2", site_rome, Membership.Role.THERAPIST),
            ("demo-researcher", site_tlv, Membership.Role("site_researcher")),  # seeding, not an access check
        ]
        for name, site, role in roles:
            Membership.objects.get_or_create(user=users[name], study=study, site=site, role=role)
        therapists = {
            "t0001": (users["demo-therapist"], site_tlv),
            "t0002": (users["demo-therapist-2"], site_rome),
        }
        clients_info = sim.clients.set_index("client_id")
        responses: list[Response] = []
        now = timezone.now()
        n_sessions = 0
        for i, (cid, one) in enumerate(data.groupby("client_id", sort=True)):
            code = f"D{i + 1:03d}"
            # the planted courses all go to demo-therapist, so that one login shows every alert kind
            tid = "t0001" if code in PLANTED else str(one["therapist_id"].iloc[0])
            therapist, site = therapists.get(tid, therapists["t0001"])
            lang = site.languages[0] if i % 3 else "en"
            client = Client.objects.create(
                study=study, site=site, code=code, therapist=therapist, language=lang
            )
            inv = Invitation.objects.create(
                study=study,
                site=site,
                client=client,
                kind=Invitation.Kind.CHECKIN,
                token_hash=secrets.token_hex(32),
                single_use=False,
            )
            consent = Consent.objects.create(
                invitation=inv, client=client, version=versions[lang], language=lang, agreed=True
            )
            one = _plant(code, one.sort_values("session"))
            # the last session was this week (five weeks ago for the client whose check-ins stopped)
            gap = 35 if PLANTED.get(code) == "missed-checkins" else int(rng.integers(0, 6))
            shift = pd.Timestamp(today - timedelta(days=gap)) - one["date"].max()
            dates = (one["date"] + shift).dt.date
            info: dict[str, Any] = {str(k): v for k, v in clients_info.loc[cid].items()}
            intake_phq = float(rng.uniform(9, 19))
            worsening = PLANTED.get(code) == "not-on-track"
            base: dict[str, Any] = dict(
                study=study, site=site, client=client, invitation=inv, consent=consent, language=lang, page=1
            )
            intake: dict[str, Any] = {
                "gender": str(info["gender"]) if str(info["gender"]) in ("woman", "man") else "non_binary"
            }
            intake.update(
                _dimension_items(
                    "ecr_r",
                    {"anxiety": float(info["ecr_anxiety"]), "avoidance": float(info["ecr_avoidance"])},
                    rng,
                )
            )
            weakness = 4.2 if float(info["ecr_avoidance"]) > 4 else 2.2
            intake.update(
                _dimension_items(
                    "crying_attitudes",
                    {"healing": 6 - weakness, "weakness": weakness, "acceptability": 3, "gendered": 2.5},
                    rng,
                )
            )
            intake.update(_symptom_items("phq", 9, intake_phq, rng))
            intake.update(_symptom_items("gad", 7, intake_phq * 0.75, rng))
            intake["phq_09"] = 0
            start = pd.Timestamp(dates.iloc[0]) - pd.Timedelta(days=7)
            responses.append(
                Response(
                    **base,
                    kind=Response.Kind.SURVEY,
                    wave=1,
                    answers=intake,
                    completed_at=now,
                    session_date=start.date(),
                )
            )
            last_session = int(one["session"].max())
            for (_, row), day in zip(one.iterrows(), dates, strict=True):
                s = int(row["session"])
                responses.append(
                    Response(
                        **base,
                        kind=Response.Kind.CHECKIN,
                        session=s,
                        session_date=day,
                        answers=_checkin_answers(row, checkin_cols),
                        completed_at=now,
                        idempotency_key=f"demo-{code}-{s}",
                    )
                )
                if s % 4 == 0 or s == last_session:
                    # recovery as the documented default trajectory expects it, give or take half its SD
                    total = float(expected.mean(s, intake_phq)) + float(rng.normal(0, 0.5 * expected.sd(s)))
                    if worsening:
                        total = intake_phq * (1 + 0.4 * min(s / 12.0, 1.0))
                    answers = _symptom_items("phq", 9, total, rng)
                    gad = float(expected_gad.mean(s, 0.75 * intake_phq)) + float(
                        rng.normal(0, 0.5 * expected_gad.sd(s))
                    )
                    answers.update(_symptom_items("gad", 7, gad if not worsening else 0.75 * total, rng))
                    answers["phq_09"] = 2 if (PLANTED.get(code) == "risk-item" and s == last_session) else 0
                    responses.append(
                        Response(
                            **base,
                            kind=Response.Kind.SURVEY,
                            wave=1,
                            session=s,
                            session_date=day,
                            answers=answers,
                            completed_at=now,
                        )
                    )
            n_sessions += len(one)
        Response.objects.bulk_create(responses, batch_size=500)
        credentials = _credentials(users, out)
    return DemoClinic(study, credentials, data["client_id"].nunique(), n_sessions)


def queue_demo_evaluations(study: Study) -> int:
    """Queue the evaluation of every demo client for the worker that ``lacrima serve`` starts (scoring and
    evaluating 40 clients takes the worker under a minute; ``lacrima demo`` stays quick)."""
    from lacrima.web.clinic.tasks import enqueue_evaluation

    ids = list(study.clients.order_by("code").values_list("pk", flat=True))
    for pk in ids:
        enqueue_evaluation(pk, notify=False)
    return len(ids)
