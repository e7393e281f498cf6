"""A CPU-bound process beside a benchmark's window (``--load``): one core spinning for the run's length."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    sum(range(1000))\n"


@contextmanager
def cpu_load(on: bool, seconds: float) -> Iterator[None]:
    """While the block runs, a subprocess spins on one core (stopping by itself after ``seconds``)."""
    if not on:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=float(seconds))])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()
