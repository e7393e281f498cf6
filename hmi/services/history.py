"""Reading the historian, for the trends and `hmi history`: the tags it holds, downsampled ranges, a CSV export.

Plain blocking calls (run them in an executor from the GUI). Ranges are half-open, ``t0 <= t < t1``,
in UTC epoch seconds.
"""

from __future__ import annotations

import threading
from typing import TextIO

from sqlalchemy.engine import Engine

from hmi.services.db import make_engine
from hmi.store import queries
from hmi.store.queries import Bucket


def tag_names(engine: Engine) -> list[str]:
    """Every tag that has samples, by name."""
    return queries.tag_names(engine)


def export_csv(engine: Engine, tag: str, t0: float, t1: float, out: TextIO) -> int:
    """Write a tag's samples in [t0, t1) to ``out`` as CSV; how many rows. UnknownTag when it has no history."""
    return queries.export_csv(engine, tag, t0, t1, out)


def downsampled_range(engine: Engine, tag: str, t0: float, t1: float, points: int) -> list[Bucket]:
    """A tag in [t0, t1) in at most ``points`` buckets with min, max, mean and Bad count, oldest first."""
    return queries.downsampled_range(engine, tag, t0, t1, points)


class HistoryReader:
    """Downsampled ranges from one database URL; the engine is made at the first read (on the reading thread)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    def downsampled_range(self, tag: str, t0: float, t1: float, points: int) -> list[Bucket]:
        """As the module's ``downsampled_range``, on this reader's database (blocking)."""
        if self._engine is None:
            self._engine = make_engine(self.url)
        return queries.downsampled_range(self._engine, tag, t0, t1, points)

    def close(self) -> None:
        """Let the engine go; its connections are closed on a thread of their own, so this never blocks."""
        engine, self._engine = self._engine, None
        if engine is not None:
            threading.Thread(target=engine.dispose, daemon=True).start()
