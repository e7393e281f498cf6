"""Start and stop plc_sim as a separate process (for the demo, the benchmarks and the tests)."""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import IO

READY_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimProcess:
    """A running plc_sim on a loopback port, with the config that connects to it."""

    def __init__(self, port: int | None = None, options: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.options = list(options)
        self.url = f"opc.tcp://127.0.0.1:{self.port}/hmi/plc"
        self.proc: subprocess.Popen[str] | None = None
        self.config_text = ""
        self.startup_s = 0.0
        self.output: deque[str] = deque(maxlen=200)  # the simulator's last lines, for error messages

    def _command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "plc_sim", "--port", str(self.port), *self.options, *extra]

    def start(self, timeout: float = READY_TIMEOUT_S) -> SimProcess:
        """Start the simulator and wait until it serves; RuntimeError with its stderr if it does not."""
        # Print the config while the server starts: each costs about a second of imports.
        printer = None
        if not self.config_text:
            printer = subprocess.Popen(self._command("--print-config"), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self._wait_ready(t0 + timeout)
        finally:
            if printer is not None:
                out, err = printer.communicate(timeout=timeout)
                if printer.returncode != 0:
                    self.stop()
                    raise RuntimeError(f"plc-sim --print-config failed: {err.strip()}")
                self.config_text = out
        self.startup_s = time.monotonic() - t0
        # Keep reading both pipes: a full pipe would block the simulator on its next log line.
        for pipe in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(pipe,), daemon=True).start()
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
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the simulator, as a power cut of the PLC would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self, timeout: float = READY_TIMEOUT_S) -> SimProcess:
        """Start it again on the same port with the same options (after kill or stop)."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
