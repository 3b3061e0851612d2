"""Load generator for ``bench_checkins.py``: simulated participants submitting session check-ins.

A small HTTP/1.1 client on asyncio streams (keep-alive where the server allows it, a fresh connection
where it answers ``Connection: close``), so the benchmark needs nothing beyond the standard library and
spends little of the machine's two cores on the client side. It only ever connects to 127.0.0.1.

Each participant owns one client's check-in token and submits successive sessions with a new
idempotency key each time. A share of its submissions are deliberate retries of a key it already sent
(expected: 200, ``created: false``), and a smaller share are racing duplicates: the same new submission
sent twice at once on two connections (expected: one 201 and one 200).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"


class HttpError(Exception):
    """The connection failed or the server's answer was not valid HTTP/1.1."""


class Connection:
    """One HTTP/1.1 connection to 127.0.0.1 that reconnects when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connects = 0

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.connects += 1

    async def post(self, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body; retry once on a fresh connection if a reused one turned out to be closed.

        Retrying a POST is only safe because every check-in carries an idempotency key; the database
        check at the end of the benchmark counts what was stored, so a retry cannot hide a lost write.
        """
        reused = self.writer is not None
        try:
            return await self._post_once(path, token, body)
        except (HttpError, OSError, asyncio.IncompleteReadError):
            await self.close()
            if not reused:
                raise
        return await self._post_once(path, token, body)

    async def _post_once(self, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        if self.reader is None or self.writer is None:
            raise HttpError("no connection")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode("ascii") + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise HttpError("the server closed the connection before answering")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP status line: {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            payload = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            payload = await self._read_chunked()
        else:
            payload = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close" or parts[0] == b"HTTP/1.0":
            await self.close()
        return status, payload

    async def _read_chunked(self) -> bytes:
        if self.reader is None:
            raise HttpError("no connection")
        chunks: list[bytes] = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readline()


@dataclass
class Sample:
    """One request: what was sent (``new``, ``retry`` or ``race``), its key, status and latency."""

    kind: str
    key: str
    status: int  # 0 when no HTTP answer arrived (connection error or timeout)
    latency: float  # seconds, from the scheduled send time (paced) or the actual send time (saturation)
    error: str = ""


@dataclass
class Participant:
    """A client with a check-in link, submitting one session after another."""

    code: str
    token: str
    rng: random.Random
    session: int = 0
    sent: list[bytes] = field(default_factory=list)

    def new_body(self) -> tuple[str, bytes]:
        self.session += 1
        key = f"{self.code}-s{self.session:03d}-{self.rng.getrandbits(64):016x}"
        cried = self.rng.random() < 0.25
        answers: dict[str, Any] = {"cried": int(cried)}
        if cried:
            # session_checkin 1.1: items 2-6 and 10-11 are asked only after crying.
            answers.update({f"chk_{n:02d}": self.rng.randint(1, 7) for n in (2, 3, 4, 5, 6, 10, 11)})
        answers.update({f"chk_{n:02d}": self.rng.randint(1, 7) for n in range(7, 10)})
        body = json.dumps({"session": self.session, "idempotency_key": key, "answers": answers}).encode()
        self.sent.append(body)
        return key, body


def key_of(body: bytes) -> str:
    return str(json.loads(body)["idempotency_key"])


@dataclass
class PhaseResult:
    samples: list[Sample]
    elapsed: float
    connects: int
    late_starts: int


async def run_phase(
    port: int,
    participants: list[Participant],
    *,
    requests: int,
    time_limit: float,
    rate: float | None,
    retry_share: float,
    race_share: float,
    timeout: float,
    seed: int,
) -> PhaseResult:
    """Drive the server with every participant at once until ``requests`` are sent or time is up.

    ``rate=None`` is a closed loop (each participant sends again as soon as it has an answer: the
    server's capacity). With a rate, send slot ``i`` is due at ``start + i / rate`` (an open schedule),
    and latency is measured from the due time, so a server that falls behind shows it in the
    percentiles instead of silently slowing the senders down.
    """
    samples: list[Sample] = []
    next_slot = 0
    late = 0
    rng = random.Random(seed)
    conns = [Connection(port) for _ in participants]
    extra_connects = 0
    start = time.perf_counter()
    deadline = start + time_limit

    async def timed(conn: Connection, p: Participant, kind: str, body: bytes, t0: float) -> Sample:
        key = key_of(body)
        try:
            status, _ = await asyncio.wait_for(conn.post("/api/checkins", p.token, body), timeout)
            return Sample(kind, key, status, time.perf_counter() - t0)
        except (TimeoutError, HttpError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await conn.close()
            return Sample(kind, key, 0, time.perf_counter() - t0, type(exc).__name__)

    async def participant(p: Participant, conn: Connection) -> None:
        nonlocal next_slot, late, extra_connects
        while True:
            slot = next_slot
            if slot >= requests or time.perf_counter() >= deadline:
                return
            next_slot += 1
            due = start + slot / rate if rate else time.perf_counter()
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            elif rate and wait < -0.01:
                late += 1
            t0 = due if rate else time.perf_counter()
            roll = rng.random()
            if p.sent and roll < retry_share:
                samples.append(await timed(conn, p, "retry", rng.choice(p.sent), t0))
            elif roll < retry_share + race_share:
                _, body = p.new_body()
                twin = Connection(port)
                pair = await asyncio.gather(
                    timed(conn, p, "race", body, t0), timed(twin, p, "race", body, t0)
                )
                extra_connects += twin.connects
                await twin.close()
                samples.extend(pair)
            else:
                _, body = p.new_body()
                samples.append(await timed(conn, p, "new", body, t0))

    await asyncio.gather(*(participant(p, c) for p, c in zip(participants, conns, strict=True)))
    elapsed = time.perf_counter() - start
    connects = sum(c.connects for c in conns) + extra_connects
    await asyncio.gather(*(c.close() for c in conns))
    return PhaseResult(samples, elapsed, connects, late)
