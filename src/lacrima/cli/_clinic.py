"""The clinic's commands: ``lacrima worker`` (background tasks) and the demo clinic ``lacrima demo`` seeds.

``lacrima serve`` starts a worker beside the web server in development (:func:`start_dev_worker`); in
production run one or more ``lacrima worker`` processes on any machine that reaches the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def _exit_with_parent(parent: int) -> None:
    """End this process when the process that started it is gone (the development server stopped)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def worker(
    data: Annotated[
        Path | None, typer.Option(help="Data directory (SQLite, secret key), as for serve.")
    ] = None,
    batch: Annotated[bool, typer.Option(help="Run the queued tasks, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls of an empty queue.")] = 1.0,
    reminders: Annotated[
        bool,
        typer.Option(
            help="Queue the check for missed check-ins and due expected-recovery refits when the worker "
            "starts, and again every --reminder-hours while it runs."
        ),
    ] = True,
    sweep: Annotated[
        float,
        typer.Option(help="Seconds between looks for clients with new check-ins to evaluate (0: never)."),
    ] = 5.0,
    reminder_hours: Annotated[float, typer.Option(help="Hours between the worker's reminder checks.")] = 24.0,
    exit_with_parent: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run background tasks (alerts, reminders, expected-recovery refits, battery reports) from the database
    queue. Several workers on several machines may share one PostgreSQL database."""
    from lacrima.cli._app import _django_setup

    if exit_with_parent is not None:
        _exit_with_parent(exit_with_parent)
    _django_setup(data)
    from django.core.management import call_command

    from lacrima.web.clinic.tasks import queue_reminders, queue_stale_evaluations

    if reminders:
        queue_reminders()
        if not batch:
            start_periodic(reminder_hours * 3600.0, queue_reminders, name="reminders")
    if sweep > 0:  # check-ins queue no task: look for clients with new answers
        queue_stale_evaluations()
        if not batch:
            start_periodic(sweep, queue_stale_evaluations, name="evaluation sweep")
    call_command("db_worker", batch=batch, interval=interval, startup_delay=False, reload=False)


def start_periodic(
    seconds: float, job: Callable[[], object], *, name: str, stop: threading.Event | None = None
) -> threading.Thread:
    """Run ``job`` every ``seconds`` in a daemon thread of this worker (the daily reminder check: the
    database queue has no scheduler of its own) until ``stop`` is set. A failing run is logged and the
    next one still runs."""
    import logging

    from django.db import connections

    log = logging.getLogger("lacrima.clinic")

    stopped = stop or threading.Event()

    def loop() -> None:
        while not stopped.wait(seconds):
            try:
                job()
            except Exception:
                log.exception("the periodic %s check failed; it runs again in %.0f s", name, seconds)
            finally:
                connections.close_all()

    thread = threading.Thread(target=loop, daemon=True, name=f"periodic-{name}")
    thread.start()
    return thread


def start_dev_worker(data: Path | None) -> subprocess.Popen[bytes]:
    """A worker as a child process of the development server; it ends when the server ends."""
    cmd = [sys.executable, "-m", "lacrima.cli", "worker", "--exit-with-parent", str(os.getpid())]
    if data is not None:
        cmd += ["--data", str(data)]
    return subprocess.Popen(cmd, env=os.environ.copy())


def seed_demo(out: Path, seed: int) -> tuple[Path, int, int]:
    """Migrate ``out/lacrima.sqlite3``, seed the demo clinic into it and queue its evaluation for the worker
    of ``lacrima serve``; returns (credentials, clients, sessions)."""
    from lacrima.cli._app import _django_setup

    _django_setup(out)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from lacrima.web.clinic.demo import queue_demo_evaluations, seed_demo_clinic

    clinic = seed_demo_clinic(out, seed=seed)
    queue_demo_evaluations(clinic.study)
    return clinic.credentials, clinic.clients, clinic.sessions


def register(app: typer.Typer) -> None:
    app.command()(worker)
