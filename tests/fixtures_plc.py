"""Fixtures that run plc_sim as a real subprocess on a free loopback port."""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

READY_TIMEOUT_S = 20.0
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@dataclass
class PlcSim:
    """A running simulator: its URL, port, process and the config it serves."""

    port: int
    args: list[str]
    config_text: str
    host: str = "127.0.0.1"
    proc: subprocess.Popen[str] | None = None
    startup_s: float = 0.0
    _procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The simulator's endpoint URL."""
        return f"opc.tcp://{self.host}:{self.port}/hmi/plc"

    def start(self) -> PlcSim:
        """Start the process and wait for its ready line; fails the test with its stderr otherwise."""
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "plc_sim", "--port", str(self.port), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.proc = proc
        self._procs.append(proc)
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = t0 + READY_TIMEOUT_S
        line = ""
        while time.monotonic() < deadline:
            if sel.select(timeout=deadline - time.monotonic()):
                line = proc.stdout.readline()
                if line.startswith("plc-sim ready") or not line:
                    break
        sel.close()
        if not line.startswith("plc-sim ready"):
            proc.kill()
            _, err = proc.communicate(timeout=5)
            pytest.fail(f"plc_sim did not get ready (exit {proc.returncode}): {err.strip()[-2000:]}")
        assert line.split()[-1] == self.url, line
        self.startup_s = time.monotonic() - t0
        return self

    def kill(self) -> None:
        """Kill the process with SIGKILL (a crashed PLC)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self) -> PlcSim:
        """Start it again on the same port with the same options (after kill() or stop())."""
        self.kill()
        return self.start()

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop with SIGTERM as an operator would; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self) -> None:
        """Stop every process this object started, and close their pipes."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe:
                    pipe.close()


@pytest.fixture
def plc_sim_factory() -> Iterator:
    """Start simulators: ``plc_sim_factory(speed=60, fault_tags=True, port=None)`` -> a ready PlcSim."""
    started: list[PlcSim] = []

    def start(**options: object) -> PlcSim:
        port = options.pop("port", None) or free_port()
        args = plc_sim_args(options)
        # print the config while the server starts: each costs about a second of imports
        printer = subprocess.Popen(
            [sys.executable, "-m", "plc_sim", "--port", str(port), *args, "--print-config"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        sim = PlcSim(port=int(port), args=args, config_text="")
        started.append(sim)
        try:
            sim.start()
        finally:
            out, err = printer.communicate(timeout=30)
        if printer.returncode != 0:
            pytest.fail(f"plc_sim --print-config failed: {err.strip()}")
        sim.config_text = out
        return sim

    yield start
    for sim in started:
        sim.close()


@pytest.fixture
def plc_sim(plc_sim_factory) -> PlcSim:
    """One simulator of the default plant, seeded, at 10 updates a second."""
    return plc_sim_factory(seed=1, rate=10)
