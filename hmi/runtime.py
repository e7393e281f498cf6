"""The running plant connection: tag bus, historian writer and one OPC UA source per endpoint.

The headless collector and the GUI build the same Runtime; only what watches it differs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from hmi.config import PlantConfig
from hmi.domain.plant import Plant
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality
from hmi.io.link import LinkStatus
from hmi.io.opcua import OpcUaSource
from hmi.store.writer import HistorianWriter, WriterStats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """What the status line and the status bar show: tags, rates, the historian and every link."""

    tags_good: int
    tags_bad: int
    tags_waiting: int
    samples_per_s: float
    historian: WriterStats
    links: tuple[LinkStatus, ...]

    def line(self) -> str:
        """One status line for a log or a terminal."""
        h = self.historian
        links = " ".join(f"{link.name}={link.state.value}" for link in self.links)
        db = "ok" if h.db_ok else f"DOWN ({h.last_error})"
        return (
            f"tags good {self.tags_good} bad {self.tags_bad} waiting {self.tags_waiting} | "
            f"{self.samples_per_s:.0f} samples/s | stored {h.stored} | backlog {h.spooled_backlog + h.queued} | "
            f"dropped {h.dropped} | db {db} | {links}"
        )


class Runtime:
    """Acquisition and historian for one plant configuration."""

    def __init__(self, config: PlantConfig, database_url: str | None = None) -> None:
        self.config = config
        self.plant: Plant = config.plant()
        self.database_url = database_url or config.database_url
        self.bus = TagBus()
        self.writer = HistorianWriter.from_config(self.database_url, config.historian)
        self.bus.subscribe(self.writer.consume)
        self.sources = [
            OpcUaSource(ep, [t for t in self.plant.tags if t.endpoint == ep.name], self.bus.publish)
            for ep in config.endpoints
        ]
        self._tasks: list[asyncio.Task] = []
        self._rate_mark = (time.monotonic(), 0)

    async def start(self) -> None:
        """Start the historian writer and connect every source (in the background)."""
        self.writer.start()
        for source in self.sources:
            self._tasks.append(asyncio.create_task(source.run(), name=f"source-{source.endpoint.name}"))

    async def stop(self) -> None:
        """Disconnect the sources, then flush and close the historian (in an executor)."""
        for source in self.sources:
            await source.stop()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
        self._tasks.clear()
        await asyncio.get_running_loop().run_in_executor(None, self.writer.stop, 30.0)

    def status(self) -> RuntimeStatus:
        """A snapshot for the status line; the sample rate is measured since the previous call."""
        snapshot = self.bus.snapshot()
        good = sum(1 for tv in snapshot.values() if tv.quality is Quality.GOOD)
        bad = sum(1 for tv in snapshot.values() if tv.quality is not Quality.GOOD)
        waiting = len(self.plant.tags) - len(snapshot)
        now = time.monotonic()
        then, count = self._rate_mark
        rate = (self.bus.published - count) / (now - then) if now > then else 0.0
        self._rate_mark = (now, self.bus.published)
        return RuntimeStatus(
            tags_good=good,
            tags_bad=bad,
            tags_waiting=max(0, waiting),
            samples_per_s=rate,
            historian=self.writer.stats(),
            links=tuple(s.status for s in self.sources),
        )
