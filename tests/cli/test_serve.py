"""`lacrima serve` and the production settings fail cleanly: SIGTERM stops the server, a weak secret, a
missing setting or an unintended SQLite is refused with one line, and the data directory is private."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lacrima

SRC = str(Path(lacrima.__file__).resolve().parents[1])
GOOD_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LACRIMA_", "DJANGO_", "DATABASE_URL"))}
    env.update(PYTHONPATH=SRC, LACRIMA_DATA_DIR=str(data), **extra)
    return env


def _lacrima(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from lacrima.cli import main; main()", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def _refusal(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("x", "is 1 characters long"),
        ("a" * 60, "only 1 different characters"),
        ("django-insecure-" + "q" * 50, ""),
    ],
)
def test_it_refuses_a_weak_secret_key_in_production(tmp_path: Path, key: str, why: str) -> None:
    env = _env(tmp_path, LACRIMA_ENV="production", LACRIMA_SECRET_KEY=key, LACRIMA_ALLOWED_HOSTS="x.org")
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:5432/unused"
    line = _refusal(_lacrima(["manage", "check"], env))
    assert "LACRIMA_SECRET_KEY is too weak" in line and why in line and key not in line


def test_it_stops_gunicorn_started_directly_with_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, LACRIMA_ENV="production", LACRIMA_SECRET_KEY="x", LACRIMA_ALLOWED_HOSTS="x.org")
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:5432/unused"
    cmd = [sys.executable, "-m", "gunicorn", "lacrima.web.wsgi:application", "--bind", "127.0.0.1:0"]
    done = subprocess.run([*cmd, "--workers", "1"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "error: LACRIMA_SECRET_KEY is too weak" in done.stderr


def test_it_names_a_missing_setting_in_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, LACRIMA_ENV="production", LACRIMA_ALLOWED_HOSTS="x.org")
    assert "LACRIMA_SECRET_KEY is not set" in _refusal(_lacrima(["manage", "check"], env))
    env = _env(tmp_path, LACRIMA_ENV="production", LACRIMA_SECRET_KEY=GOOD_KEY)
    assert "LACRIMA_ALLOWED_HOSTS is not set" in _refusal(_lacrima(["manage", "check"], env))


def test_it_refuses_sqlite_in_production_unless_allowed(tmp_path: Path) -> None:
    env = _env(tmp_path, LACRIMA_ENV="production", LACRIMA_SECRET_KEY=GOOD_KEY, LACRIMA_ALLOWED_HOSTS="x.org")
    line = _refusal(_lacrima(["manage", "check"], env))
    assert "production needs PostgreSQL" in line and "LACRIMA_ALLOW_SQLITE=1" in line
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    assert "production needs PostgreSQL" in _refusal(_lacrima(["manage", "check"], env))
    del env["DATABASE_URL"]
    env["LACRIMA_ALLOW_SQLITE"] = "1"
    result = _lacrima(["manage", "check"], env)
    assert result.returncode == 0, result.stderr


def test_it_refuses_to_serve_with_a_bad_guidance_file(tmp_path: Path) -> None:
    bad = tmp_path / "ours.yaml"
    bad.write_text("id: ours\nversion: '1'\ntitle: Ours\nprompts:\n  - id: p1\n    colour: red\n", "utf-8")
    env = _env(tmp_path / "data", LACRIMA_GUIDANCE_FILES=str(bad))
    result = _lacrima(["serve", "--data", str(tmp_path / "data"), "--no-worker", "--port", "0"], env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "lacrima.E001" in result.stderr and "ours.yaml" in result.stderr
    assert "'colour' was unexpected" in result.stderr and "check_guidance" in result.stderr


def test_it_creates_the_database_and_data_directory_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    result = _lacrima(["manage", "migrate", "--verbosity", "0"], _env(data))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("lacrima.sqlite3", "secret_key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_it_stops_serving_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    cmd = [sys.executable, "-c", "from lacrima.cli import main; main()", "serve", "--port", str(port)]
    cmd += ["--data", str(tmp_path), "--workers", "2", "--threads", "1", "--no-access-log"]
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 120
        while not _accepts(port):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"gunicorn" in cmdline  # `lacrima serve` became gunicorn: the signal reaches its arbiter
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not _accepts(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
