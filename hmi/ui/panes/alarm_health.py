"""Alarm health pane: how the alarm system performed over a period, against ISA-18.2 and EEMUA 191.

Compute reads the period's journal and works the figures out in an executor (a month of journal
takes seconds; the window goes on meanwhile). The findings come first, in words; then alarms per
10 minutes with the flood threshold, the floods, the chattering, stale and most frequent alarms and
the priority mix. Export… writes the report as an Excel workbook (export_report, audited).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from hmi.domain.alarm_health import FLOOD_ABOVE, AlarmHealth, Finding, pct_text, span_text
from hmi.services.alarm_reports import export_health, health_report
from hmi.services.commands import CommandService
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.health_view import Column, RateChart, rows_table
from hmi.ui.health_view import local_text as when
from hmi.ui.journal_model import priority_text
from hmi.ui.report_widgets import (
    EXPORT, PeriodPicker, ReportPane, ask_export_path, button, export_as_user, export_tooltip, failure_text,
    filter_row, in_executor, note_label, refusal_label, refusal_or_content, refusal_style, register_report_pane,
)  # fmt: skip

log = logging.getLogger(__name__)

NO_DATABASE = "This window has no database, so there is no alarm journal to judge."
PERIODS: tuple[tuple[str, float | None], ...] = (
    ("last 24 h", 86400.0), ("last 7 days", 7 * 86400.0), ("last 30 days", 30 * 86400.0), ("custom…", None),
)  # fmt: skip
NOT_YET = "Choose a period and press Compute: the findings, the alarm rate and the worst alarms appear here."
OK_MARK, NOT_OK_MARK, FIGURE_MARK = "✔", theme.SHAPE_WARNING, "•"
EXCEL_ONLY = {"Excel workbook (*.xlsx)": ".xlsx"}


def stylesheet(p: theme.Palette) -> str:
    """The pane's QSS: calm greys and large findings; a finding that misses its target is bold with a shape."""
    return f"""
    {refusal_style(p, "healthRefusal")}
    QLabel#healthFindings {{ color: {p.text}; font-size: {theme.TITLE_PT + 2}pt; background: {p.panel};
        border: 1px solid {p.border}; padding: 8px; }}
    QLabel#healthState {{ color: {p.muted}; }}
    QLabel#healthFloodShare {{ color: {p.text}; font-size: {theme.TITLE_PT}pt; }}
    QGroupBox {{ font-weight: bold; }}
    """


def finding_html(f: Finding) -> str:
    """One finding as a line: ✔ met, ▲ NOT MET in bold, • a figure without a target."""
    text = f.text[:1].upper() + f.text[1:]
    if f.ok is None:
        return f"{FIGURE_MARK} {_esc(text)}"
    if f.ok:
        return f"{OK_MARK} {_esc(text)}"
    return f"<b>{NOT_OK_MARK} NOT MET: {_esc(text)}</b>"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def flood_share_text(h: AlarmHealth) -> str:
    """'In flood 2.3% of the time (2 floods; ISA-18.2: < 1%)'."""
    n = len(h.floods)
    if not n:
        return f"Never in flood (more than {FLOOD_ABOVE} alarms in 10 min)"
    return (f"In flood {pct_text(h.flood_share)} of the time: {n} flood{'s' if n != 1 else ''} "
            f"(more than {FLOOD_ABOVE} alarms in 10 min; ISA-18.2: under 1% of the time)")  # fmt: skip


def _alarm(ref) -> str:  # noqa: ANN001 - an AlarmRef
    return f"{ref.message} ({ref.alarm_id})" if ref.message else ref.alarm_id


FLOOD_COLUMNS = (
    Column("start", lambda f: when(f.start), lambda f: f.start),
    Column("end", lambda f: when(f.end) + (" (still on)" if f.ongoing else ""), lambda f: f.end),
    Column("duration", lambda f: span_text(f.duration), lambda f: f.duration, right=True),
    Column("alarms", lambda f: str(f.count), lambda f: f.count, right=True),
    Column("alarms that made most of it", lambda f: ", ".join(f"{a} ({n})" for a, n in f.top)),
)
CHATTER_COLUMNS = (
    Column("alarm", lambda c: _alarm(c.alarm)),
    Column("priority", lambda c: priority_text(c.alarm.priority), lambda c: c.alarm.priority),
    Column("alarms", lambda c: str(c.count), lambda c: c.count, right=True),
    Column("bursts", lambda c: str(c.bursts), lambda c: c.bursts, right=True),
    Column("most in 60 s", lambda c: str(c.max_in_60s), lambda c: c.max_in_60s, right=True),
)
STALE_COLUMNS = (
    Column("alarm", lambda s: _alarm(s.alarm)),
    Column("priority", lambda s: priority_text(s.alarm.priority), lambda s: s.alarm.priority),
    Column("active since", lambda s: when(s.since), lambda s: s.since),
    Column("for", lambda s: span_text(s.active_for), lambda s: s.active_for, right=True),
    Column("state at the end", lambda s: s.state.value.replace("_", " ")),
)
TOP_COLUMNS = (
    Column("alarm", lambda t: _alarm(t.alarm)),
    Column("priority", lambda t: priority_text(t.alarm.priority), lambda t: t.alarm.priority),
    Column("alarms", lambda t: str(t.count), lambda t: t.count, right=True),
    Column("share", lambda t: pct_text(t.share), lambda t: t.share, right=True),
)
MIX_COLUMNS = (
    Column("priority", lambda p: priority_text(p.priority), lambda p: p.priority),
    Column("alarms", lambda p: str(p.count), lambda p: p.count, right=True),
    Column("share", lambda p: pct_text(p.share) if p.count else "0%", lambda p: p.share, right=True),
    Column("band", lambda p: p.band),
    Column("band share", lambda p: pct_text(p.band_share) if p.band_share else "0%", lambda p: p.band_share, right=True),
    Column("EEMUA 191 guidance", lambda p: f"about {p.guidance:.0f}%", lambda p: p.guidance, right=True),
)


class AlarmHealthPane(ReportPane):
    """The alarm system's health over a chosen period; ``clock`` gives UTC epoch seconds (tests inject their own)."""

    def __init__(self, ctx: AppContext, clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:
        super().__init__(ctx, clock, "alarmHealthPane", stylesheet, parent)
        self.health: AlarmHealth | None = None
        self._build()
        self.follow()
        self.recheck()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.refusal = refusal_label(NO_DATABASE, "healthRefusal")

        self.period = PeriodPicker(PERIODS, 0, "health", self._clock)
        self.compute_button = button("Compute", "healthCompute", lambda: self._spawn(self.compute()),
                                     "Read the period's alarm journal and judge it against ISA-18.2 / EEMUA 191")
        self.export_button = button("Export…", "healthExport", self._on_export)
        self.state = note_label("healthState")  # computing…, the period computed, or why it failed
        top = filter_row((self.period, self.compute_button, self.export_button, self.state), stretch=self.state)

        self.findings = QLabel(NOT_YET)
        self.findings.setObjectName("healthFindings")
        self.findings.setWordWrap(True)
        self.findings.setTextFormat(Qt.TextFormat.RichText)
        self.findings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        self.chart = RateChart()
        self.chart.setMinimumHeight(220)
        self.flood_share = QLabel("")
        self.flood_share.setObjectName("healthFloodShare")
        self.flood_share.setWordWrap(True)
        self.floods, self.floods_model = rows_table("healthFloods", FLOOD_COLUMNS, parent=self)
        self.chattering, self.chattering_model = rows_table("healthChattering", CHATTER_COLUMNS, 0, self)
        self.stale, self.stale_model = rows_table("healthStale", STALE_COLUMNS, 0, self)
        self.top, self.top_model = rows_table("healthTop", TOP_COLUMNS, 0, self)
        self.mix, self.mix_model = rows_table("healthMix", MIX_COLUMNS, parent=self)

        body = QWidget()
        v = QVBoxLayout(body)
        v.setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.findings)
        rate = QGroupBox("Alarms per 10 minutes")
        r = QVBoxLayout(rate)
        r.addWidget(self.chart)
        r.addWidget(self.flood_share)
        r.addWidget(self.floods)
        v.addWidget(rate)
        grid = QGridLayout()
        self.boxes: dict[str, QGroupBox] = {}
        self.nones: dict[str, QLabel] = {}  # "none" in words where a table would be empty
        for i, (title, view, none) in enumerate((
            ("The 10 most frequent alarms", self.top, "No alarm in the period."),
            ("Priority mix", self.mix, ""),
            ("Chattering alarms (3 or more in 60 s)", self.chattering, "✔ No chattering alarm."),
            ("Stale alarms (active over 24 h)", self.stale, "✔ No stale alarm."),
        )):  # fmt: skip
            box = QGroupBox(title)
            inner = QVBoxLayout(box)
            inner.addWidget(view)
            self.nones[view.objectName()] = label = QLabel(none)
            label.setObjectName(f"{view.objectName()}None")
            inner.addWidget(label)
            inner.addStretch(1)
            self.boxes[title] = box
            grid.addWidget(box, i // 2, i % 2, Qt.AlignmentFlag.AlignTop)
        v.addLayout(grid)
        v.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self._set_results_visible(False)

        content = QWidget()
        c = QVBoxLayout(content)
        c.setContentsMargins(4, 4, 4, 4)
        c.addLayout(top)
        c.addWidget(scroll, 1)
        self.content = content
        self.stack = refusal_or_content(self, self.refusal, content)

    def _set_results_visible(self, on: bool) -> None:
        for w in (self.chart.parentWidget(), *self.boxes.values()):
            w.setVisible(on)

    def _on_theme(self, palette: theme.Palette) -> None:
        super()._on_theme(palette)
        self.chart.apply_colours()
        if self.health is not None:
            self.chart.show_health(self.health)

    # --- the session -------------------------------------------------------------------------------

    def recheck(self) -> None:
        """Show the pane when there is a database; enable Export… for a role that may export a computed report."""
        if self.ctx.commands is None:
            self.stack.setCurrentWidget(self.refusal)
            return
        self.stack.setCurrentWidget(self.content)
        may = self.ctx.may(EXPORT)
        self.export_button.setEnabled(may and self.health is not None)
        tip = export_tooltip(self.ctx, "the alarm health report as an Excel workbook")
        self.export_button.setToolTip(tip if not may or self.health is not None else "Compute the health first")

    # --- computing ---------------------------------------------------------------------------------

    async def compute(self) -> AlarmHealth | None:
        """Read the period's journal and compute its health in an executor; show it, or why not."""
        if self.ctx.commands is None:
            return None
        try:
            start, end = self.period.period()
        except ValueError as error:
            self.state.setText(f"{theme.SHAPE_WARNING} {error}")
            return None
        now = self._clock()
        engine = self.ctx.commands.engine
        self._generation += 1
        generation = self._generation
        self.compute_button.setEnabled(False)
        self.state.setText(f"computing… ({self.period.describe()}; a month of journal takes a few seconds)")
        began = time.monotonic()
        try:
            health = await in_executor(health_report, engine, start, end, now)
        except Exception as error:  # noqa: BLE001 - shown in words; the pane goes on
            if generation == self._generation:
                log.warning("alarm health could not be computed: %s", error)
                self.state.setText(failure_text("the alarm health could not be computed", error))
            return None
        finally:
            if generation == self._generation:
                self.compute_button.setEnabled(True)
        if generation != self._generation:
            return None
        self.show_health(health)
        took = time.monotonic() - began
        self.state.setText(f"{when(health.start)} to {when(health.until)} ({span_text(health.duration)}), "
                           f"{health.annunciations} alarms; computed in {took:.1f} s")  # fmt: skip
        return health

    def show_health(self, h: AlarmHealth) -> None:
        """Show a computed health: findings, chart, tables."""
        self.health = h
        self.findings.setText("<br>".join(finding_html(f) for f in h.findings))
        self.chart.show_health(h)
        self.flood_share.setText(flood_share_text(h))
        self._set_results_visible(True)
        for view, model, rows in (
            (self.floods, self.floods_model, h.floods), (self.chattering, self.chattering_model, h.chattering),
            (self.stale, self.stale_model, h.stale), (self.top, self.top_model, h.top),
            (self.mix, self.mix_model, h.priority_mix),
        ):  # fmt: skip
            model.set_rows(rows)
            view.setVisible(bool(rows))
            if view.objectName() in self.nones:
                self.nones[view.objectName()].setVisible(not rows)
        self.recheck()

    # --- exporting ---------------------------------------------------------------------------------

    def _on_export(self) -> None:
        path = ask_export_path(self, "Export the alarm health report", "alarm-health", self._clock(), EXCEL_ONLY)
        if path:
            self._spawn(self.export(path))

    async def export(self, path: str) -> bool:
        """Write the computed report to ``path`` as Excel through the audited command; show the outcome."""
        h = self.health
        if h is None or self.ctx.commands is None:
            return False
        period = f"{when(h.start)} to {when(h.until)}"

        def run(commands: CommandService) -> None:
            export_health(commands, h, path)

        done, _ = await export_as_user(self.ctx, self.state, path, "alarm health", run, self.recheck)
        if not done:
            return False
        self.state.setText(f"exported the alarm health report ({period}) to {path}")
        return True


register_report_pane("alarm_health", "Alarm health", AlarmHealthPane, order=94)
