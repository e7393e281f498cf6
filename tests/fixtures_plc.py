"""Fixtures that run plc_sim as a real subprocess on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.sim_process import SimProcess

ROOT = Path(__file__).resolve().parent.parent


def plc_sim_args(options: dict[str, object]) -> list[str]:
    """Command-line arguments from keyword options: fault_tags=True -> --fault-tags, seed=3 -> --seed 3."""
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not None and value is not False:
            args += [flag, str(value)]
    return args


def run_plc_sim(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m plc_sim ARGS` to completion (for --print-config and error cases)."""
    return subprocess.run(
        [sys.executable, "-m", "plc_sim", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


@pytest.fixture
def plc_sim_factory() -> Iterator:
    """Start simulators: ``plc_sim_factory(speed=60, fault_tags=True, port=None)`` -> a ready SimProcess."""
    started: list[SimProcess] = []

    def start(**options: object) -> SimProcess:
        port = options.pop("port", None)
        sim = SimProcess(port=int(port) if port else None, options=plc_sim_args(options))
        started.append(sim)
        try:
            return sim.start()
        except RuntimeError as exc:
            pytest.fail(str(exc))

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def plc_sim(plc_sim_factory) -> SimProcess:
    """One simulator of the default plant, seeded, at 10 updates a second."""
    return plc_sim_factory(seed=1, rate=10)
