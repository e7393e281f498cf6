"""Named pen groups of the trends, kept as JSON in the data directory and written atomically."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hmi.paths import data_dir

log = logging.getLogger(__name__)

FILE_NAME = "pen_groups.json"
VERSION = 1


@dataclass(frozen=True, slots=True)
class PenGroup:
    """The pens of a trend and how it was scaled and spanned."""

    name: str
    tags: tuple[str, ...]
    span_s: float = 600.0
    percent: bool = False


class PenGroupStore:
    """Load, save, list and delete pen groups; a damaged file is set aside, never a crash."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else data_dir() / FILE_NAME
        self.problem = ""  # why the file could not be read, for the status line

    def _read(self) -> dict[str, PenGroup]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            groups = {}
            for name, g in raw.get("groups", {}).items():
                groups[name] = PenGroup(name, tuple(str(t) for t in g["tags"]), float(g.get("span_s", 600.0)), bool(g.get("percent", False)))
            return groups
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            self.problem = f"pen groups file {self.path} is damaged ({error}); it was set aside"
            log.warning(self.problem)
            try:
                self.path.replace(self.path.with_suffix(".json.bad"))
            except OSError:
                pass
            return {}

    def _write(self, groups: dict[str, PenGroup]) -> None:
        data = {
            "version": VERSION,
            "groups": {g.name: {"tags": list(g.tags), "span_s": g.span_s, "percent": g.percent} for g in groups.values()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pen_groups.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def names(self) -> list[str]:
        """The saved groups' names, sorted."""
        return sorted(self._read(), key=str.casefold)

    def get(self, name: str) -> PenGroup | None:
        """A saved group, or None."""
        return self._read().get(name)

    def save(self, group: PenGroup) -> None:
        """Save (or replace) a group."""
        if not group.name.strip():
            raise ValueError("a pen group needs a name")
        groups = self._read()
        groups[group.name] = group
        self._write(groups)

    def delete(self, name: str) -> bool:
        """Remove a group; False when there was none of that name."""
        groups = self._read()
        if groups.pop(name, None) is None:
            return False
        self._write(groups)
        return True
