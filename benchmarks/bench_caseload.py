"""Caseload benchmark: a therapist with 40 clients x 30 sessions opens the caseload (not a test).

Run from the repository root::

    python benchmarks/bench_caseload.py                     # SQLite and PostgreSQL, 60 page loads each
    python benchmarks/bench_caseload.py --databases sqlite --requests 20      # quick

For each database it seeds (in a child process, so that each gets its own Django settings) one therapist
with 40 clients of exactly 30 check-ins each, plus intake surveys and PHQ-9/GAD-7 every fourth session
(the demo clinic's seeding, ``lacrima.web.clinic.demo``), then evaluates every client once as the task
queue does after each check-in (``refresh_client``: scores from ``lc.score`` through the feedback library,
alerts stored by key, the caseload's row stored). It then times ``GET /clinic/`` through Django's test
client (the whole view: access check, queries, template, SVG sparklines) ``--requests`` times after 3
warm-up loads, and the client page of the most urgent client 10 times.

Wall time and the benchmark process's CPU time are both reported: on a machine shared with other work
the wall time includes waiting for a core (the load average before and after is recorded); the CPU time
is what the page itself costs (on PostgreSQL without the server's share).

The reference, measured in the same run: what one caseload load would cost if the view evaluated every
client itself instead of reading the stored rows (the sum of the 40 evaluations).

PostgreSQL: ``DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/wt_clinic``); the benchmark
empties that database's public schema first, so point it at a database you own. Results go to
benchmarks/results/caseload.json. Design goal (DESIGN.md): under 300 ms at p95.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "caseload.json"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/wt_clinic"


def _child(database: str, requests: int, out: Path) -> None:
    tmp = tempfile.mkdtemp(prefix="lacrima-bench-caseload-")
    os.environ["LACRIMA_DATA_DIR"] = tmp
    os.environ["DJANGO_SETTINGS_MODULE"] = "lacrima.web.settings"
    if database == "postgres":
        import psycopg

        url = os.environ.get("DATABASE_URL", DEFAULT_PG)
        os.environ["DATABASE_URL"] = url
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("DROP SCHEMA public CASCADE")
            con.execute("CREATE SCHEMA public")
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client as HttpClient

    call_command("migrate", interactive=False, verbosity=0)
    from lacrima.web.clinic.demo import seed_demo_clinic
    from lacrima.web.clinic.evaluate import refresh_client
    from lacrima.web.clinic.models import ClientSummary

    t0 = time.perf_counter()
    clinic = seed_demo_clinic(Path(tmp), seed=11, n_clients=40, n_therapists=1, sessions=(30, 30))
    seed_s = time.perf_counter() - t0
    clients = list(clinic.study.clients.select_related("study", "therapist").order_by("code"))
    evaluations = []
    for client in clients:
        t = time.perf_counter()
        refresh_client(client, notify=False)
        evaluations.append(time.perf_counter() - t)
    therapist = clients[0].therapist
    http = HttpClient()
    http.force_login(therapist)
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=therapist, name="bench", confirmed=True)
    session = http.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # as after a sign-in with the second factor
    session.save()

    cpu: list[float] = []

    def load(url: str) -> float:
        c, t = time.process_time(), time.perf_counter()
        r = http.get(url)
        elapsed = time.perf_counter() - t
        cpu.append((time.process_time() - c) * 1000.0)
        if r.status_code != 200:
            raise SystemExit(f"{url} answered {r.status_code}")
        return elapsed * 1000.0

    html = http.get("/clinic/").content.decode()
    rows = html.count("<tr data-client=")
    if rows != 40:
        raise SystemExit(f"the caseload shows {rows} clients, not 40")
    for _ in range(3):
        load("/clinic/")
    cpu.clear()
    caseload_ms = [load("/clinic/") for _ in range(requests)]
    caseload_cpu = list(cpu)
    top = ClientSummary.objects.order_by("-urgency").select_related("client").first()
    client_url = f"/clinic/{clinic.study.slug}/clients/{top.client.code}/"
    load(client_url)
    client_ms = [load(client_url) for _ in range(10)]
    result = {
        "database": database,
        "clients": len(clients),
        "sessions_per_client": 30,
        "requests": requests,
        "seed_seconds": seed_s,
        "caseload_ms": {
            "p50": float(np.percentile(caseload_ms, 50)),
            "p95": float(np.percentile(caseload_ms, 95)),
            "max": float(np.max(caseload_ms)),
        },
        "caseload_cpu_ms": {
            "p50": float(np.percentile(caseload_cpu, 50)),
            "p95": float(np.percentile(caseload_cpu, 95)),
        },
        "client_page_ms": {
            "p50": float(np.percentile(client_ms, 50)),
            "p95": float(np.percentile(client_ms, 95)),
        },
        "reference_evaluate_all_in_request_ms": float(np.sum(evaluations) * 1000.0),
        "evaluation_per_client_ms": {
            "median": float(np.median(evaluations) * 1000.0),
            "max": float(np.max(evaluations) * 1000.0),
        },
    }
    out.write_text(json.dumps(result, indent=2))
    if database == "postgres":
        from django.db import connection

        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.requests, Path(args.out))
        return
    load_before = os.getloadavg()
    results = []
    for database in args.databases.split(","):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
            path = Path(fh.name)
        cmd = [
            sys.executable,
            __file__,
            "--child",
            database,
            "--requests",
            str(args.requests),
            "--out",
            str(path),
        ]
        subprocess.run(cmd, check=True, env=os.environ.copy())
        results.append(json.loads(path.read_text()))
        path.unlink()
    report = {
        "benchmark": "therapist caseload, GET /clinic/ (40 clients x 30 sessions), Django test client",
        "command": f"python benchmarks/bench_caseload.py --databases {args.databases} "
        f"--requests {args.requests}",
        "goal": {"p95_ms": 300.0},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": list(load_before),
            "loadavg_after": list(os.getloadavg()),
        },
        "results": results,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{'database':10} {'p50 ms':>8} {'p95 ms':>8} {'p95 cpu':>8} {'client p95':>11} {'uncached ms':>12} "
        f"{'ratio':>7}"
    )
    for r in results:
        c = r["caseload_ms"]
        ref = r["reference_evaluate_all_in_request_ms"]
        print(
            f"{r['database']:10} {c['p50']:8.1f} {c['p95']:8.1f} {r['caseload_cpu_ms']['p95']:8.1f} "
            f"{r['client_page_ms']['p95']:11.1f} "
            f"{ref:12.0f} {ref / c['p95']:7.0f}x"
        )


if __name__ == "__main__":
    main()
