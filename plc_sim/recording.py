"""What the simulator writes down: every served sample (CSV) and the ground truth (JSON lines): episodes and forces."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from plc_sim.episodes import Event


class Recorder:
    """Appends `tag,source_ts_us,value` rows; buffered, flushed at least every second and on close."""

    def __init__(self, path: str | Path, flush_every_s: float = 1.0) -> None:
        self._file = open(path, "w", newline="", encoding="utf-8", buffering=1 << 20)  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._csv.writerow(("tag", "source_ts_us", "value"))
        self._flush_every = flush_every_s
        self._last_flush = time.monotonic()

    def write(self, tags: Sequence[str], ts_us: int, values: Sequence[object]) -> None:
        """Record one batch of samples that share a source timestamp."""
        self._csv.writerows((tag, ts_us, v) for tag, v in zip(tags, values, strict=True))
        now = time.monotonic()
        if now - self._last_flush >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Push buffered rows to the file."""
        self._file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and close the file."""
        if not self._file.closed:
            self._file.flush()
            self._file.close()


def _line(twin: str, parameter: str, kind: str, wall_time: float, sim_time: float) -> dict[str, object]:
    return {
        "twin": twin,
        "parameter": parameter,
        "kind": kind,
        "wall_time": datetime.fromtimestamp(wall_time, UTC).isoformat(),
        "wall_epoch": wall_time,
        "sim_time": sim_time,
        "sim_time_iso": datetime.fromtimestamp(sim_time, UTC).isoformat(),
    }


class GroundTruth:
    """Appends one JSON line per episode event, force and release to DIR/episodes.jsonl, flushed at once."""

    def __init__(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.path = Path(directory) / "episodes.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._start_wall: dict[str, float] = {}

    def write(self, event: Event, wall_time: float) -> None:
        """Record an event that the simulation produced at this wall-clock time (epoch seconds)."""
        line = _line(event.twin, event.parameter, event.kind, wall_time, event.sim_time)
        if event.kind == "episode_start":
            self._start_wall[event.twin] = wall_time
        else:
            line["episode_start"] = event.episode_start
            line["episode_start_wall"] = self._start_wall.get(event.twin)
        self._append(line)

    def write_force(self, twin: str, parameter: str, value: float | None, wall_time: float, sim_time: float) -> None:
        """Record that a client forced a parameter to `value` (kind "force") or released it (None, "release")."""
        kind = "release" if value is None else "force"
        self._append(_line(twin, parameter, kind, wall_time, sim_time) | {"value": value})

    def _append(self, line: dict[str, object]) -> None:
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()
