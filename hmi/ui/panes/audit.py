"""Audit pane: the audit trail for admins and shift supervisors, with filters, a chain check and an export.

Everyone else (and a locked station) sees one calm line and no records. Every read goes through
hmi.services.audit_view in an executor (never on the GUI thread) as the session's user; while the
pane is visible it asks every few seconds only for the records after the newest one it has.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from hmi.domain.audit import US, AuditQuery, ChainReport, Event, Outcome
from hmi.domain.permissions import Action, PermissionDenied
from hmi.domain.session import SessionLocked
from hmi.services import audit_view
from hmi.ui import theme
from hmi.ui.audit_model import COL, AuditTableModel
from hmi.ui.context import AppContext
from hmi.ui.report_widgets import (
    ReportPane, add_choices, ask_export_path, button, failure_text, filter_combo, filter_row, in_executor, note_label,
    paged_content, refusal_label, refusal_or_content, refusal_style, register_report_pane, report_table, search_box,
    shown_text,
)  # fmt: skip
from hmi.ui.table_sorting import sort_proxy

log = logging.getLogger(__name__)

REFUSAL = "The audit trail is for admins and shift supervisors: log in as one to see it."
NO_DATABASE = "This window has no database, so there is no audit trail to show."
RANGES: tuple[tuple[str, float | None], ...] = (
    ("last hour", 3600.0), ("shift (8 h)", 8 * 3600.0), ("24 h", 86400.0), ("7 days", 7 * 86400.0), ("all", None),
)  # fmt: skip
DEFAULT_RANGE = 2  # 24 h
ALL_USERS, ALL_ACTIONS, ALL_RESULTS = "all users", "all actions", "all results"
ACTIONS = sorted({a.value for a in Action} | {e.value for e in Event})
POLL_MS = 5000
SEARCH_DEBOUNCE_MS = 400
SHOW_LIMIT = 5000  # rows kept on screen; the export takes every matching record
MAX_PROBLEM_LINES = 8


def stylesheet(p: theme.Palette) -> str:
    """The pane's QSS: calm greys; a broken chain in the high-alarm colour, always with a shape and words."""
    return f"""
    {refusal_style(p, "auditRefusal")}
    QLabel#auditCount {{ color: {p.muted}; }}
    QLabel#auditChain[chain="intact"] {{ color: {p.text}; }}
    QLabel#auditChain[chain="broken"] {{ background: {theme.ALARM_HIGH}; color: #FFFFFF; font-weight: bold;
        padding: 4px; }}
    """


class AuditPane(ReportPane):
    """The audit trail as a table; ``clock`` gives UTC epoch seconds (tests inject their own)."""

    def __init__(self, ctx: AppContext, clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:
        super().__init__(ctx, clock, "auditPane", stylesheet, parent)
        self._viewer: tuple[str, str] | None = None  # (name, role) whose records are shown
        self._last_seq = 0
        self._loaded = -1  # the generation whose full load has arrived; polls add to that only
        self._polling = False
        self._read_failed = False
        self.model = AuditTableModel(parent=self)
        self.proxy = sort_proxy(self.model, self)
        self._poll = self.while_visible(POLL_MS, self._on_poll)
        self._debounce = self.timer(SEARCH_DEBOUNCE_MS, self.reload_later, single_shot=True)
        self._build()
        self.follow()
        self.recheck(load=False)

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.refusal = refusal_label(REFUSAL, "auditRefusal")

        self.range_box = QComboBox()
        self.range_box.setObjectName("auditRange")
        for label, seconds in RANGES:
            self.range_box.addItem(label, seconds)
        self.range_box.setCurrentIndex(DEFAULT_RANGE)
        self.user_box = filter_combo("auditUser", ALL_USERS, [])
        self.action_box = filter_combo("auditAction", ALL_ACTIONS, [(a, a) for a in ACTIONS])
        self.result_box = filter_combo("auditResult", ALL_RESULTS, [(o.value, o.value) for o in Outcome])
        for box in (self.range_box, self.user_box, self.action_box, self.result_box):
            box.activated.connect(lambda _i: self.reload_later())
        self.search = search_box("auditSearch", "search target, values, detail, user, workstation", self._debounce.start)
        self.refresh_button = button("Refresh", "auditRefresh", self.reload_later)
        self.verify_button = button("Verify chain", "auditVerify", lambda: self._spawn(self.verify()),
                                    "Check that no record was changed or deleted since it was written")  # fmt: skip
        self.export_button = button("Export…", "auditExport", self._on_export,
                                    "Write the records that match the filters to Excel or CSV (recorded in the trail)")
        filters = filter_row((self.range_box, self.user_box, self.action_box, self.result_box, self.search,
                              self.refresh_button, self.verify_button, self.export_button), stretch=self.search)  # fmt: skip

        widths = {"#": 60, "time": 190, "action": 130, "target": 220, "old": 110, "new": 110, "result": 110}
        self.table = report_table("auditTable", self.proxy, COL["#"], {COL[n]: w for n, w in widths.items()})
        self.count = QLabel("")  # how many records are shown, or that they are being read
        self.count.setObjectName("auditCount")
        self.status = note_label("auditStatus")  # what became of the last export or read: a word, not only a colour
        self.chain = note_label("auditChain")
        self.chain.hide()
        self.content = paged_content(filters, self.table, self.count, self.status, above=[self.chain])
        self.stack = refusal_or_content(self, self.refusal, self.content)

    # --- who may see it ----------------------------------------------------------------------------

    def recheck(self, load: bool = True) -> None:
        """Show the trail to someone who may view it, the refusal line to anyone else; reload for a new viewer."""
        user = self.ctx.session.user
        viewer = (user.name, user.role) if user is not None else None
        if not self.ctx.may(Action.VIEW_AUDIT):
            self._refuse(REFUSAL)
            return
        if self.ctx.commands is None:
            self._refuse(NO_DATABASE)
            return
        self.stack.setCurrentWidget(self.content)
        if viewer != self._viewer:
            self._generation += 1
            self.model.clear()
            self._last_seq = 0
            self.chain.hide()
            self.count.setText("")
            self.status.setText("")
            if load:  # the viewer counts as served once their records are asked for
                self._viewer = viewer
                self.reload_later()
        if self.isVisible() and not self._poll.isActive():
            self._poll.start()

    def _refuse(self, text: str) -> None:
        self._generation += 1  # answers on their way are for someone else: drop them
        self._viewer = None
        self._last_seq = 0
        self.model.clear()
        self.chain.hide()
        self.count.setText("")
        self.status.setText("")
        self.refusal.setText(text)
        self.stack.setCurrentWidget(self.refusal)

    # --- reading -----------------------------------------------------------------------------------

    def query(self) -> AuditQuery:
        """The filters on screen as a query (the time range counted back from now)."""
        seconds = self.range_box.currentData()
        since = None if seconds is None else int((self._clock() - float(seconds)) * US)
        return AuditQuery(
            since_us=since, user=self.user_box.currentData(), action=self.action_box.currentData(),
            result=self.result_box.currentData(), text=self.search.text().strip() or None, limit=SHOW_LIMIT,
        )  # fmt: skip

    def reload_later(self) -> None:
        """Read the records for the filters on screen (in the background)."""
        self._debounce.stop()
        self._spawn(self.reload())

    async def reload(self) -> None:
        """Read the records for the filters on screen and show them."""
        if not self._allowed_now():
            return
        self._generation += 1
        generation = self._generation
        q = self.query()
        self.count.setText("reading the audit trail…")
        try:
            page = await self.ctx.command(lambda commands: audit_view.load(commands, q))
        except Exception as error:  # noqa: BLE001 - shown in one line; the pane goes on
            if generation == self._generation:
                self.count.setText("")
                self._read_failed = True
                self._failed("could not read the audit trail", error)
            return
        if generation != self._generation:
            return
        self.model.set_records(page.records)
        self._last_seq = page.last_seq
        self._loaded = generation
        if self._read_failed:
            self._read_failed = False
            self.status.setText("")
        add_choices(self.user_box, (r.entry.user for r in page.records))
        self._show_count()

    async def poll(self) -> None:
        """Add the records written since the last read that match the filters (cheap when there are none)."""
        if self._polling or self._loaded != self._generation or not self._allowed_now():
            return
        generation, after, q = self._generation, self._last_seq, self.query()
        self._polling = True
        try:
            new = await self.ctx.command(lambda commands: audit_view.records_after(commands, after, q))
        except Exception as error:  # noqa: BLE001 - shown in one line; the next poll tries again
            if generation == self._generation:
                self._failed("could not read new audit records", error)
            return
        finally:
            self._polling = False
        if generation != self._generation:
            return
        self._last_seq = max(self._last_seq, new.last_seq)
        if self.model.add_newer(new.records, keep=SHOW_LIMIT):
            add_choices(self.user_box, (r.entry.user for r in new.records))
            self._show_count()

    def _allowed_now(self) -> bool:
        if not self.ctx.may(Action.VIEW_AUDIT) or self.ctx.commands is None:
            self.recheck(load=False)
            return False
        return True

    def _on_poll(self) -> None:
        if not self.isVisible():
            self._poll.stop()
            return
        if self._allowed_now():
            self._spawn(self.poll())

    def _show_count(self) -> None:
        self.count.setText(shown_text(self.model.rowCount(), "record", SHOW_LIMIT))

    def _failed(self, what: str, error: Exception) -> None:
        if isinstance(error, (PermissionDenied, SessionLocked)):
            self.recheck(load=False)
            return
        log.warning("%s: %s", what, error)
        self.status.setText(failure_text(what, error))

    # --- verifying -----------------------------------------------------------------------------------

    async def verify(self) -> ChainReport | None:
        """Walk the whole chain in an executor and show 'intact (N records)' or each problem."""
        if not self._allowed_now():
            return None
        engine = self.ctx.commands.engine  # type: ignore[union-attr] - checked by _allowed_now
        self.chain.setProperty("chain", "checking")
        self.chain.setText("verifying the chain…")
        self.chain.show()
        self._restyle(self.chain)
        try:
            report = await in_executor(audit_view.verify_trail, engine)
        except Exception as error:  # noqa: BLE001 - shown in one line
            self.chain.setProperty("chain", "unknown")
            self.chain.setText(failure_text("the chain could not be checked", error))
            self._restyle(self.chain)
            return None
        self.show_report(report)
        return report

    def show_report(self, report: ChainReport) -> None:
        """Show a chain report: one calm line when intact, the problems named by record when not."""
        if report.intact:
            self.chain.setProperty("chain", "intact")
            self.chain.setText(f"✔ Chain intact ({report.records} records, last #{report.last_seq})")
        else:
            lines = [audit_view.problem_line(p) for p in report.problems]
            shown = lines[:MAX_PROBLEM_LINES]
            if len(lines) > len(shown):
                shown.append(f"… and {len(lines) - len(shown)} more (hmi audit verify lists them all)")
            n = len(report.problems)
            head = f"{theme.SHAPE_ALARM} Chain NOT intact: {n} problem{'s' if n != 1 else ''} in {report.records} records"
            self.chain.setProperty("chain", "broken")
            self.chain.setText("\n".join([head, *shown]))
        self.chain.show()
        self._restyle(self.chain)

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    # --- exporting ------------------------------------------------------------------------------------

    def _on_export(self) -> None:
        path = ask_export_path(self, "Export the audit trail", "audit", self._clock())
        if path:
            self._spawn(self.export(path))

    async def export(self, path: str) -> int | None:
        """Write the records matching the filters to ``path`` through the audited service; show the outcome."""
        if not self._allowed_now():
            return None
        q = dataclasses.replace(self.query(), limit=audit_view.EXPORT_LIMIT)
        self.status.setText(f"exporting to {path}…")
        try:
            n = await self.ctx.command(lambda commands: audit_view.export_records(commands, q, path))
        except Exception as error:  # noqa: BLE001 - shown in one line
            self._failed("export failed", error)
            return None
        self.status.setText(f"exported {n} records to {path}")
        self._spawn(self.poll())  # the export is on the record now
        return n

    # --- visibility (hidden, the poll stops: ReportPane) -------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        viewer = self._viewer
        self.recheck()
        if self.showing_content and viewer is not None and viewer == self._viewer:
            self._spawn(self.poll())  # what was written while the pane was hidden


register_report_pane("audit", "Audit trail", AuditPane, order=90)
