"""Start and stop plc_sim as a separate process (for the demo and the benchmarks)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence


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

    def _command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "plc_sim", "--port", str(self.port), *self.options, *extra]

    def start(self, timeout: float = 30.0) -> SimProcess:
        """Start the simulator and wait until it serves; RuntimeError with its stderr if it does not."""
        self.config_text = subprocess.run(
            self._command("--print-config"), capture_output=True, text=True, check=True, timeout=timeout
        ).stdout
        self.proc = subprocess.Popen(
            self._command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        ready = threading.Event()

        def watch() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.startswith("plc-sim ready"):
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else ""
                self.stop()
                raise RuntimeError(f"plc-sim did not start on port {self.port}: {err.strip() or 'timed out'}")
        return self

    def stop(self) -> None:
        """Terminate the simulator (SIGTERM, then SIGKILL after 5 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
