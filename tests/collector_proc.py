"""Run `hmi collect` as a real subprocess and read its status lines as they come."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

from hmi.domain.timespec import parse_time
from dataclasses import dataclass
from pathlib import Path

STATUS = re.compile(
    r"collect: (?P<time>\S+Z) (?:stopped; )?tags good (?P<good>\d+) bad (?P<bad>\d+) waiting (?P<waiting>\d+) \| (?P<rate>[\d.]+) samples/s \| "
    r"stored (?P<stored>\d+) \| backlog (?P<backlog>\d+) \| dropped (?P<dropped>\d+) \| db (?P<db>ok|DOWN)"
    r"(?: \((?P<reason>[^)]*)\))?"
)


@dataclass
class Status:
    """One parsed status line and when it was read."""

    at: float  # monotonic time the line was read
    wall: float  # UTC epoch seconds the collector printed it (what timing assertions use)
    good: int
    bad: int
    waiting: int
    stored: int
    backlog: int
    dropped: int
    db_ok: bool
    text: str
    db_reason: str = ""  # why the database is DOWN, as the status line says it


class CollectorProcess:
    """`hmi collect` in its own process; status lines parsed on a reader thread."""

    def __init__(self, config: Path, db_url: str, *extra: str, status_interval: float = 0.25, migrate: bool = True,
                 env: dict[str, str] | None = None) -> None:
        # The collector never creates the schema: unless told not to, start() runs what `hmi db upgrade` does.
        self.db_url = db_url
        self.migrate = migrate
        self.env = env
        self.cmd = [
            sys.executable, "-m", "hmi.cli", "collect", "--config", str(config), "--db", db_url,
            "--status-interval", str(status_interval), *extra,
        ]
        self.statuses: list[Status] = []
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []

    def start(self) -> CollectorProcess:
        """Start the collector (on a database brought to the newest schema first, unless migrate=False)."""
        if self.migrate:
            from hmi.store.migrate import upgrade

            upgrade(self.db_url)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                     env=self.env)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        return self

    def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = STATUS.search(line)
            if m:
                g = m.groupdict()
                self.statuses.append(
                    Status(time.monotonic(), parse_time(g["time"], 0.0), int(g["good"]), int(g["bad"]), int(g["waiting"]), int(g["stored"]),
                           int(g["backlog"]), int(g["dropped"]), g["db"] == "ok", line.strip(), g["reason"] or "")
                )

    def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        """Everything the collector logged so far."""
        return "".join(self._stderr)

    def wait_for(self, predicate, timeout: float, what: str) -> Status:
        """The first status line from now on that satisfies predicate; fails the test with context if none."""
        start = len(self.statuses)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for status in self.statuses[start:]:
                if predicate(status):
                    return status
            if self.proc and self.proc.poll() is not None:
                break
            time.sleep(0.05)
        last = self.statuses[-1].text if self.statuses else "(no status line)"
        raise AssertionError(f"collector: no status with {what} within {timeout}s; last: {last}\n{self.stderr[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the orderly stop; returns the exit code."""
        assert self.proc
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(timeout)
        time.sleep(0.1)  # let the reader threads take the last lines
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would."""
        assert self.proc
        self.proc.kill()
        self.proc.wait(10)
