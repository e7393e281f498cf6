"""Start and stop plc_sim as a separate process (for the demo, the benchmarks and the tests)."""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import IO

READY_TIMEOUT_S = 30.0


def die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the HMI dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> int | None:
    """SIGTERM, and SIGKILL if it has not ended within ``timeout``; its exit code (None if never started)."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def kill_process(proc: subprocess.Popen | None) -> None:
    """SIGKILL, as a power cut would, and wait for it to be gone."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(5)


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimProcess:
    """A running plc_sim on a loopback port, with the config that connects to it."""

    def __init__(self, port: int | None = None, options: Sequence[str] = (), print_config: bool = True) -> None:
        self.port = port or free_port()
        self.print_config = print_config  # False: the caller builds the config itself (saves a process)
        self.options = list(options)
        self.url = f"opc.tcp://127.0.0.1:{self.port}/hmi/plc"
        self.proc: subprocess.Popen[str] | None = None
        self.config_text = ""
        self.startup_s = 0.0
        self.output: deque[str] = deque(maxlen=200)  # the simulator's last lines, for error messages
        self._printer: subprocess.Popen[str] | None = None
        self._t0 = 0.0

    def _command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "plc_sim", "--port", str(self.port), *self.options, *extra]

    def launch(self) -> None:
        """Start the server and, at the same time, the run that prints its config; returns at once.

        Call it from a thread that lives as long as the simulator should (the main thread): Linux
        signals the child when the thread that started it ends.
        """
        # The config and the server take about a second of imports each: both at once.
        self._printer = None
        if self.print_config and not self.config_text:
            self._printer = subprocess.Popen(self._command("--print-config"), stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True)
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=die_with_parent)

    def config(self, timeout: float = READY_TIMEOUT_S) -> str:
        """The config that connects to this simulator (waits for --print-config); RuntimeError if it failed."""
        if self._printer is not None:
            out, err = self._printer.communicate(timeout=timeout)
            if self._printer.returncode != 0:
                self.stop()
                raise RuntimeError(f"plc-sim --print-config failed: {err.strip()}")
            self.config_text, self._printer = out, None
        return self.config_text

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until the server serves; RuntimeError with its stderr if it does not."""
        self._wait_ready(time.monotonic() + timeout)
        self.startup_s = time.monotonic() - self._t0
        # Keep reading both pipes: a full pipe would block the simulator on its next log line.
        assert self.proc is not None
        for pipe in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(pipe,), daemon=True).start()

    def start(self, timeout: float = READY_TIMEOUT_S) -> SimProcess:
        """Start the simulator, wait until it serves and has printed its config."""
        self.launch()
        try:
            self.wait_ready(timeout)
        finally:
            self.config(timeout)
        return self

    def _drain(self, pipe: IO[str] | None) -> None:
        if pipe is None:
            return
        try:
            for line in pipe:
                self.output.append(line.rstrip("\n"))
        except (OSError, ValueError):  # closed by stop()
            pass

    def _wait_ready(self, deadline: float) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        line = ""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    line = self.proc.stdout.readline()
                    if line.startswith("plc-sim ready") or not line:
                        break
        if not line.startswith("plc-sim ready"):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
            raise RuntimeError(f"plc-sim did not start on port {self.port} (exit {self.proc.returncode}): "
                               f"{err.strip()[-2000:] or 'timed out'}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop with SIGTERM (SIGKILL if it does not end in time); returns the exit code."""
        return stop_process(self.proc, timeout)

    def kill(self) -> None:
        """SIGKILL the simulator, as a power cut of the PLC would."""
        kill_process(self.proc)

    def restart(self, timeout: float = READY_TIMEOUT_S) -> SimProcess:
        """Start it again on the same port with the same options (after kill or stop)."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
