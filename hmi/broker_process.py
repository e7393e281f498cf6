"""Start and stop the embedded MQTT broker (amqtt, shopfloor_sim.broker) as a separate process, for the demo."""

from __future__ import annotations

import selectors
import subprocess
import sys
import threading
import time
from collections import deque
from typing import IO

from hmi.sim_process import die_with_parent, free_port, stop_process

READY_TIMEOUT_S = 30.0


class BrokerProcess:
    """The embedded broker on a loopback port: ``url`` is what the [mqtt] section and the shopfloors use."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=200)  # its last lines, for error messages

    def launch(self) -> None:
        """Start the broker and return at once (call it from a thread that lives as long as the broker should)."""
        self.proc = subprocess.Popen([sys.executable, "-m", "shopfloor_sim.broker", "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=die_with_parent)  # fmt: skip
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until it prints ``READY <port>``; RuntimeError with its last lines if it does not."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = "x"
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while line and not line.startswith("READY") and time.monotonic() < deadline:
                if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            time.sleep(0.1)  # the stderr reader takes the last lines in
            last = " | ".join(list(self.output)[-3:]) or "timed out"
            raise RuntimeError(f"the embedded broker did not start on port {self.port} (exit {self.proc.returncode}): {last}")
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()

    def start(self, timeout: float = READY_TIMEOUT_S) -> BrokerProcess:
        """Start it and wait until it accepts connections."""
        self.launch()
        self.wait_ready(timeout)
        return self

    def _drain(self, pipe: IO[str] | None) -> None:
        if pipe is None:
            return
        try:
            for line in pipe:
                self.output.append(line.rstrip("\n"))
        except (OSError, ValueError):  # closed by stop()
            pass

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop with SIGTERM (SIGKILL if it does not end in time); returns the exit code."""
        return stop_process(self.proc, timeout)
