"""What the historian writer reports about itself, for the status bar, the collector's status line and the log."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WriterStats:
    """A snapshot of the historian writer's counters, safe to read from any thread.

    ``stored`` counts rows the database committed (duplicates it already had are not counted);
    ``spooled_backlog`` samples wait in the spool, ``queued`` in memory; ``forwarded`` samples
    went from the spool to the database; ``dropped`` were refused because the queue was full.
    ``last_error`` is the short reason the database is not written ("connecting", "connection
    refused", "no schema: run hmi db upgrade"); ``gap_marks`` the Bad markers this run stored
    where the previous one stopped.
    """

    received: int = 0
    stored: int = 0
    spooled_backlog: int = 0
    forwarded: int = 0
    dropped: int = 0
    queued: int = 0
    db_ok: bool = False
    last_error: str = "connecting"
    flush_ms: float = 0.0
    gap_marks: int = 0
