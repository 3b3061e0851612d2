"""lacrima's command line: a thin layer over the library (``lacrima --help``)."""

import os

# On small machines shared with other work, OpenBLAS threads make the many small matrix products of the
# battery slower, not faster (benchmarks/bench_battery.py measured it); users can still override this.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from lacrima.cli._app import app, main

__all__ = ["app", "main"]
