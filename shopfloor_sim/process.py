"""Start and stop shopfloor-sim as a separate process (for the demo, the dispatch tests and the benchmarks)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from hmi.sim_process import die_with_parent, kill_process, stop_process

READY_TIMEOUT_S = 30.0


class ShopfloorProcess:
    """A running ``shopfloor-sim`` with one or more shopfloors on a broker; ``output`` holds its last lines."""

    def __init__(self, broker_url: str, ids: Sequence[str], capacities: Sequence[float] = (1200.0,),
                 options: Sequence[str] = (), state_dir: Path | None = None) -> None:  # fmt: skip
        self.broker_url = broker_url
        self.ids = list(ids)
        self.capacities = list(capacities)
        self.options = list(options)
        self.state_dir = state_dir
        self.proc: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=500)
        self._ready = threading.Event()

    def command(self) -> list[str]:
        """The command line it runs."""
        cmd = [sys.executable, "-m", "shopfloor_sim", "--broker", self.broker_url, "--id", ",".join(self.ids),
               "--capacity", ",".join(f"{c:g}" for c in self.capacities), *self.options]  # fmt: skip
        return cmd + (["--state-dir", str(self.state_dir)] if self.state_dir is not None else [])

    def start(self, timeout: float = READY_TIMEOUT_S) -> ShopfloorProcess:
        """Start it and wait for ``READY``; RuntimeError with its stderr if it does not get there."""
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the process and return at once (wait_ready waits for it to connect).

        Call it from a thread that lives as long as it should: Linux signals the child when that thread ends.
        """
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=die_with_parent)  # fmt: skip
        self._ready.clear()
        # One reader per pipe from the start: READY may come in the same chunk as the lines before it.
        for pipe in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(pipe,), daemon=True).start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until it prints ``READY`` (all its shopfloors connected and subscribed)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                time.sleep(0.1)  # the readers take the last lines in
                raise RuntimeError(f"shopfloor-sim {','.join(self.ids)} did not get ready (exit {self.proc.returncode}): "
                                   f"{' | '.join(list(self.output)[-5:]) or 'timed out'}")  # fmt: skip

    def _drain(self, pipe: IO[str] | None) -> None:
        if pipe is None:
            return
        try:
            for line in pipe:
                self.output.append(line.rstrip("\n"))
                if line.startswith("READY "):
                    self._ready.set()
        except (OSError, ValueError):
            pass

    def wait_for_line(self, text: str, timeout: float = 20.0) -> str:
        """The first output line containing ``text`` (waits for it); TimeoutError with the last lines otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.output):
                if text in line:
                    return line
            time.sleep(0.05)
        raise TimeoutError(f"no line with {text!r} from shopfloor-sim; last lines: {list(self.output)[-10:]}")

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for it to end by itself (e.g. --die-after); its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (SIGKILL if it does not end in time); its exit code."""
        return stop_process(self.proc, timeout)

    def kill(self) -> None:
        """SIGKILL, as a power cut of the shopfloor's controller would."""
        kill_process(self.proc)

    def restart(self, timeout: float = READY_TIMEOUT_S) -> ShopfloorProcess:
        """Start it again with the same options (after kill or stop); its state comes back from --state-dir."""
        self.stop()
        self.output.clear()
        return self.start(timeout)

    def __enter__(self) -> ShopfloorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
