"""Alarm journal pane: every alarm event, newest first, filtered by time range, twin, priority, user and text.

Anyone at the workstation may read the journal, as they may see the alarms themselves; exporting it
needs export_report and is on the audit trail (requested, then ok or failed), as the audit pane's
export is. Reads go to the database in an executor. While the range ends "now" the pane follows the
alarm center's version and reads again at most once a second when it changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

from hmi.domain.alarm_journal import JournalEntry, JournalQuery
from hmi.reports.audit_export import export_format
from hmi.services.alarm_reports import export_journal, read_journal
from hmi.services.commands import CommandService
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.journal_model import JournalTableModel, priority_text
from hmi.ui.report_widgets import (
    EXPORT, PeriodPicker, ReportPane, add_choices, ask_export_path, button, export_as_user, export_tooltip,
    failure_text, filter_combo, filter_row, in_executor, note_label, paged_content, refusal_label, refusal_or_content,
    refusal_style, register_report_pane, report_table, search_box, shown_text,
)  # fmt: skip
from hmi.ui.table_sorting import sort_proxy

log = logging.getLogger(__name__)

NO_DATABASE = "This window has no database, so there is no alarm journal to show."
CUSTOM = "custom…"
RANGES: tuple[tuple[str, float | None], ...] = (
    ("last hour", 3600.0), ("this shift (8 h)", 8 * 3600.0), ("last 24 h", 86400.0), ("last 7 days", 7 * 86400.0),
    (CUSTOM, None),
)  # fmt: skip
DEFAULT_RANGE = 2  # 24 h
ALL_TWINS, ALL_PRIORITIES, ALL_USERS = "all twins", "all priorities", "all users"
LIVE_MS = 1000  # at most one read a second while the alarms change
SEARCH_DEBOUNCE_MS = 400
SHOW_LIMIT = 5000  # rows kept on screen; the export takes every matching entry
EXPORT_LIMIT = 1_000_000  # an Excel sheet holds 1,048,576 rows


def stylesheet(p: theme.Palette) -> str:
    """The pane's QSS: calm greys; a failure is a shape and words."""
    return f"""
    {refusal_style(p, "journalRefusal")}
    QLabel#journalCount {{ color: {p.muted}; }}
    """


class AlarmJournalPane(ReportPane):
    """The alarm journal as a table; ``clock`` gives UTC epoch seconds (tests inject their own)."""

    def __init__(self, ctx: AppContext, clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:
        super().__init__(ctx, clock, "alarmJournalPane", stylesheet, parent)
        self._reading = False
        self._again = False  # a change arrived during a read: read once more after it
        self._seen_version = self._alarm_version()
        self._follow_up = False
        self._read_failed = False
        self.model = JournalTableModel(ctx.plant, parent=self)
        self.proxy = sort_proxy(self.model, self)
        self._live = self.while_visible(LIVE_MS, self._on_live)
        self._debounce = self.timer(SEARCH_DEBOUNCE_MS, self.reload_later, single_shot=True)
        self._build()
        self.follow()
        self.recheck()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.refusal = refusal_label(NO_DATABASE, "journalRefusal")

        self.range = PeriodPicker(RANGES, DEFAULT_RANGE, "journal", self._clock)
        self.range.changed.connect(self.reload_later)
        self.twin_box = filter_combo("journalTwin", ALL_TWINS, [(t.name, t.twin_id) for t in self.ctx.plant.twins])
        self.priority_box = filter_combo("journalPriority", ALL_PRIORITIES, [(priority_text(p), p) for p in (1, 2, 3, 4)])
        self.user_box = filter_combo("journalUser", ALL_USERS, [])
        for box in (self.twin_box, self.priority_box, self.user_box):
            box.activated.connect(lambda _i: self.reload_later())
        self.search = search_box("journalSearch", "search alarm, message, comment", self._debounce.start)
        self.refresh_button = button("Refresh", "journalRefresh", self.reload_later)
        self.export_button = button("Export…", "journalExport", self._on_export)
        filters = filter_row((self.range, self.twin_box, self.priority_box, self.user_box, self.search,
                              self.refresh_button, self.export_button), stretch=self.search)  # fmt: skip

        widths = {"time": 185, "priority": 75, "twin": 125, "alarm": 240, "what happened": 165,
                  "state": 255, "value": 100, "user": 80, "comment": 220}  # fmt: skip
        col = self.model.col
        self.table = report_table("journalTable", self.proxy, col["time"], {col[n]: w for n, w in widths.items()})
        self.count = QLabel("")  # how many entries are shown, or that they are being read
        self.count.setObjectName("journalCount")
        self.status = note_label("journalStatus")  # what became of the last read or export, in words
        self.content = paged_content(filters, self.table, self.count, self.status)
        self.stack = refusal_or_content(self, self.refusal, self.content)

    # --- the session -------------------------------------------------------------------------------

    def recheck(self) -> None:
        """Show the table when there is a database; enable Export… for a role that may export."""
        if self.ctx.commands is None:
            self.stack.setCurrentWidget(self.refusal)
            return
        self.stack.setCurrentWidget(self.content)
        self.export_button.setEnabled(self.ctx.may(EXPORT))
        self.export_button.setToolTip(export_tooltip(self.ctx, "the entries that match the filters"))

    # --- reading -----------------------------------------------------------------------------------

    def query(self, limit: int | None = SHOW_LIMIT) -> JournalQuery:
        """The filters on screen as a journal query (newest first); ValueError for a custom range out of order."""
        start, end = self.range.period()
        if self.range.live:
            end = None  # up to now, and what is written while the read runs
        return JournalQuery(
            start=start, end=end, twin=self.twin_box.currentData(), priority=self.priority_box.currentData(),
            user=self.user_box.currentData(), limit=limit, newest_first=True,
        )  # fmt: skip

    def reload_later(self) -> None:
        """Read the entries for the filters on screen (in the background)."""
        self._debounce.stop()
        self._spawn(self.reload())

    async def reload(self) -> None:
        """Read the entries for the filters on screen and show them, newest first."""
        if self.ctx.commands is None:
            return
        if self._reading:
            self._again = True
            return
        try:
            q = self.query()
        except ValueError as error:
            self.status.setText(f"{theme.SHAPE_WARNING} {error}")
            return
        text = self.search.text()
        engine = self.ctx.commands.engine
        self._generation += 1
        generation = self._generation
        self._reading = True
        if not self.model.rowCount():
            self.count.setText("reading the alarm journal…")
        try:
            entries = await in_executor(read_journal, engine, q, text)
        except Exception as error:  # noqa: BLE001 - shown in one line; the pane goes on
            if generation == self._generation:
                log.warning("could not read the alarm journal: %s", error)
                self.count.setText("")
                self.status.setText(failure_text("could not read the alarm journal", error))
                self._read_failed = True
            return
        finally:
            self._reading = False
            if self._again:
                self._again = False
                self._spawn(self.reload())
        if generation != self._generation:
            return
        self.model.set_entries(entries)
        if self._read_failed:
            self._read_failed = False
            self.status.setText("")
        add_choices(self.user_box, (e.user for e in entries if e.user))
        self._show_count()

    def _show_count(self) -> None:
        self.count.setText(shown_text(self.model.rowCount(), "event", SHOW_LIMIT, ", newest first"))

    # --- following the alarms ----------------------------------------------------------------------

    def on_screen(self) -> bool:
        """Whether any of the pane can be seen: a dock tabbed behind another is visible to Qt but covered."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def _alarm_version(self) -> int | None:
        return None if self.ctx.alarms is None else self.ctx.alarms.version

    def _on_live(self) -> None:
        """Once a second: read again if the alarms changed, and once more a second later, because
        the journal holder writes its batch shortly after the change is seen here."""
        if not self.isVisible():
            self._live.stop()
            return
        if not self.range.live or self.ctx.commands is None or not self.on_screen():
            return  # behind another tab: the change stays unseen until the tab is in front
        version = self._alarm_version()
        if version != self._seen_version:
            self._seen_version = version
            self._follow_up = True
            self.reload_later()
        elif self._follow_up:
            self._follow_up = False
            self.reload_later()

    # --- exporting ---------------------------------------------------------------------------------

    def _on_export(self) -> None:
        path = ask_export_path(self, "Export the alarm journal", "alarm-journal", self._clock())
        if path:
            self._spawn(self.export(path))

    def describe_filters(self) -> str:
        """The filters in words, for the export's audit record: 'last 24 h, twin=drillrig1, priority=1'."""
        parts = [self.range.describe()]
        for name, box in (("twin", self.twin_box), ("priority", self.priority_box), ("user", self.user_box)):
            if box.currentData() is not None:
                parts.append(f"{name}={box.currentData()}")
        if self.search.text().strip():
            parts.append(f"text={self.search.text().strip()}")
        return ", ".join(parts)

    async def export(self, path: str) -> int | None:
        """Write every entry matching the filters to ``path`` (oldest first), audited; show the outcome."""
        if self.ctx.commands is None:
            return None
        try:
            export_format(path)  # an unknown suffix is refused before anything is read
            q = self.query(limit=EXPORT_LIMIT)
        except Exception as error:  # noqa: BLE001 - shown in one line
            self.status.setText(failure_text("export failed", error))
            return None
        text, what = self.search.text(), self.describe_filters()
        target = str(Path(path).resolve())

        def run(commands: CommandService) -> int:
            commands.authorize(EXPORT, target)  # a refusal is on the record before anything is read
            entries: list[JournalEntry] = read_journal(commands.engine, q, text)
            entries.reverse()  # a file reads in the order things happened
            return export_journal(commands, entries, path, what)

        done, n = await export_as_user(self.ctx, self.status, path, "alarm journal", run, self.recheck)
        if not done:
            return None
        self.status.setText(f"exported {n} event{'s' if n != 1 else ''} to {path}")
        return n

    # --- visibility (hidden, the live timer stops: ReportPane) ------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.recheck()
        if self.showing_content:
            self._seen_version = self._alarm_version()
            self.reload_later()
            self._live.start()


register_report_pane("alarm_journal", "Alarm journal", AlarmJournalPane, order=92)
