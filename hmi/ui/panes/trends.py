"""The trends pane: several pens on one wall-clock axis, live and history together.

- Live part: ring buffers fed by the tag bus (hmi.domain.trend_buffers), for the pens' tags only:
  a pen's ring is made when the pen is put on and dropped when it is taken off, and the pane leaves
  the bus when it is closed or destroyed. History older than the buffers (for a new pen, all of it
  up to its first live sample) comes from the historian, downsampled to the plot's width, loaded in a worker thread
  (hmi.ui.history_loader) after the view stops moving (debounced), stale answers dropped.
- Follow mode keeps the x range on "now"; any pan or zoom by the user leaves it, "Live" returns.
- Redraw is coalesced: data and history arrivals only mark the pane dirty; one zero-delay
  single-shot timer redraws the visible, changed curves, at most once per refresh tick.
- Scaling: pens sharing one unit are drawn in that unit with their normal bands; pens of
  several units are drawn in % of each pen's engineering range (bands too). A check box
  forces % for pens of one unit. Readings (cursor, CSV) are always in engineering units.
- CSV export is long format, one row per sample (live) or per history bucket (its mean, with
  min/max): time_utc, tag, value, unit, quality, min, max, source.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.plant import TagKind, TagSpec
from hmi.domain.tags import Quality
from hmi.domain.trend_buffers import TrendBuffers
from hmi.ui.context import REFRESH_MS, AppContext
from hmi.ui.history_loader import HistoryLoader, TagHistory
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.trend_pen_groups import PenGroup, PenGroupStore
from hmi.ui.trend_plot import (
    TrendPlot,
    band_brush,
    bucket_width,
    buckets_to_curve,
    format_time,
    format_value,
    insert_gaps,
    make_curve,
    pen_for,
    set_curve_data,
    to_steps,
)
from hmi.ui.trend_tag_tree import TagTree

try:
    from hmi.ui import theme as _theme
except ImportError:  # pragma: no cover
    _theme = None

log = logging.getLogger(__name__)

SPANS: tuple[tuple[str, float], ...] = (("1 min", 60.0), ("10 min", 600.0), ("1 h", 3600.0), ("8 h", 28800.0), ("24 h", 86400.0))
DEFAULT_SPAN_S = 600.0
DEBOUNCE_MS = 150
FOLLOW_LEAD = 0.02  # of the span, kept free right of "now"
MIN_GAP_S = 10.0  # an analog pen with no sample for this long (or 10 sampling periods) shows a gap
HISTORY_SLACK_S = 5.0  # a history-only pen in follow mode reloads at most this often
MAX_PENS = 12
RETRY_S = 5.0  # after the historian failed, ask again no sooner than this


def max_gap(spec: TagSpec) -> float:
    """How long an analog pen may go without a sample before its line breaks; on/off and setpoints hold."""
    if spec.kind is not TagKind.ANALOG:
        return math.inf
    return max(MIN_GAP_S, 10 * spec.sampling_ms / 1000.0)


@dataclass(eq=False)
class Pen:
    """One curve of the trend and what it was drawn from."""

    spec: TagSpec
    index: int
    curve: pg.PlotDataItem
    band: pg.LinearRegionItem
    hist: TagHistory | None = None
    hist_xy: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.empty(0), np.empty(0)))
    drawn_key: tuple = ()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TrendsPane(QWidget):
    """Trends of the picked tags: live follow, history pan/zoom, bands, gaps, cursor, groups, export."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendsPane")
        self.ctx = ctx
        self.buffers = TrendBuffers(tags=())  # rings for the pens only (see set_pens)
        self._subscription = ctx.bus.subscribe(self.buffers)
        self.loader = HistoryLoader(ctx.history_url, self)
        self.loader.loaded.connect(self._on_history)
        self.loader.failed.connect(self._on_history_failed)
        loader, subscription = self.loader, self._subscription
        # Not a bound method: by the time destroyed is emitted the Python side may be gone.
        self.destroyed.connect(lambda *_: (subscription.unsubscribe(), loader.close()))
        self.pen_groups = PenGroupStore()
        self._pens: dict[str, Pen] = {}
        self._follow = True
        self._span = DEFAULT_SPAN_S
        self._percent_forced = False
        self._dirty = True
        self._programmatic = 0
        self._pending: tuple[int, tuple[str, ...], float, float] | None = None
        self.redraws = 0
        self.follow_steps = 0  # moves of the followed axis by the follow timer
        self._followed_at = -math.inf
        self.stale_dropped = 0
        self.history_error = ""
        self._retry_at = 0.0  # after a failed load, wait before asking again
        self.clock = time.time  # seconds since the epoch, UTC

        self._build()

        self._frame = QTimer(self)  # the coalescing redraw: many triggers, one redraw
        self._frame.setSingleShot(True)
        self._frame.setInterval(0)
        self._frame.timeout.connect(self._redraw_if_needed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._check_history)
        self._follow_timer = QTimer(self)  # keeps the axis on "now" when no data changes
        self._follow_timer.setInterval(REFRESH_MS)
        self._follow_timer.timeout.connect(self._on_follow_timer)
        self._follow_timer.start()

        ctx.tick.connect(self._on_tick)
        ctx.open_trends.connect(self._on_open_trends)
        vb = self.plot.getPlotItem().getViewBox()
        vb.setAutoVisible(y=True)
        vb.sigRangeChangedManually.connect(self._on_user_range)
        vb.sigXRangeChanged.connect(self._on_x_range)
        self.plot.cursor.sigPositionChanged.connect(self._update_cursor_label)
        if _theme is not None:
            _theme.signals().changed.connect(self._on_theme)
        self._apply_follow()

    # ----- building -----

    def _build(self) -> None:
        self.tree = TagTree(self.ctx.plant)
        self.tree.toggled.connect(self._on_tree_toggled)
        self.group_box = QComboBox()
        self.group_box.setObjectName("penGroups")
        self.group_box.setPlaceholderText("Pen groups")
        self.group_box.activated.connect(lambda i: self.restore_pen_group(self.group_box.itemText(i)))
        save = QPushButton("Save group…")
        save.clicked.connect(self._ask_save_group)
        delete = QPushButton("Delete")
        delete.clicked.connect(self._delete_group)
        groups_row = QHBoxLayout()
        groups_row.addWidget(self.group_box, 1)
        groups_row.addWidget(save)
        groups_row.addWidget(delete)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.tree, 1)
        lv.addLayout(groups_row)

        self.live_button = QToolButton()
        self.live_button.setObjectName("trendLive")
        self.live_button.setText("● Live")
        self.live_button.setCheckable(True)
        self.live_button.setChecked(True)
        self.live_button.setToolTip("Follow the newest values; any pan or zoom leaves live mode")
        self.live_button.clicked.connect(lambda on: self.set_follow(on))
        self.span_box = QComboBox()
        for label, seconds in SPANS:
            self.span_box.addItem(label, seconds)
        self.span_box.setCurrentIndex([s for _, s in SPANS].index(DEFAULT_SPAN_S))
        self.span_box.activated.connect(lambda i: self.set_span(float(self.span_box.itemData(i))))
        self.percent_box = QCheckBox("% of range")
        self.percent_box.setToolTip("Scale every pen to % of its engineering range (automatic for mixed units)")
        self.percent_box.toggled.connect(self._on_percent)
        self.cursor_button = QToolButton()
        self.cursor_button.setText("┃ Cursor")
        self.cursor_button.setCheckable(True)
        self.cursor_button.toggled.connect(self.set_cursor_visible)
        csv_button = QPushButton("CSV…")
        csv_button.setToolTip("Export the visible range of every pen to CSV")
        csv_button.clicked.connect(self._ask_export_csv)
        png_button = QPushButton("PNG…")
        png_button.setToolTip("Save the picture of the trend")
        png_button.clicked.connect(self._ask_export_png)
        self.status = QLabel("")
        self.status.setObjectName("trendStatus")
        self.tags_button = QToolButton()
        self.tags_button.setObjectName("trendTags")
        self.tags_button.setText("☰ Tags")
        self.tags_button.setCheckable(True)
        self.tags_button.setToolTip("Show the tree of twins to pick pens and pen groups")
        bar = QHBoxLayout()
        for w in (self.tags_button, self.live_button, self.span_box, self.percent_box, self.cursor_button):
            bar.addWidget(w)
        bar.addWidget(self.status, 1)
        bar.addWidget(csv_button)
        bar.addWidget(png_button)

        self.plot = TrendPlot()
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addLayout(bar)
        rv.addWidget(self.plot, 1)

        # Explicit minimums override the sum of the buttons' widths, which would otherwise keep
        # the dock at ~930 px and squeeze the overview beside it; narrow, the rows clip instead.
        left.setMinimumWidth(140)
        right.setMinimumWidth(320)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([190, 760])
        # The plot gets the whole pane until the operator asks for the tag tree.
        left.setVisible(False)
        self.tags_button.toggled.connect(left.setVisible)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)
        self._refresh_group_box()

    # ----- pens -----

    def pens(self) -> list[str]:
        """The tags on the trend, in pen order."""
        return list(self._pens)

    def pen(self, tag: str) -> Pen:
        """A pen by tag (KeyError when not shown)."""
        return self._pens[tag]

    def set_pens(self, tags: list[str] | tuple[str, ...]) -> None:
        """Show exactly these tags (unknown ones are skipped with a message), in this order."""
        known, unknown = [], []
        for tag in dict.fromkeys(tags):
            try:
                known.append(self.ctx.plant.tag(tag))
            except KeyError:
                unknown.append(tag)
        old = set(self._pens)
        for tag in list(self._pens):
            self._remove_pen_items(self._pens.pop(tag))
        for spec in known[:MAX_PENS]:
            self._add_pen_items(spec)
        if self._subscription.active:
            for tag in self._pens.keys() - old:
                self.buffers.keep(tag)
        for tag in old - self._pens.keys():
            self.buffers.release(tag)
        self.tree.set_checked(self._pens)
        self._pens_changed()
        if unknown:
            self._set_status(f"not in the plant: {', '.join(unknown)}")
        elif len(known) > MAX_PENS:
            self._set_status(f"at most {MAX_PENS} pens")

    def add_pen(self, tag: str) -> None:
        """Add one tag's pen at the end."""
        if tag not in self._pens:
            self.set_pens([*self._pens, tag])

    def remove_pen(self, tag: str) -> None:
        """Take one tag's pen off."""
        if tag in self._pens:
            self.set_pens([t for t in self._pens if t != tag])

    def _add_pen_items(self, spec: TagSpec) -> None:
        index = len(self._pens)
        curve = make_curve(f"{spec.twin}.{spec.parameter} [{spec.unit}]", pen_for(index))
        band = pg.LinearRegionItem(
            values=(spec.band_low, spec.band_high), orientation="horizontal", movable=False, brush=band_brush(index)
        )
        for line in band.lines:
            line.setPen(pg.mkPen(None))
        band.setZValue(-10)
        self.plot.addItem(band)
        self.plot.add_curve(curve)
        self._pens[spec.tag_id] = Pen(spec, index, curve, band)

    def _remove_pen_items(self, pen: Pen) -> None:
        self.plot.removeItem(pen.curve)
        self.plot.removeItem(pen.band)
        self.plot.legend.removeItem(pen.curve)

    def _pens_changed(self) -> None:
        units = {p.spec.unit for p in self._pens.values()}
        self.plot.getPlotItem().getViewBox().enableAutoRange(axis="y")
        self._update_axis_label(units)
        self._dirty = True
        self._frame.start()
        self._debounce.start(DEBOUNCE_MS)

    def percent_mode(self) -> bool:
        """True when pens are drawn in % of their engineering range (forced, or mixed units)."""
        return self._percent_forced or len({p.spec.unit for p in self._pens.values()}) > 1

    def _update_axis_label(self, units: set[str]) -> None:
        label = "% of range" if self.percent_mode() else (next(iter(units)) if units else "")
        self.plot.getPlotItem().setLabel("left", label)

    def _on_percent(self, on: bool) -> None:
        self._percent_forced = on
        self._pens_changed()

    def _on_tree_toggled(self, tag: str, on: bool) -> None:
        if on:
            self.add_pen(tag)
        else:
            self.remove_pen(tag)

    def _on_open_trends(self, tags: list[str]) -> None:
        self.set_pens(list(tags))
        self._raise_dock()

    def show_window(self, tags: list[str] | tuple[str, ...], t0: float, t1: float) -> None:
        """Show these tags over [t0, t1] (UTC epoch seconds; leaves follow mode) and bring the pane to the front."""
        self.set_pens(list(tags))
        self.set_x_range(t0, t1)
        self._raise_dock()

    def _raise_dock(self) -> None:
        dock = self.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.show()
            dock.raise_()

    # ----- time axis: follow mode and user pan/zoom -----

    @property
    def follow(self) -> bool:
        """True in live follow mode."""
        return self._follow

    def set_follow(self, on: bool) -> None:
        """Enter or leave live follow mode."""
        self._follow = on
        self.live_button.setChecked(on)
        if on:
            self.plot.getPlotItem().getViewBox().enableAutoRange(axis="y")
            self._apply_follow()
            self._dirty = True
            self._frame.start()

    def set_span(self, seconds: float) -> None:
        """Show this many seconds: ending now in follow mode, else ending where the view ends."""
        self._span = float(seconds)
        idx = self.span_box.findData(self._span)
        if idx >= 0:
            self.span_box.setCurrentIndex(idx)
        if self._follow:
            self._apply_follow()
        else:
            v1 = self.visible_range()[1]
            self.set_x_range(v1 - self._span, v1)

    def set_x_range(self, t0: float, t1: float) -> None:
        """Show [t0, t1] as if the user had panned there: leaves follow mode."""
        self.set_follow(False)
        self._set_x(t0, t1)

    def visible_range(self) -> tuple[float, float]:
        """The visible time range (UTC epoch seconds)."""
        x0, x1 = self.plot.getPlotItem().getViewBox().viewRange()[0]
        return float(x0), float(x1)

    def _set_x(self, t0: float, t1: float) -> None:
        self._programmatic += 1
        try:
            self.plot.getPlotItem().getViewBox().setXRange(t0, t1, padding=0)
        finally:
            self._programmatic -= 1

    def _apply_follow(self) -> None:
        now = self.clock()
        self._followed_at = now
        self._set_x(now - self._span, now + self._span * FOLLOW_LEAD)

    def seconds_per_pixel(self) -> float:
        """How far "now" must move for the followed axis to move by one pixel."""
        return self._span * (1 + FOLLOW_LEAD) / self.plot.view_width_px()

    def _on_user_range(self, *_args) -> None:  # noqa: ANN002
        if self._follow and not self._programmatic:
            self._follow = False
            self.live_button.setChecked(False)

    def _on_x_range(self, *_args) -> None:  # noqa: ANN002
        # Following slides the range every refresh: restarting the debounce then would starve history.
        if not (self._follow and self._debounce.isActive()):
            self._debounce.start(DEBOUNCE_MS)
        self._update_cursor_label()

    def _on_follow_timer(self) -> None:
        # The axis slides at the display's pace: only once "now" has moved by a pixel (every 0.9 s for
        # 10 minutes on 700 px), as a repaint of the plot for a tenth of a pixel shows nothing new.
        if self._follow and self.isVisible() and self.clock() - self._followed_at >= self.seconds_per_pixel():
            self._apply_follow()
            self.follow_steps += 1
            if any(p.spec.kind is not TagKind.ANALOG for p in self._pens.values()):
                self._dirty = True  # a held line (setpoint, on/off) grows to "now"
                self._frame.start()

    # ----- coalesced redraw -----

    def _on_tick(self, changed: set[str]) -> None:
        if self._pens and not changed.isdisjoint(self._pens):
            self._dirty = True
            self._frame.start()

    def _redraw_if_needed(self) -> None:
        if self._dirty and self.isVisible():
            self.redraw()

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        """Closed (by the main window as it closes, or as a window of its own): leave the bus, free the rings."""
        super().closeEvent(event)
        if event.isAccepted():
            self._subscription.unsubscribe()
            for tag in self.buffers.kept():
                self.buffers.release(tag)
            self.loader.close()

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().showEvent(event)
        if self._follow:
            self._apply_follow()
        self._frame.start()
        self._debounce.start(DEBOUNCE_MS)

    def redraw(self) -> None:
        """Give every changed pen its curve (history merged with the live buffer), bands and cursor label."""
        percent = self.percent_mode()
        seen: set[tuple[float, float]] = set()
        for pen in self._pens.values():
            held_until = int(self.clock()) if pen.spec.kind is not TagKind.ANALOG else 0  # held lines reach "now"
            key = (self.buffers.version(pen.spec.tag_id), id(pen.hist), percent, held_until)
            if key != pen.drawn_key:
                x, y = self.curve_xy(pen.spec.tag_id)
                if percent:
                    y = self._to_percent(pen.spec, y)
                set_curve_data(pen.curve, x, y)
                pen.drawn_key = key
            lo, hi = pen.spec.band_low, pen.spec.band_high
            if percent:
                lo, hi = (float(v) for v in self._to_percent(pen.spec, np.array([lo, hi])))
            pen.band.setRegion((lo, hi))
            # Pens with the same band share one shade (overlaid shades would darken the plot).
            pen.band.setVisible((lo, hi) not in seen)
            seen.add((lo, hi))
        self._update_cursor_label()
        self._dirty = False
        self.redraws += 1

    @staticmethod
    def _to_percent(spec: TagSpec, y: np.ndarray) -> np.ndarray:
        span = spec.eng_high - spec.eng_low
        return (y - spec.eng_low) * (100.0 / span) if span > 0 else y * 0.0 + 50.0

    def curve_xy(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """A pen's curve in engineering units: history older than the live buffer, then the buffer."""
        pen = self._pens[tag]
        gap = max_gap(pen.spec)
        first_live = self.buffers.first_ts(tag)
        hx, hy = pen.hist_xy
        if first_live is not None and hx.size:
            keep = int(np.searchsorted(hx, first_live, side="left"))
            hx, hy = hx[:keep], hy[:keep]
        lx, ly = self.buffers.window(tag, -math.inf, math.inf)
        held = pen.spec.kind is not TagKind.ANALOG
        if held:  # on/off and setpoints are sent on change: hold each value until the next, and to now
            lx, ly = to_steps(lx, ly, until=self.clock())
            if hx.size:
                hx, hy = to_steps(hx, hy)
        else:
            lx, ly = insert_gaps(lx, ly, gap)
        if not hx.size:
            return lx, ly
        if not lx.size:
            return hx, hy
        hist_w = bucket_width(pen.hist.t0, pen.hist.t1, pen.hist.points) if pen.hist else 0.0
        if lx[0] - hx[-1] > max(gap, 2.5 * hist_w):
            return np.concatenate((hx, [hx[-1]], lx)), np.concatenate((hy, [np.nan], ly))
        return np.concatenate((hx, lx)), np.concatenate((hy, ly))

    # ----- history -----

    def _check_history(self) -> None:
        """Ask the historian for what the visible range needs and the buffers and loaded history lack."""
        if not self._pens:
            return
        v0, v1 = self.visible_range()
        now = self.clock()
        if time.monotonic() < self._retry_at:
            self._debounce.start(int((self._retry_at - time.monotonic()) * 1000) + 1)
            return
        span = v1 - v0
        if span <= 0:
            return
        px = self.plot.view_width_px()
        want_w = span / px
        need = []
        for tag, pen in self._pens.items():
            first_live = self.buffers.first_ts(tag)
            hi = min(v1, now) if first_live is None else min(v1, now, first_live)
            if hi <= v0:
                continue  # the live buffer covers the whole view
            h = pen.hist
            if h is not None:
                slack = max(HISTORY_SLACK_S, 2 * want_w)
                fine_enough = bucket_width(h.t0, h.t1, h.points) <= max(2.0 * want_w, 1e-3)
                if h.t0 <= v0 and h.t1 >= hi - slack and fine_enough:
                    continue
            need.append(tag)
        if not need:
            return
        t0, t1 = v0 - span / 2, min(v1 + span / 2, now + 1.0)
        if self._pending is not None:
            _, p_tags, p0, p1 = self._pending
            if set(need) <= set(p_tags) and p0 <= v0 and p1 >= min(v1, now) - HISTORY_SLACK_S:
                return  # what is on its way will do
        req = self.loader.request(tuple(need), t0, t1, 2 * px)
        self._pending = (req.request_id, req.tags, t0, t1)
        self._set_status("Loading history…")

    def _on_history(self, request_id: int, result: dict[str, TagHistory]) -> None:
        if request_id != self.loader.latest_id:
            self.stale_dropped += 1
            return
        self._pending = None
        self.history_error = ""
        self._set_status("")
        for tag, h in result.items():
            pen = self._pens.get(tag)
            if pen is None:
                continue
            pen.hist = h
            pen.hist_xy = buckets_to_curve(
                h.t, h.vmin, h.vmax, bucket_width(h.t0, h.t1, h.points), max_gap(pen.spec), h.n_bad
            )
        self._dirty = True
        self._frame.start()
        self._debounce.start(DEBOUNCE_MS)  # the view may have moved while this loaded

    def _on_history_failed(self, request_id: int, reason: str) -> None:
        if request_id != self.loader.latest_id:
            return
        self._pending = None
        self._retry_at = time.monotonic() + RETRY_S
        self.history_error = reason
        self._set_status(f"History unavailable: {reason}")

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    # ----- cursor -----

    def set_cursor_visible(self, on: bool) -> None:
        """Show the reading cursor (in the middle of the view) or hide it."""
        if self.cursor_button.isChecked() != on:
            self.cursor_button.setChecked(on)
            return
        if on:
            v0, v1 = self.visible_range()
            self.plot.cursor.setValue((v0 + v1) / 2)
        self.plot.cursor.setVisible(on)
        self.plot.cursor_label.setVisible(on)
        self._update_cursor_label()

    def set_cursor_time(self, t: float) -> None:
        """Put the cursor at a time (shows it)."""
        self.set_cursor_visible(True)
        self.plot.cursor.setValue(t)

    def cursor_values(self, t: float) -> dict[str, float | None]:
        """Every pen's value at time t, in engineering units; None where there is none (gap, Bad, no data)."""
        out: dict[str, float | None] = {}
        for tag, pen in self._pens.items():
            value = None
            ring = self.buffers.ring(tag)
            first_live = ring.first_ts() if ring is not None else None
            if ring is not None and first_live is not None and t >= first_live:
                value = ring.value_at(t, max_age=max_gap(pen.spec))
            elif pen.hist is not None and pen.hist.t.size:
                h = pen.hist
                i = int(np.searchsorted(h.t, t, side="right")) - 1
                if i >= 0 and t < h.t[i] + bucket_width(h.t0, h.t1, h.points):
                    v = float(h.vavg[i])
                    value = None if math.isnan(v) else v
            out[tag] = value
        return out

    def _update_cursor_label(self, *_args) -> None:  # noqa: ANN002
        if not self.plot.cursor.isVisible():
            return
        t = float(self.plot.cursor.value())
        lines = [format_time(t)]
        for tag, value in self.cursor_values(t).items():
            spec = self._pens[tag].spec
            lines.append(f"{tag}: {format_value(value, spec.unit)}")
        self.plot.cursor_label.setText("\n".join(lines))
        y1 = self.plot.getPlotItem().getViewBox().viewRange()[1][1]
        self.plot.cursor_label.setPos(t, y1)

    # ----- pen groups -----

    def pen_group_names(self) -> list[str]:
        """The saved pen groups."""
        return self.pen_groups.names()

    def save_pen_group(self, name: str) -> None:
        """Save the current pens, span and scaling under a name."""
        self.pen_groups.save(PenGroup(name.strip(), tuple(self._pens), self._span, self._percent_forced))
        self._refresh_group_box()
        self._set_status(f"pen group {name.strip()!r} saved")

    def restore_pen_group(self, name: str) -> bool:
        """Show a saved group's pens; False (with a message) when there is no such group."""
        group = self.pen_groups.get(name)
        if group is None:
            self._set_status(self.pen_groups.problem or f"no pen group {name!r}")
            return False
        self.percent_box.setChecked(group.percent)
        self.set_pens(list(group.tags))
        self.set_span(group.span_s)
        return True

    def _refresh_group_box(self) -> None:
        self.group_box.clear()
        self.group_box.addItems(self.pen_groups.names())
        self.group_box.setCurrentIndex(-1)

    def _ask_save_group(self) -> None:
        name, ok = QInputDialog.getText(self, "Save pen group", "Name of the group:")
        if ok and name.strip():
            try:
                self.save_pen_group(name)
            except OSError as error:
                self._set_status(f"could not save the pen group: {error}")

    def _delete_group(self) -> None:
        name = self.group_box.currentText()
        if name and self.pen_groups.delete(name):
            self._refresh_group_box()

    # ----- export -----

    def export_csv(self, path: str | Path) -> int:
        """Write the visible range of every pen as CSV (long format, see the module doc); returns the rows."""
        v0, v1 = self.visible_range()
        names = {int(q): q.name for q in Quality}
        rows: list[tuple] = []
        for tag, pen in self._pens.items():
            unit = pen.spec.unit
            first_live = self.buffers.first_ts(tag)
            h = pen.hist
            if h is not None:
                stop = first_live if first_live is not None else math.inf
                for t, lo, hi, avg in zip(h.t, h.vmin, h.vmax, h.vavg, strict=True):
                    if v0 <= t <= v1 and t < stop:
                        bad = math.isnan(avg)
                        rows.append((t, tag, "" if bad else repr(float(avg)), unit, "BAD" if bad else "GOOD",
                                     "" if bad else repr(float(lo)), "" if bad else repr(float(hi)), "history"))
            ts, val, q = self.buffers.window_with_quality(tag, v0, v1)
            for t, v, qq in zip(ts, val, q, strict=True):
                rows.append((t, tag, "" if math.isnan(v) else repr(float(v)), unit, names.get(int(qq), str(qq)), "", "", "live"))
        rows.sort(key=lambda r: (r[0], r[1]))
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["time_utc", "tag", "value", "unit", "quality", "min", "max", "source"])
                w.writerows((_iso(r[0]), *r[1:]) for r in rows)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(rows)

    def export_png(self, path: str | Path) -> bool:
        """Save the picture of the plot as PNG; False when it could not be written."""
        if self._dirty:
            self.redraw()
        return self.plot.grab().save(str(path), "PNG")

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export visible range", "trend.csv", "CSV (*.csv)")
        if path:
            try:
                n = self.export_csv(path)
                self._set_status(f"{n} rows written to {path}")
            except OSError as error:
                self._set_status(f"could not write {path}: {error}")

    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save picture", "trend.png", "PNG (*.png)")
        if path:
            ok = self.export_png(path)
            self._set_status(f"picture saved to {path}" if ok else f"could not write {path}")

    # ----- theme -----

    def _on_theme(self, _palette) -> None:  # noqa: ANN001
        self.plot.apply_colours()
        for pen in self._pens.values():
            pen.curve.setPen(pen_for(pen.index))
            pen.band.setBrush(band_brush(pen.index))


register_pane(PaneSpec(object_name="trends", title="Trends", create=TrendsPane, area=Qt.DockWidgetArea.RightDockWidgetArea, order=20))
