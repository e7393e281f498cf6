"""The OEE pane's parts: a large figure with its target, the words for a factor, the shift table's and the
orders table's columns, and the six big losses in words.

Below target is marked by a sign and words ("▼ below target 85 %") with amber behind them, never by colour
alone; a factor that cannot be computed says why ("no planned time"), never 100 % and never a blank.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from hmi.domain.oee import NO_PLANNED_TIME, NO_PRODUCTION, NOT_OBSERVED, BigLoss, OeeFigures, OeeTargets
from hmi.ui import theme
from hmi.ui.order_model import Column
from hmi.ui.order_text import NONE_TEXT, percent, span_text, units

SHAPE_BELOW = "▼"
NO_SHIFT = "no shift now"
FACTORS = ("oee", "availability", "performance", "quality")
FACTOR_TITLES = {"oee": "OEE", "availability": "Availability", "performance": "Performance", "quality": "Quality"}
LOSS_WORDS = {
    BigLoss.BREAKDOWNS: "Breakdowns", BigLoss.SETUP: "Setup / adjustment", BigLoss.MINOR_STOPS: "Minor stops",
    BigLoss.REDUCED_SPEED: "Reduced speed", BigLoss.PRODUCTION_REJECTS: "Production rejects",
    BigLoss.STARTUP_REJECTS: "Start-up rejects",
}  # fmt: skip
SHORT_MISSING = {NO_PLANNED_TIME: "not planned", NO_PRODUCTION: "no output", NOT_OBSERVED: "no data yet"}
BIG_PT = 40  # the current shift's figures: readable across the room
COMPACT_PT = 26  # the same in a narrow dock (four in one row)


def target_of(targets: OeeTargets, factor: str) -> float:
    """The target of one factor ("oee", "availability", ...)."""
    return float(getattr(targets, factor))


def value_of(f: OeeFigures, factor: str) -> float | None:
    """One factor of a row, None where it cannot be computed."""
    return getattr(f, factor)


def below(value: float | None, target: float) -> bool:
    """True for a computed value under its target (a missing one is not 'below': it says why instead)."""
    return value is not None and value < target - 1e-9


def missing_text(f: OeeFigures) -> str:
    """Why a factor is missing, in words ("no planned time"); never empty."""
    return f.missing or "not computed"


def short_missing(f: OeeFigures) -> str:
    """Why a factor is missing in a table cell's few words ("not planned", "no output", "no data yet"); the tip
    says it whole."""
    return SHORT_MISSING.get(f.missing, missing_text(f))


def factor_text(f: OeeFigures, factor: str, targets: OeeTargets, short: bool = False) -> str:
    """'72.4 %', '▼ 72.4 %' under the target, or the reason it is missing (``short``: in a table cell)."""
    value = value_of(f, factor)
    if value is None:
        return short_missing(f) if short else missing_text(f)
    text = percent(value)
    return f"{SHAPE_BELOW} {text}" if below(value, target_of(targets, factor)) else text


def shift_columns(targets: Callable[[], OeeTargets]) -> tuple[Column[OeeFigures], ...]:
    """Shift, the four factors, planned and down time, produced (run time, micro-stops and good in the tips)."""

    def factor(key: str) -> Column[OeeFigures]:
        return Column(key, FACTOR_TITLES[key], lambda f: factor_text(f, key, targets(), short=True),
                      lambda f: -1.0 if value_of(f, key) is None else value_of(f, key), right=True,
                      abnormal=lambda f: theme.WARNING if below(value_of(f, key), target_of(targets(), key)) else None,
                      tip=lambda f: (f"{missing_text(f)}; " if value_of(f, key) is None else "")
                      + f"target {percent(target_of(targets(), key), 0)}")  # fmt: skip

    return (
        Column("shift", "Shift", lambda f: f.label, lambda f: f.start_us),
        *(factor(k) for k in FACTORS),
        Column("planned", "Planned", lambda f: span_text(f.planned_s), lambda f: f.planned_s, right=True,
               tip=lambda f: f"planned busy time; run time {span_text(f.run_s)}"),
        Column("down", "Down", lambda f: span_text(f.unplanned_down_s), lambda f: f.unplanned_down_s, right=True,
               tip=lambda f: f"unplanned downtime; {f.micro_stops} micro-stops, {span_text(f.micro_stop_s)}"),
        Column("produced", "Produced", lambda f: units(f.produced), lambda f: f.produced, right=True,
               tip=lambda f: f"{units(f.good)} good"),
    )  # fmt: skip


def output_columns() -> tuple[Column[Any], ...]:
    """Job, product, line, produced, good, defective, yield (of an OrderOutput)."""
    return (
        Column("job", "Job", lambda o: o.job_number, tip=lambda o: f"order {o.order_id}"),
        Column("product", "Product", lambda o: o.product),
        Column("line", "Line", lambda o: o.line),
        Column("produced", "Produced", lambda o: units(o.produced), lambda o: o.produced, right=True),
        Column("good", "Good", lambda o: units(o.good), lambda o: o.good, right=True),
        Column("defective", "Defective", lambda o: units(o.defective), lambda o: o.defective, right=True),
        Column("yield", "Yield", lambda o: percent(o.good / o.produced) if o.produced else NONE_TEXT,
               lambda o: o.good / o.produced if o.produced else -1.0, right=True),
    )  # fmt: skip


def shift_span(f: OeeFigures, tz: Any = None) -> str:
    """'06:00–14:00' in the workstation's time zone."""
    start = datetime.fromtimestamp(f.start_us / 1e6, tz=timezone.utc).astimezone(tz)
    end = datetime.fromtimestamp(f.end_us / 1e6, tz=timezone.utc).astimezone(tz)
    return f"{start:%H:%M}–{end:%H:%M}"


class FigureTile(QFrame):
    """One large figure (OEE or a factor) with its target; below target: amber with ▼ and the words."""

    def __init__(self, factor: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.factor = factor
        self.setObjectName(f"oeeTile_{factor}")
        self.setProperty("role", "oeeTile")
        self.setProperty("state", "none")
        self.title = QLabel(FACTOR_TITLES[factor])
        self.title.setProperty("role", "oeeTileTitle")
        self.value = QLabel(NONE_TEXT)
        self.value.setProperty("role", "oeeTileValue")
        self.value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.target = QLabel("")
        self.target.setProperty("role", "oeeTileTarget")
        self.state = QLabel("")
        self.state.setProperty("role", "oeeTileState")
        v = QVBoxLayout(self)
        v.setContentsMargins(14, 8, 14, 10)
        v.setSpacing(2)
        for w in (self.title, self.value, self.target, self.state):
            # No minimum width of their own: in a narrow dock the OEE pane makes the figures smaller first
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            v.addWidget(w)
        self.state.setWordWrap(True)

    def set_compact(self, on: bool) -> None:
        """Smaller figures (a narrow dock) or the large ones."""
        size = "compact" if on else "large"
        if self.property("density") == size:
            return
        for w in (self, self.title, self.value, self.target, self.state):
            w.setProperty("density", size)
            w.style().unpolish(w)
            w.style().polish(w)

    def show_figures(self, f: OeeFigures | None, targets: OeeTargets, nothing: str = NO_SHIFT) -> None:
        """Show the factor of ``f`` against its target; None: ``nothing`` in words."""
        target = target_of(targets, self.factor)
        self.target.setText(f"target {percent(target, 0)}")
        value = None if f is None else value_of(f, self.factor)
        if f is None or value is None:
            self.value.setText(nothing if f is None else missing_text(f))
            self._state("missing", "")
        elif below(value, target):
            self.value.setText(f"{SHAPE_BELOW} {percent(value)}")
            self._state("below", f"below target by {(target - value) * 100:.1f} points")
        else:
            self.value.setText(percent(value))
            self._state("ok", "on target")

    def _state(self, state: str, words: str) -> None:
        self.state.setText(words)
        for w in (self, self.title, self.value, self.target, self.state):
            w.setProperty("state", state)
            w.style().unpolish(w)
            w.style().polish(w)


def tile_style(p: theme.Palette) -> str:
    """The tiles' QSS: calm panels, the value very large; below target amber behind a sign and words."""
    return f"""
    QFrame[role="oeeTile"] {{ background: {p.panel}; border: 1px solid {p.border}; border-radius: 4px; }}
    QFrame[role="oeeTile"][state="below"] {{ background: {theme.WARNING}; border: 3px solid #000000; }}
    QLabel[role="oeeTileTitle"] {{ font-size: {theme.TITLE_PT + 2}pt; font-weight: bold; color: {p.text};
                                   background: transparent; border: none; }}
    QLabel[role="oeeTileValue"] {{ font-size: {BIG_PT}pt; font-weight: bold; color: {p.text};
                                   background: transparent; border: none; }}
    QLabel[role="oeeTileValue"][state="missing"] {{ font-size: {theme.VALUE_PT}pt; color: {p.text}; }}
    QLabel[role="oeeTileTarget"], QLabel[role="oeeTileState"] {{ font-size: {theme.TITLE_PT}pt; color: {p.muted};
                                   background: transparent; border: none; }}
    QLabel[role="oeeTileTitle"][state="below"], QLabel[role="oeeTileValue"][state="below"],
    QLabel[role="oeeTileTarget"][state="below"], QLabel[role="oeeTileState"][state="below"] {{ color: #000000; }}
    QLabel[role="oeeTileTitle"][density="compact"] {{ font-size: {theme.TITLE_PT}pt; }}
    QLabel[role="oeeTileValue"][density="compact"] {{ font-size: {COMPACT_PT}pt; }}
    QLabel[role="oeeTileValue"][density="compact"][state="missing"] {{ font-size: {theme.TITLE_PT}pt; }}
    QLabel[role="oeeTileTarget"][density="compact"], QLabel[role="oeeTileState"][density="compact"] {{
        font-size: {theme.BASE_PT}pt; }}
    """
