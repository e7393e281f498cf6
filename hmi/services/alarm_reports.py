"""The alarm journal and the alarm-health report as the GUI and `hmi alarm` read and export them.

Reading needs no permission (every role sees the alarms); taking a file away needs export_report and
is audited like any command: 'requested' before the file is written, then 'ok' or 'failed'.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from hmi.domain.alarm_health import AlarmHealth, alarm_health
from hmi.domain.alarm_journal import JournalEntry
from hmi.domain.permissions import Action
from hmi.services.commands import Change, CommandService
from hmi.store import alarm_journal
from hmi.store.alarm_journal import JournalQuery


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
