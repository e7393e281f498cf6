"""The alarm journal and the alarm-health report as the GUI and `hmi alarm` read and export them.

Reading needs no permission (every role sees the alarms); taking a file away needs export_report and
is audited like any command: 'requested' before the file is written, then 'ok' or 'failed'.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy.engine import Engine

from hmi.domain.alarm_health import AlarmHealth, alarm_health
from hmi.domain.alarm_journal import JournalEntry, JournalQuery
from hmi.domain.permissions import Action
from hmi.services.commands import Change, CommandService
from hmi.store import alarm_journal
from hmi.store.alarm_journal import LatestState

US = 1_000_000


def journal(engine: Engine, q: JournalQuery = JournalQuery()) -> list[JournalEntry]:
    """The entries matching ``q``, oldest first (newest first if asked); DatabaseUnavailable in words."""
    return alarm_journal.query(engine, q)


def latest_states(engine: Engine) -> dict[str, LatestState]:
    """Per alarm id: its newest journal entry, and whether its newest process event left it active."""
    return alarm_journal.latest_states(engine)


def matches_text(e: JournalEntry, needle: str) -> bool:
    """Whether the search text (lower case) is in the alarm id, tag, message or comment."""
    return any(needle in f.lower() for f in (e.alarm_id, e.tag, e.message, e.comment) if f)


def read_journal(engine: Engine, q: JournalQuery, text: str | None = None, page: int = 20_000) -> list[JournalEntry]:
    """The entries matching ``q`` and the search text, newest first, at most ``q.limit`` (blocking: an executor).

    Without search text the database does it all. With it, pages are read newest first and searched
    here until enough match, so the newest matches are found even beyond the first ``q.limit`` rows.
    """
    q = replace(q, newest_first=True)
    needle = (text or "").strip().lower()
    if not needle:
        return alarm_journal.query(engine, q)
    limit = q.limit
    found: list[JournalEntry] = []
    seen: set[int] = set()
    end = q.end
    while True:
        rows = alarm_journal.query(engine, replace(q, end=end, limit=page))
        fresh = [e for e in rows if e.entry_id not in seen]
        if not fresh:
            return found
        seen.update(e.entry_id for e in fresh)
        found.extend(e for e in fresh if matches_text(e, needle))
        if limit is not None and len(found) >= limit:
            return found[:limit]
        if len(rows) < page:
            return found
        # Rows sharing the oldest time may straddle the page: read from just after it, skip those seen.
        end = rows[-1].ts + 1 / US


def health_report(engine: Engine, start: float, end: float, now: float | None = None) -> AlarmHealth:
    """The health of the alarm system over [start, end), counting alarms that were already active at start as stale."""
    now = time.time() if now is None else now
    entries = alarm_journal.active_before(engine, start)
    entries += alarm_journal.query(engine, JournalQuery(start=start, end=end, limit=None))
    return alarm_health(entries, start, end, now=now)


def export_journal(commands: CommandService, entries: Sequence[JournalEntry], path: str | Path, what: str = "") -> int:
    """Write journal entries to FILE.csv or FILE.xlsx (export_report; audited); how many were written."""
    from hmi.reports.alarm_export import export_journal as write

    target = str(Path(path).resolve())
    fmt = Path(path).suffix.lower().lstrip(".")
    change = Change(detail=f"exported {len(entries)} alarm journal entries as {fmt}" + (f" ({what})" if what else ""))
    return commands.run_external(Action.EXPORT_REPORT, target, change, lambda: write(entries, path))


def export_health(commands: CommandService, health: AlarmHealth, path: str | Path) -> None:
    """Write the alarm-health report to FILE.xlsx (export_report; audited)."""
    from hmi.domain.timespec import format_utc
    from hmi.reports.alarm_export import export_health as write

    target = str(Path(path).resolve())
    change = Change(detail=f"exported the alarm health from {format_utc(health.start)} to {format_utc(health.until)}")
    commands.run_external(Action.EXPORT_REPORT, target, change, lambda: write(health, path))
