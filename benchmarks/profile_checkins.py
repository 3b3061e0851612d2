"""Where a check-in's time goes: N check-ins through Django's test client against PostgreSQL (not a test).

Run from the repository root with a PostgreSQL server on 127.0.0.1:5432 (trust)::

    createdb -h 127.0.0.1 -U postgres prof_checkins
    python benchmarks/profile_checkins.py --database prof_checkins            # CPU ms per check-in
    python benchmarks/profile_checkins.py --database prof_checkins --profile  # plus cProfile (CPU clock)

Seeds the database as bench_checkins.py does (benchmarks/_checkins_seed.py), warms up, then posts
``--requests`` check-ins to ``POST /api/checkins`` in this process with production settings and prints the
application's CPU time and wall time per check-in. With ``--profile`` the same run is profiled on the
process CPU clock (so waiting for the database does not count) and the top functions are printed. It
measured 7.5 ms per check-in before the one-statement path and 4.0 ms after (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="prof_checkins", help="an empty PostgreSQL database")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.update(
        {
            "DATABASE_URL": f"{args.postgres}/{args.database}",
            "LACRIMA_ENV": "production",
            "LACRIMA_SECRET_KEY": "profile-" + "k" * 56 + "Z9!",
            "LACRIMA_ALLOWED_HOSTS": "127.0.0.1,testserver",
            "LACRIMA_SSL_REDIRECT": "0",
            "LACRIMA_RATE_API_ADDRESS": "1000000/60",
            "LACRIMA_RATE_API_TOKEN": "1000000/60",
        }
    )
    sys.path.insert(0, str(HERE))
    import _checkins_seed  # the benchmark's own seed: one study, consented clients with links

    people = _checkins_seed.seed(50)
    from django.test import Client

    import lacrima as lc

    items = [it.column for it in lc.load_instrument("session_checkin").items if it.column != "cried"]
    http = Client(HTTP_HOST="127.0.0.1")
    rng = random.Random(1)
    sessions = {p["code"]: 0 for p in people}

    def one(p: dict[str, str]) -> None:
        sessions[p["code"]] += 1
        body: dict[str, Any] = {
            "idempotency_key": f"{p['code']}-{sessions[p['code']]:04d}-{rng.getrandbits(40):x}",
            "answers": {"cried": 1, **{c: 4 for c in items}},
        }
        r = http.post(
            "/api/checkins",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {p['token']}",
        )
        if r.status_code != 201:
            raise SystemExit(f"check-in refused: {r.status_code} {r.content!r}")

    for i in range(30):
        one(people[i % len(people)])
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    for i in range(args.requests):
        one(people[i % len(people)])
    if profiler is not None:
        profiler.disable()
    n = args.requests
    print(
        f"{n} check-ins: {(time.process_time() - cpu) / n * 1000:.2f} ms CPU and "
        f"{(time.perf_counter() - wall) / n * 1000:.2f} ms wall per check-in"
        + (" (under cProfile)" if profiler is not None else "")
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
