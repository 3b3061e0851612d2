"""lacrima's command line: a thin layer over the library (``lacrima --help``)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from lacrima.cli._app import app
from lacrima.cli._app import main as _main

__all__ = ["app", "blas_threads", "main"]

_USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads() -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread while a command runs, unless the user chose a number in the environment.

    On small machines shared with other work, BLAS threads make the many small matrix products of the
    battery slower, not faster (benchmarks/bench_battery.py measured it). threadpoolctl sets the limit in
    the loaded BLAS libraries themselves, so it works whenever numpy was imported (an environment variable
    only works when it is set before that).
    """
    if any(name in os.environ for name in _USER_SETTINGS):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def main() -> None:
    """Entry point of the ``lacrima`` console script."""
    with blas_threads():
        _main()
