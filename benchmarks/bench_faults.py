"""Fault injection: check-ins while the server is killed with SIGKILL and restarted (not a test).

Run from the repository root::

    python benchmarks/bench_faults.py --quick --out benchmarks/results/faults.json
    python benchmarks/bench_faults.py --postgres postgresql://postgres@127.0.0.1:5432/lacrima_faults

For each database (SQLite in a fresh private data directory with ``LACRIMA_ALLOW_SQLITE=1``, and the
PostgreSQL database named by ``--postgres``, which is WIPED first: its ``public`` schema is dropped and
recreated), it migrates and seeds one check-in study with 200 consented clients
(benchmarks/_checkins_seed.py), starts gunicorn with production settings on a free port of 127.0.0.1
(benchmarks/bench_checkins.py's ``start_server``), and lets 200 simulated participants submit session
check-ins (``POST /api/checkins``) one after another, each with its own idempotency key. Meanwhile the
whole server (arbiter and workers) is killed with SIGKILL at random moments and restarted on the same
port. A participant whose request fails (connection refused or reset, no answer, a 5xx) waits a little
and sends the very same body again, key included, until it gets 201 (stored) or 200 (already stored).

Afterwards the database is read directly: every acknowledged key must be stored exactly once (``lost``
and ``duplicated`` are 0), no (client, session) twice, each stored check-in has exactly one ``submit``
audit event, and each acknowledged answer names the row that holds it. Results go to ``--out`` as JSON
``{"runs": [{"database", "acknowledged", "stored", "lost", "duplicated", "kills", ...}]}``.

``--quick`` (under four minutes on two cores): 4 kills per database. Default: 10. Every connection goes to
127.0.0.1 only.
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
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _checkins_load import Connection, HttpError, Participant  # noqa: E402
from bench_checkins import (  # noqa: E402
    LOOPBACK,
    ServerConfig,
    _children,
    _free_port,
    start_server,
    stop_server,
)

RETRYABLE = {0, 429, 500, 502, 503, 504}


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _drop(conn: Connection) -> None:
    """Forget a connection at once (a timed-out request may have cancelled its orderly close)."""
    if conn.writer is not None:
        conn.writer.transport.abort()
    conn.reader = conn.writer = None


def _seed(env: dict[str, str], clients: int) -> list[dict[str, str]]:
    code = "import json, sys; import _checkins_seed as s; json.dump(s.seed(int(sys.argv[1])), sys.stdout)"
    out = subprocess.run(
        [sys.executable, "-c", code, str(clients)],
        env={**env, "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])},
        check=True,
        capture_output=True,
        text=True,
    )
    return list(json.loads(out.stdout))


def _reset_postgres(url: str) -> None:
    parsed = urlparse(url)
    if (parsed.hostname or "") not in LOOPBACK:
        raise SystemExit(f"--postgres must point at 127.0.0.1 (got {parsed.hostname!r}); this stays local")
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _rows(database: str, target: str) -> tuple[list[tuple[str, int, int, int]], Counter[str]]:
    """(key, client, session, id) of every stored check-in, and submit audit events per response id."""
    responses = (
        "SELECT idempotency_key, client_id, session, id FROM participate_response WHERE kind = 'checkin'"
    )
    audits = (
        "SELECT object_id, count(*) FROM audit_auditevent WHERE action = 'submit' "
        "AND object_type = 'participate.response' GROUP BY object_id"
    )
    if database == "sqlite":
        con = sqlite3.connect(target)
        try:
            rows = con.execute(responses).fetchall()
            events = Counter({str(k): int(n) for k, n in con.execute(audits).fetchall()})
        finally:
            con.close()
    else:
        with psycopg.connect(target) as pg:
            rows = pg.execute(responses).fetchall()
            events = Counter({str(k): int(n) for k, n in pg.execute(audits).fetchall()})
    return [(str(k), int(c), int(s), int(i)) for k, c, s, i in rows], events


class Run:
    """One database's run: the server process, the participants' outcomes, the kills."""

    def __init__(self, cfg: ServerConfig, env: dict[str, str], log: Path, args: argparse.Namespace) -> None:
        self.cfg, self.env, self.log, self.args = cfg, env, log, args
        self.port = _free_port()
        self.rng = random.Random(args.seed)
        self.acked: dict[str, tuple[int, int]] = {}  # key -> (first good status, response id)
        self.sent: set[str] = set()
        self.unexpected: Counter[str] = Counter()
        self.attempts = 0
        self.failed_attempts = 0
        self.kills = 0
        self.restart_s: list[float] = []
        self.stop = asyncio.Event()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = start_server(self.cfg, self.env, self.port, self.log, "lacrima.web.wsgi:application")

    def restart(self) -> None:
        """Start gunicorn again while the participants keep knocking: ready when its workers are up and
        the port accepts connections (an HTTP probe would queue behind 200 retrying participants)."""
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "lacrima.web.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
        ]
        cmd += ["--worker-class", self.cfg.worker_class, "--workers", str(self.cfg.workers)]
        cmd += [
            "--threads",
            str(self.cfg.threads),
            "--backlog",
            "2048",
            "--timeout",
            "30",
            "--log-level",
            "warning",
        ]
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                cmd, env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log}")
            if len(_children(self.proc.pid)) >= self.cfg.workers and _accepts(self.port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not come back within 180 s; see {self.log}")

    async def killer(self) -> None:
        lo, hi = self.args.kill_gap
        while self.kills < self.args.kills:
            # each kill interrupts a server that is answering: wait for a fresh acknowledgement first
            seen, waited = len(self.acked), time.perf_counter()
            while len(self.acked) == seen and time.perf_counter() - waited < 180:
                await asyncio.sleep(0.1)
            await asyncio.sleep(self.rng.uniform(lo, hi))
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            await asyncio.to_thread(self.proc.wait)
            self.kills += 1
            t0 = time.perf_counter()
            await asyncio.to_thread(self.restart)
            self.restart_s.append(time.perf_counter() - t0)
            print(
                f"   kill {self.kills}: back after {self.restart_s[-1]:.1f} s, {len(self.acked)} acked,"
                f" {self.failed_attempts} failed attempts so far",
                flush=True,
            )
        await asyncio.sleep(self.args.tail)
        self.stop.set()

    async def submit(self, conn: Connection, p: Participant, key: str, body: bytes) -> None:
        self.sent.add(key)
        give_up = None
        failures = 0
        while True:
            self.attempts += 1
            try:
                status, payload = await asyncio.wait_for(conn.post("/api/checkins", p.token, body), 10.0)
            except (TimeoutError, HttpError, OSError, asyncio.IncompleteReadError, ValueError):
                _drop(conn)
                status, payload = 0, b""
            if status in (200, 201):
                self.acked[key] = (status, int(json.loads(payload)["id"]))
                return
            if status not in RETRYABLE:
                self.unexpected[f"{status}: {payload[:120].decode(errors='replace')}"] += 1
                return
            self.failed_attempts += 1
            failures += 1
            if self.stop.is_set():
                give_up = give_up or time.perf_counter() + 60.0
                if time.perf_counter() > give_up:
                    return
            # exponential backoff with jitter, as a well-behaved app retries: 0.1 s doubling up to 2 s
            await asyncio.sleep(min(2.0, 0.1 * 2**failures) * self.rng.uniform(0.5, 1.5))

    async def participant(self, p: Participant) -> None:
        conn = Connection(self.port)
        try:
            while not self.stop.is_set() and p.session < 500:
                key, body = p.new_body()
                await self.submit(conn, p, key, body)
                await asyncio.sleep(self.rng.uniform(*self.args.think))
        finally:
            _drop(conn)

    async def drive(self, participants: list[Participant]) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(self.killer(), *(self.participant(p) for p in participants))
        return time.perf_counter() - t0


def run_database(database: str, args: argparse.Namespace, tmp: Path, log: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LACRIMA_", "DJANGO_", "DATABASE_URL"))}
    data = tmp / f"data-{database}"
    env.update(
        LACRIMA_ENV="production",
        LACRIMA_SECRET_KEY=secrets.token_urlsafe(50),
        LACRIMA_ALLOWED_HOSTS="127.0.0.1",
        LACRIMA_SSL_REDIRECT="0",
        LACRIMA_DATA_DIR=str(data),
        DJANGO_SETTINGS_MODULE="lacrima.web.settings",
        # every participant comes from 127.0.0.1: the API's per-address and per-token limits are lifted so
        # that the faults under test are the kills (a 429 would still be retried like a 503)
        LACRIMA_RATE_API_ADDRESS="1000000/60",
        LACRIMA_RATE_API_TOKEN="100000/60",
    )
    if database == "sqlite":
        env["LACRIMA_ALLOW_SQLITE"] = "1"
        target = str(data / "lacrima.sqlite3")
    else:
        _reset_postgres(args.postgres)
        env["DATABASE_URL"] = target = args.postgres
    t0 = time.perf_counter()
    links = _seed(env, args.clients)
    seed_s = time.perf_counter() - t0
    rng = random.Random(args.seed)
    participants = [Participant(x["code"], x["token"], random.Random(rng.getrandbits(64))) for x in links]
    run = Run(ServerConfig.parse(args.server), env, log, args)
    run.start()
    try:
        elapsed = asyncio.run(run.drive(participants))
    finally:
        if run.proc is not None:
            stop_server(run.proc)
    rows, events = _rows(database, target)
    keys = [r[0] for r in rows]
    stored = set(keys)
    by_key = {r[0]: r[3] for r in rows}
    ids = {str(r[3]) for r in rows}
    acked = set(run.acked)
    return {
        "database": database,
        "acknowledged": len(acked),
        "stored": len(rows),
        "lost": len(acked - stored),
        "duplicated": (len(keys) - len(stored)) + (len(rows) - len({(r[1], r[2]) for r in rows})),
        "kills": run.kills,
        "sent": len(run.sent),
        "stored_not_acknowledged": len(stored - acked),
        "sent_not_acknowledged": len(run.sent - acked),
        "acknowledged_with_wrong_id": sum(1 for k, (_, i) in run.acked.items() if by_key.get(k) != i),
        "first_answer_201": sum(1 for s, _ in run.acked.values() if s == 201),
        "first_answer_200_replay": sum(1 for s, _ in run.acked.values() if s == 200),
        "audit_events": sum(events.values()),
        "rows_without_audit_event": sum(1 for i in ids if events[i] == 0),
        "rows_with_several_audit_events": sum(1 for i in ids if events[i] > 1),
        "audit_events_without_row": sum(1 for i in events if i not in ids),
        "attempts": run.attempts,
        "failed_attempts": run.failed_attempts,
        "unexpected_answers": dict(run.unexpected),
        "restart_s": [round(x, 2) for x in run.restart_s],
        "load_s": round(elapsed, 1),
        "seed_s": round(seed_s, 1),
        "server": args.server,
        "participants": len(participants),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 kills per database (under four minutes)")
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs per database (default 10; 4 quick)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument(
        "--server", default="sync:3", help="gunicorn configuration, e.g. sync:3 or gthread:2x4"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LACRIMA_FAULTS_POSTGRES", "postgresql://postgres@127.0.0.1:5432/lacrima_faults"
        ),
        help="PostgreSQL database to use; it is WIPED (public schema dropped) first",
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "faults.json")
    args = parser.parse_args()
    args.kills = args.kills if args.kills is not None else (4 if args.quick else 10)
    args.kill_gap = (1.0, 5.0) if args.quick else (1.0, 8.0)  # seconds of service between kills
    args.think = (0.2, 1.0)  # a participant's pause between two check-ins
    args.tail = 2.0  # seconds of undisturbed load after the last restart
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    runs = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lacrima-faults-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "server.log"
        for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
            print(f"== {database}: {args.clients} participants, {args.kills} SIGKILLs", flush=True)
            run = run_database(database, args, tmp, log)
            runs.append(run)
            print(
                f"   acknowledged {run['acknowledged']}, stored {run['stored']}, lost {run['lost']}, "
                f"duplicated {run['duplicated']}, kills {run['kills']}, audit rows missing "
                f"{run['rows_without_audit_event']}, unexpected answers {run['unexpected_answers']}",
                flush=True,
            )
    import django
    import gunicorn

    report = {
        "benchmark": "check-ins while gunicorn is killed with SIGKILL and restarted, 127.0.0.1",
        "command": "python " + " ".join([str(Path(sys.argv[0])), *sys.argv[1:]]),
        "goal": {"lost": 0, "duplicated": 0, "rows_without_audit_event": 0},
        "total_s": round(time.perf_counter() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "gunicorn": gunicorn.__version__,
        },
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"(written to {args.out}; {report['total_s']} s)")
    bad = [r["database"] for r in runs if r["lost"] or r["duplicated"] or r["rows_without_audit_event"]]
    if bad:
        raise SystemExit(f"check-ins lost, duplicated or unaudited on: {', '.join(bad)}")


if __name__ == "__main__":
    main()
