"""The trend plot: a wall-clock axis, fast curves, normal bands and a reading cursor.

Curves are configured for large data (peak downsampling and clip-to-view, cosmetic pens one
pixel wide: wider lines are slow without OpenGL), and a Bad sample or an outage is a NaN that
breaks the line (``connect="finite"``). The helpers that turn samples and history buckets into
curve arrays are plain numpy functions so the tests and the benchmark use the same code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen

try:  # the theme is the one place for colours; keep working while it is not there
    from hmi.ui import theme as _theme
except ImportError:  # pragma: no cover - only before the theme module exists
    _theme = None

# Fallback colours (ISA-101: dark, calm lines told apart by shade and dash, not by hue).
_FALLBACK_PENS = ("#202020", "#3C5A78", "#6A6A6A", "#4A4A2A", "#5A3C5A", "#2A4A4A")
_FALLBACK_BACKGROUND = "#E2E2E2"
_FALLBACK_TEXT = "#1A1A1A"
_FALLBACK_MUTED = "#555555"
_PEN_STYLES = (
    Qt.PenStyle.SolidLine, Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine,
    Qt.PenStyle.SolidLine, Qt.PenStyle.DashDotLine, Qt.PenStyle.DotLine,
)
BAND_ALPHA = 24  # of 255: the normal band is a faint shade behind the lines


def _palette():  # noqa: ANN202 - theme.Palette or None
    return _theme.current() if _theme is not None else None


def style_axes(plot: pg.PlotWidget, c: dict) -> None:
    """The theme's background and axis colours on a plot (the trends, the alarm rate chart)."""
    plot.setBackground(c["background"])
    for name in ("bottom", "left"):
        axis = plot.getPlotItem().getAxis(name)
        axis.setPen(pg.mkPen(c["muted"]))
        axis.setTextPen(pg.mkPen(c["text"]))


def colours() -> dict[str, object]:
    """The plot's colours from the theme (or the fallbacks): background, text, muted, pens."""
    p = _palette()
    if p is None:
        return {"background": _FALLBACK_BACKGROUND, "text": _FALLBACK_TEXT, "muted": _FALLBACK_MUTED, "pens": _FALLBACK_PENS}
    return {"background": p.panel, "text": p.text, "muted": p.muted, "pens": tuple(p.trend_alt) or _FALLBACK_PENS}


def pen_for(index: int) -> QPen:
    """The pen of the index-th curve: a cosmetic 1-pixel line, its shade and dash from the index."""
    pens = colours()["pens"]
    assert isinstance(pens, tuple)
    pen = QPen(QColor(pens[index % len(pens)]))
    pen.setWidth(1)
    pen.setCosmetic(True)
    pen.setStyle(_PEN_STYLES[index % len(_PEN_STYLES)])
    return pen


def band_brush(index: int) -> QColor:
    """The translucent fill of a pen's normal band."""
    pens = colours()["pens"]
    assert isinstance(pens, tuple)
    c = QColor(pens[index % len(pens)])
    c.setAlpha(BAND_ALPHA)
    return c


def make_curve(name: str | None = None, pen: QPen | None = None) -> pg.PlotDataItem:
    """A PlotDataItem set up for large trends: peak downsampling, clip-to-view, gaps at NaN."""
    curve = pg.PlotDataItem(name=name, pen=pen if pen is not None else pen_for(0), connect="finite")
    configure_curve(curve)
    return curve


AUTO_DOWNSAMPLE_FACTOR = 2.0  # samples per pixel column kept by the peak downsampling (pyqtgraph's default: 5)


def configure_curve(curve: pg.PlotDataItem) -> None:
    """The performance settings of our curves (also used by the benchmark).

    Call it after ``PlotItem.addItem``: adding an item applies the PlotItem's own downsampling
    and clip-to-view modes to it (both off unless set there), which silently undoes these.
    """
    curve.opts["autoDownsampleFactor"] = AUTO_DOWNSAMPLE_FACTOR
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)


def set_curve_data(curve: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    """Give a curve its arrays; the finite check is skipped when there is no NaN to break the line."""
    has_gap = bool(np.isnan(y).any()) if y.size else False
    curve.setData(x, y, connect="finite", skipFiniteCheck=not has_gap)


def insert_gaps(x: np.ndarray, y: np.ndarray, max_dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN point wherever two samples are further apart than max_dt (an outage is a gap)."""
    if x.size < 2 or not math.isfinite(max_dt):
        return x, y
    idx = np.nonzero(np.diff(x) > max_dt)[0]
    if idx.size == 0:
        return x, y
    xs = np.insert(x, idx + 1, x[idx] + max_dt / 2)
    ys = np.insert(y, idx + 1, np.nan)
    return xs, ys


def to_steps(x: np.ndarray, y: np.ndarray, until: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A held signal (on/off, setpoint) as steps: each value holds until the next; the last until ``until``."""
    if x.size == 0:
        return x, y
    xs = np.repeat(x, 2)[1:]
    ys = np.repeat(y, 2)[:-1]
    if until is not None and until > x[-1] and np.isfinite(y[-1]):
        xs = np.append(xs, until)
        ys = np.append(ys, y[-1])
    return xs, ys


def bucket_width(t0: float, t1: float, points: int) -> float:
    """The width of the historian's trend buckets for a request (rounded up to its rollups)."""
    w = max((t1 - t0) / max(points, 1), 1e-6)
    for level in (3600.0, 60.0):
        if w >= level:
            return math.ceil(w / level) * level
    return w


def buckets_to_curve(
    t: Sequence[float],
    vmin: Sequence[float],
    vmax: Sequence[float],
    width: float,
    max_gap: float,
    n_bad: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """History buckets as an envelope line: a min and a max point per bucket (spikes survive).

    A Bad-only bucket (NaN min/max), a bucket holding any Bad sample (the line breaks after
    its envelope) and a run of empty buckets longer than max_gap break the line.
    """
    t_a = np.asarray(t, dtype=np.float64)
    if t_a.size == 0:
        return np.empty(0), np.empty(0)
    lo = np.asarray(vmin, dtype=np.float64)
    hi = np.asarray(vmax, dtype=np.float64)
    mid = t_a + width / 2
    x = np.repeat(mid, 3)
    y = np.empty(3 * t_a.size)
    y[0::3], y[1::3] = lo, hi
    x[2::3] = t_a + width * 0.99
    bad = np.zeros(t_a.size, dtype=bool) if n_bad is None else np.asarray(n_bad) > 0
    y[2::3] = np.where(bad, np.nan, hi)
    keep = np.ones(x.size, dtype=bool)
    keep[2::3] = bad  # the third point exists only to break the line
    x, y = x[keep], y[keep]
    return insert_gaps(x, y, max(max_gap, 2.5 * width))


def format_time(t: float) -> str:
    """A time in the workstation's time zone, to the second."""
    return datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def format_value(value: float | None, unit: str) -> str:
    """A reading with its unit, or a dash for none/Bad."""
    if value is None or not math.isfinite(value):
        return f"— {unit}".rstrip()
    digits = 0 if abs(value) >= 1000 else 1 if abs(value) >= 100 else 2
    return f"{value:.{digits}f} {unit}".rstrip()


class TrendPlot(pg.PlotWidget):
    """A PlotWidget with a local-time date axis, a legend, a cursor line and its label."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent=parent, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.setObjectName("trendPlot")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        # Grid lines at the major ticks only: the minor levels' grid cost ~30 ms a frame (bench).
        for name in ("bottom", "left"):
            item.getAxis(name).setStyle(maxTickLevel=0)
        item.setMenuEnabled(False)
        # Items added later inherit these (PlotItem.addItem applies them); see configure_curve.
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        self.legend = item.addLegend(offset=(8, 8))
        self.cursor = pg.InfiniteLine(angle=90, movable=True)
        self.cursor.setZValue(50)
        self.cursor_label = pg.TextItem(anchor=(0, 0))
        self.cursor_label.setZValue(51)
        self.addItem(self.cursor, ignoreBounds=True)
        self.addItem(self.cursor_label, ignoreBounds=True)
        self.cursor.hide()
        self.cursor_label.hide()
        self.apply_colours()

    def add_curve(self, curve: pg.PlotDataItem) -> pg.PlotDataItem:
        """Add a curve and (re)apply the fast-drawing settings that addItem overrides."""
        self.addItem(curve)
        configure_curve(curve)
        return curve

    def apply_colours(self) -> None:
        """Take the background, axis and cursor colours from the theme."""
        c = colours()
        style_axes(self, c)
        self.cursor.setPen(pg.mkPen(c["text"], width=1, style=Qt.PenStyle.DashLine))
        self.cursor_label.setColor(c["text"])
        self.cursor_label.fill = pg.mkBrush(QColor(str(c["background"])))
        self.legend.setLabelTextColor(c["text"])

    def view_width_px(self) -> int:
        """The width of the plotting area in pixels (at least 100)."""
        return max(int(self.getPlotItem().getViewBox().width()), 100)
