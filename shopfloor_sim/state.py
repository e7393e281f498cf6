"""The state file of one shopfloor: JSON written atomically (temp file, fsync, os.replace), held by a lock."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from shopfloor_sim.floor import StateError


class StateFile:
    """``<dir>/<id>.json`` and its lock ``<dir>/<id>.lock`` (one process per shopfloor state)."""

    def __init__(self, folder: Path, shopfloor_id: str) -> None:
        self.path = folder / f"{shopfloor_id}.json"
        self._lock_path = folder / f"{shopfloor_id}.lock"
        self._lock: int | None = None

    def lock(self) -> None:
        """Take the lock; StateError if another shopfloor-sim holds it (the kernel frees it when that one dies)."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateError(f"{self.path}: another shopfloor-sim is running with this state; stop it first") from None
        self._lock = fd

    def read(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none yet; StateError if it is not JSON."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise StateError(f"{self.path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as error:
            raise StateError(f"{self.path}: not a state file of shopfloor-sim ({error.msg}); move it away") from None
        if not isinstance(state, dict):
            raise StateError(f"{self.path}: not a state file of shopfloor-sim; move it away")
        return state

    def write(self, state: dict[str, Any]) -> None:
        """Replace the file with ``state`` so that a crash leaves the old one or the new one, never half of one."""
        tmp = self.path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(state, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
