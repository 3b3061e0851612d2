"""Check-in load benchmark: the production server (gunicorn) against PostgreSQL (not a test).

Run from the repository root, with a PostgreSQL server on 127.0.0.1:5432 that trusts local connections::

    python benchmarks/bench_checkins.py          # 3 server configurations, 20,000 requests each
    python benchmarks/bench_checkins.py --configs sync:4 --requests 4000      # quick

What it does: creates a dedicated database (``lacrima_bench``; dropped at the end, also on failure),
migrates it and seeds one check-in study (instrument ``session_checkin``) with 200 consented clients and
their check-in links (benchmarks/_checkins_seed.py). Then, for each server configuration, it starts
``python -m gunicorn lacrima.web.wsgi:application`` on 127.0.0.1 with production settings
(``LACRIMA_ENV=production``, a fresh secret key, ``LACRIMA_ALLOWED_HOSTS=127.0.0.1``,
``LACRIMA_SSL_REDIRECT=0``, ``DATABASE_URL``) and drives ``POST /api/checkins`` with 200 simulated
participants at once (benchmarks/_checkins_load.py) in two bounded phases:

- ``saturation``: a closed loop, each participant submitting again as soon as it has an answer: the
  server's capacity in submissions/s (latency here is mostly queueing behind 200 concurrent senders);
- ``paced``: an open schedule at ``--rate`` submissions/s (the design goal, 300/s), latency measured
  from each request's due time: the latency a clinic sees at that load.

About 5% of the requests re-send a key the participant already sent (expected 200, ``created: false``)
and 1% are racing duplicates (the same new submission twice at once: one 201, one 200). After each
configuration the database is counted: every idempotency key that got a 201 or 200 must be stored
exactly once, no key twice, no (client, session) twice, one 201 per stored row, and one audit event per
stored row. Results go to benchmarks/results/checkins.json and a short table is printed.

Design goal (DESIGN.md): at least 300 submissions/s on 2 cores, p99 under 250 ms, none lost or duplicated.
Every connection goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _checkins_load import HOST, Participant, PhaseResult, run_phase  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
GOAL = {"throughput_per_s": 300.0, "p99_ms": 250.0}


@dataclass(frozen=True)
class ServerConfig:
    """A gunicorn setup: ``sync:4`` (4 sync workers) or ``gthread:2x8`` (2 workers with 8 threads)."""

    worker_class: str
    workers: int
    threads: int

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        kind, _, size = text.partition(":")
        if kind == "sync" and size.isdigit():
            return cls("sync", int(size), 1)
        if kind == "gthread" and "x" in size:
            w, t = size.split("x", 1)
            if w.isdigit() and t.isdigit():
                return cls("gthread", int(w), int(t))
        raise SystemExit(f"server configuration {text!r} not understood; use e.g. sync:4 or gthread:2x8")

    @property
    def name(self) -> str:
        return (
            f"sync:{self.workers}"
            if self.worker_class == "sync"
            else f"gthread:{self.workers}x{self.threads}"
        )


def _loopback_url(url: str) -> str:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(
            f"--postgres must point at 127.0.0.1 (got host {host!r}); this benchmark stays local"
        )
    return url


def _with_db(url: str, name: str) -> str:
    return urlparse(url)._replace(path=f"/{name}").geturl()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- CPU accounting (Linux /proc)

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICK, sum(values) / _TICK


class CpuMeter:
    """CPU seconds used by the server (gunicorn master and workers), PostgreSQL and this process.

    Polls /proc twice a second, so that database backends that Django replaces during a phase (it
    reconnects after ``CONN_MAX_AGE``) are still counted up to their last sample. PostgreSQL is every
    ``postgres`` process on the machine, this benchmark's backends and any others.
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.seen: dict[tuple[str, int], list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, first: bool) -> None:
        groups = [("server", p) for p in [self.server_pid, *_children(self.server_pid)]]
        groups += [("postgres", p) for p in _postgres_pids()]
        for key in groups:
            cpu = _proc_cpu(key[1])
            if key in self.seen:
                self.seen[key][1] = max(self.seen[key][1], cpu)
            else:
                self.seen[key] = [cpu if first else 0.0, cpu]

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample(first=False)

    def __enter__(self) -> CpuMeter:
        self._busy0 = _machine_busy()
        self._client0 = sum(os.times()[:2])
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(first=False)
        self._busy1 = _machine_busy()
        self._client1 = sum(os.times()[:2])

    def summary(self, requests: int) -> dict[str, float]:
        used = {"server": 0.0, "postgres": 0.0}
        for (group, _), (first, last) in self.seen.items():
            used[group] += last - first
        busy = self._busy1[0] - self._busy0[0]
        total = self._busy1[1] - self._busy0[1]
        out = {
            "server_cpu_s": used["server"],
            "postgres_cpu_s": used["postgres"],
            "client_cpu_s": self._client1 - self._client0,
            "machine_busy_fraction": busy / max(total, 1e-9),
            "machine_busy_cpu_s": busy,
            "wall_s": total / (os.cpu_count() or 1),
        }
        out["other_processes_cpu_s"] = (
            busy - out["server_cpu_s"] - out["postgres_cpu_s"] - out["client_cpu_s"]
        )
        for name in ("server", "postgres", "client"):
            out[f"{name}_cpu_ms_per_request"] = 1000 * out[f"{name}_cpu_s"] / max(requests, 1)
        return out


# ---------------------------------------------------------------- database


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(env: dict[str, str], clients: int) -> list[dict[str, str]]:
    out = subprocess.run(
        [sys.executable, str(HERE / "_checkins_seed.py"), str(clients)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return list(json.loads(out.stdout))


def count_database(db_url: str, outcomes: dict[str, set[int]], created: Counter[str]) -> dict[str, Any]:
    """Compare what the server answered with what the database holds."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, client_id, session FROM participate_response WHERE kind = 'checkin'"
        ).fetchall()
        audits = conn.execute(
            "SELECT count(*) FROM audit_auditevent WHERE action = 'submit' "
            "AND object_type = 'participate.response'"
        ).fetchone()
    stored = [r[0] for r in rows]
    stored_set = set(stored)
    confirmed = {k for k, st in outcomes.items() if st & {200, 201}}
    unconfirmed = {k for k, st in outcomes.items() if not st & {200, 201}}
    return {
        "rows": len(rows),
        "distinct_keys_sent": len(outcomes),
        "keys_confirmed": len(confirmed),
        "keys_stored": len(stored_set),
        "duplicated_keys": len(stored) - len(stored_set),
        "duplicated_client_sessions": len(rows) - len({(r[1], r[2]) for r in rows}),
        "lost": len(confirmed - stored_set),
        "stored_but_never_sent": len(stored_set - set(outcomes)),
        "keys_created_more_than_once": sum(1 for n in created.values() if n > 1),
        "responses_201": sum(created.values()),
        "rows_without_a_201": len(stored_set - set(created)),
        "unconfirmed_keys": len(unconfirmed),
        "unconfirmed_keys_stored": len(unconfirmed & stored_set),
        "audit_submit_events": int(audits[0]) if audits else 0,
    }


# ---------------------------------------------------------------- server


def start_server(
    cfg: ServerConfig, env: dict[str, str], port: int, log: Path, app: str
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"{HOST}:{port}",
        "--worker-class",
        cfg.worker_class,
        "--workers",
        str(cfg.workers),
        "--threads",
        str(cfg.threads),
        "--keep-alive",
        "5",
        "--backlog",
        "2048",
        "--timeout",
        "30",
        "--log-level",
        "warning",
    ]
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/api/openapi.json", timeout=2) as r:
                if r.status == 200 and len(_children(proc.pid)) >= cfg.workers:
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError(f"gunicorn did not answer within 60 s; see {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn we started (its own process group), gracefully, then by force."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def start_profiler(pid: int, folder: Path | None, name: str) -> subprocess.Popen[bytes] | None:
    """Sample the server's workers with py-spy (if asked for and installed) into collapsed stacks."""
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name.replace(':', '-')}.txt"
    cmd = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--rate", "250", "--format", "raw"]
    cmd += ["--nonblocking", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait(timeout=10)


# ---------------------------------------------------------------- summaries


def summarise(phase: PhaseResult) -> dict[str, Any]:
    samples = phase.samples
    statuses = Counter(s.status for s in samples)
    ok = [s for s in samples if s.status in (200, 201)]
    answered = np.array([s.latency for s in samples if s.status != 0]) * 1000
    expected = sum(
        1
        for s in samples
        if (s.kind == "new" and s.status == 201)
        or (s.kind == "retry" and s.status == 200)
        or (s.kind == "race" and s.status in (200, 201))
    )
    pct = {f"p{q}_ms": float(np.percentile(answered, q)) if answered.size else None for q in (50, 95, 99)}
    return {
        "requests": len(samples),
        "by_kind": dict(Counter(s.kind for s in samples)),
        "by_status": {str(k): v for k, v in sorted(statuses.items())},
        "transport_errors": dict(Counter(s.error for s in samples if s.status == 0)),
        "unexpected_status": len(samples) - expected,
        "elapsed_s": phase.elapsed,
        "throughput_per_s": len(ok) / phase.elapsed if phase.elapsed else 0.0,
        "requests_per_s": len(samples) / phase.elapsed if phase.elapsed else 0.0,
        **pct,
        "max_ms": float(answered.max()) if answered.size else None,
        "mean_ms": float(answered.mean()) if answered.size else None,
        "tcp_connects": phase.connects,
        "late_starts": phase.late_starts,
    }


def run_config(
    cfg: ServerConfig,
    env: dict[str, str],
    participants: list[Participant],
    args: argparse.Namespace,
    db_url: str,
    outcomes: dict[str, set[int]],
    created: Counter[str],
    log: Path,
    seed: int,
) -> dict[str, Any]:
    port = _free_port()
    proc = start_server(cfg, env, port, log, args.app)
    result: dict[str, Any] = {"config": cfg.name, "worker_class": cfg.worker_class, "workers": cfg.workers}
    result["threads"] = cfg.threads
    try:
        phases: dict[str, Any] = {}
        plan = [
            ("warmup", min(400, args.requests), None),
            ("saturation", args.requests // 2, None),
            ("paced", args.requests - args.requests // 2, args.rate),
        ]
        for i, (name, n, rate) in enumerate(plan):
            spy = (
                start_profiler(proc.pid, args.profile, f"{cfg.name}-{name}") if name == "saturation" else None
            )
            with CpuMeter(proc.pid) as meter:
                phase = asyncio.run(
                    run_phase(
                        port,
                        participants,
                        requests=n,
                        time_limit=args.time_limit,
                        rate=rate,
                        retry_share=args.retry_share,
                        race_share=args.race_share,
                        timeout=args.timeout,
                        seed=seed * 10 + i,
                    )
                )
            if spy is not None:
                stop_profiler(spy)
            for s in phase.samples:
                outcomes.setdefault(s.key, set()).add(s.status)
                if s.status == 201:
                    created[s.key] += 1
            if name != "warmup":
                phases[name] = {**summarise(phase), "cpu": meter.summary(len(phase.samples))}
                if rate:
                    phases[name]["target_rate_per_s"] = rate
        result["phases"] = phases
    finally:
        stop_server(proc)
    result["database"] = count_database(db_url, outcomes, created)
    return result


def verdict(cfg_result: dict[str, Any]) -> dict[str, bool]:
    sat = cfg_result["phases"]["saturation"]
    paced = cfg_result["phases"]["paced"]
    db = cfg_result["database"]
    return {
        "throughput_ok": sat["throughput_per_s"] >= GOAL["throughput_per_s"]
        and paced["throughput_per_s"] >= 0.97 * GOAL["throughput_per_s"],
        "p99_ok": paced["p99_ms"] is not None and paced["p99_ms"] < GOAL["p99_ms"],
        "integrity_ok": db["lost"] == 0
        and db["duplicated_keys"] == 0
        and db["duplicated_client_sessions"] == 0
        and db["keys_created_more_than_once"] == 0
        and db["rows_without_a_201"] == 0
        and db["audit_submit_events"] == db["rows"],
    }


def print_table(results: list[dict[str, Any]]) -> None:
    head = f"{'config':<14}{'phase':<12}{'subm/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    head += f"{'errors':>8}{'lost':>6}{'dup':>5}  verdict"
    print(head)
    print("-" * len(head))
    for r in results:
        db = r["database"]
        v = r["verdict"]
        for name, ph in r["phases"].items():
            errs = ph["requests"] - ph["by_status"].get("200", 0) - ph["by_status"].get("201", 0)
            ok = (
                "PASS"
                if all(v.values())
                else "miss: " + ",".join(k[:-3] for k, good in v.items() if not good)
            )
            print(
                f"{r['config']:<14}{name:<12}{ph['throughput_per_s']:>8.0f}{ph['p50_ms']:>9.1f}"
                f"{ph['p95_ms']:>9.1f}{ph['p99_ms']:>9.1f}{errs:>8}{db['lost']:>6}{db['duplicated_keys']:>5}"
                f"  {ok if name == 'paced' else ''}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="maintenance database on 127.0.0.1 (used to create and drop the benchmark one)",
    )
    parser.add_argument("--database", default="lacrima_bench")
    parser.add_argument("--configs", default="gthread:3x4,gthread:2x8,sync:3")
    parser.add_argument("--clients", type=int, default=200, help="simulated participants, all at once")
    parser.add_argument("--requests", type=int, default=20_000, help="per configuration (half per phase)")
    parser.add_argument("--rate", type=float, default=300.0, help="paced phase: submissions/s")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per phase, at most")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retry-share", type=float, default=0.05)
    parser.add_argument("--race-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--app",
        default="lacrima.web.wsgi:application",
        help="WSGI application for gunicorn (to measure a candidate change side by side)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="folder for py-spy samples of the server during the saturation phase",
    )
    parser.add_argument(
        "--rate-limits",
        default="1000000/60,100000/60",
        help="the API's rate limits per address and per token (COUNT/SECONDS) for the server: all simulated "
        "participants share 127.0.0.1 and each sends ~100 check-ins a minute, so the defaults of a real "
        "server (300/60 and 30/60) would refuse them; the counters are still kept for every request",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "checkins.json")
    args = parser.parse_args()

    admin_url = _loopback_url(args.postgres)
    db_url = _with_db(admin_url, args.database)
    configs = [ServerConfig.parse(c.strip()) for c in args.configs.split(",") if c.strip()]
    per_client = len(configs) * (args.requests + 400) * (1 + args.race_share) / args.clients
    if per_client > 480:
        raise SystemExit(
            f"about {per_client:.0f} sessions per client; the API takes sessions 1-500: "
            "raise --clients or lower --requests"
        )

    tmp = Path(tempfile.mkdtemp(prefix="lacrima-bench-"))
    log = tmp / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LACRIMA_", "DJANGO_", "DATABASE_URL"))}
    env.update(
        LACRIMA_ENV="production",
        LACRIMA_SECRET_KEY=secrets.token_urlsafe(50),
        LACRIMA_ALLOWED_HOSTS=HOST,
        LACRIMA_SSL_REDIRECT="0",
        LACRIMA_DATA_DIR=str(tmp / "data"),
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="lacrima.web.settings",
    )
    per_address, _, per_token = args.rate_limits.partition(",")
    env.update(LACRIMA_RATE_API_ADDRESS=per_address, LACRIMA_RATE_API_TOKEN=per_token)
    results: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    # A plain `kill` should still stop the server and drop the database (the finally blocks below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    create_database(admin_url, args.database)
    try:
        t0 = time.perf_counter()
        links = seed(env, args.clients)
        seed_s = time.perf_counter() - t0
        rng = random.Random(args.seed)
        participants = [
            Participant(link["code"], link["token"], random.Random(rng.getrandbits(64))) for link in links
        ]
        outcomes: dict[str, set[int]] = {}
        created: Counter[str] = Counter()
        for i, cfg in enumerate(configs):
            print(f"== {cfg.name}: {args.requests} requests from {args.clients} participants", flush=True)
            r = run_config(cfg, env, participants, args, db_url, outcomes, created, log, args.seed + i)
            r["verdict"] = verdict(r)
            results.append(r)
        with psycopg.connect(admin_url) as conn:
            pg_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    finally:
        drop_database(admin_url, args.database)
    import django
    import gunicorn

    report = {
        "benchmark": "check-in submissions, POST /api/checkins, gunicorn + PostgreSQL on 127.0.0.1",
        "command": "python " + " ".join([str(Path(sys.argv[0])), *sys.argv[1:]]),
        "goal": GOAL | {"lost": 0, "duplicated": 0},
        "setup": {
            "app": args.app,
            "clients": args.clients,
            "requests_per_config": args.requests,
            "warmup_requests_per_config": min(400, args.requests),
            "paced_rate_per_s": args.rate,
            "retry_share": args.retry_share,
            "race_share": args.race_share,
            "seed": args.seed,
            "seed_seconds": seed_s,
            "api_rate_limits": {"per_address": per_address, "per_token": per_token},
            "load_client": "asyncio HTTP/1.1 client in benchmarks/_checkins_load.py (standard library)",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "gunicorn": gunicorn.__version__,
            "postgresql": pg_version,
        },
        "configs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results)
    print(f"(written to {args.out}; server log {log})")


if __name__ == "__main__":
    main()
