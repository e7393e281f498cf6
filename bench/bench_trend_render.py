"""Trend render benchmark: frame time of pan/zoom steps over 1M and 10M points, offscreen.

Baseline: a plain PlotWidget with a default PlotDataItem. Ours: the trends pane's plot
(hmi.ui.trend_plot: DateAxisItem, peak downsampling, clip-to-view, cosmetic 1-px pen,
finite check skipped when there is no gap). Each step sets the x range (pans and zooms,
from an hour to the whole range) and forces a full render with ``widget.grab()`` (the widgets are not shown on screen, so that
render is the only paint of the step).

    .venv/bin/python bench/bench_trend_render.py [--sizes 1000000 10000000] [--steps 30]

Target: ours < 16 ms a frame (median) at 1M points.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from hmi.ui.trend_plot import TrendPlot, make_curve, pen_for, set_curve_data  # noqa: E402

T0 = 1_700_000_000.0
RATE_HZ = 10.0
SIZE = (1200, 500)


def make_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n samples at 10 Hz: a slow wave, noise and a few spikes."""
    rng = np.random.default_rng(1)
    x = T0 + np.arange(n, dtype=np.float64) / RATE_HZ
    y = 100 + 20 * np.sin(np.arange(n) / 3000.0) + rng.normal(0, 0.3, n)
    y[rng.integers(0, n, 20)] += 60
    return x, y


def steps(x0: float, x1: float, count: int) -> list[tuple[float, float]]:
    """Pan and zoom steps: an hour panned along, then zooming out to the whole range, then panning a day."""
    out = []
    third = max(count // 3, 1)
    hour, day = 3600.0, 86400.0
    for i in range(third):  # pan an hour window through the middle
        a = x0 + (x1 - x0) * 0.4 + i * hour / 4
        out.append((a, a + hour))
    span = hour
    centre = (x0 + x1) / 2
    for _ in range(third):  # zoom out step by step up to everything
        span = min(span * 2.2, x1 - x0)
        out.append((centre - span / 2, centre + span / 2))
    for i in range(count - 2 * third):  # pan a one-day window (or the whole range if shorter)
        w = min(day, x1 - x0)
        a = x0 + ((x1 - x0 - w) * i / max(count - 2 * third - 1, 1))
        out.append((a, a + w))
    return out


def run(widget: pg.PlotWidget, ranges: list[tuple[float, float]], app: QApplication) -> list[float]:
    """Milliseconds per step: set the range, let Qt process it, render the widget."""
    vb = widget.getPlotItem().getViewBox()
    vb.setXRange(*ranges[0], padding=0)  # warm-up frame (first data processing)
    app.processEvents()
    widget.grab()
    times = []
    for a, b in ranges:
        t = time.perf_counter()
        vb.setXRange(a, b, padding=0)
        app.processEvents()
        widget.grab()
        times.append((time.perf_counter() - t) * 1000)
    return times


def baseline(x: np.ndarray, y: np.ndarray) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)  # one render per step: grab()'s
    w.resize(*SIZE)
    w.plot(x, y)
    w.show()
    return w


def ours(x: np.ndarray, y: np.ndarray) -> pg.PlotWidget:
    w = TrendPlot()
    w.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    w.resize(*SIZE)
    c = make_curve("bench", pen_for(0))
    w.add_curve(c)
    set_curve_data(c, x, y)
    w.getPlotItem().getViewBox().setAutoVisible(y=True)
    w.show()
    return w


def summary(times: list[float]) -> tuple[float, float]:
    s = sorted(times)
    return statistics.median(s), s[min(len(s) - 1, int(0.95 * len(s)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv)
    print(f"pan/zoom frame time, {SIZE[0]}x{SIZE[1]} offscreen, {args.steps} steps (median / p95 ms)")
    ok = True
    for n in args.sizes:
        x, y = make_data(n)
        ranges = steps(float(x[0]), float(x[-1]), args.steps)
        results = {}
        for name, build in (("baseline", baseline), ("ours", ours)):
            w = build(x, y)
            app.processEvents()
            results[name] = summary(run(w, ranges, app))
            w.close()
            w.deleteLater()
            app.processEvents()
        (bm, bp), (om, op) = results["baseline"], results["ours"]
        print(
            f"{n:>11,} points  baseline {bm:8.1f} / {bp:8.1f}   ours {om:6.1f} / {op:6.1f}"
            f"   ratio {bm / om:5.1f}x (median)"
        )
        if n == 1_000_000:
            ok = om < 16.0
            print(f"  target at 1M: ours median < 16 ms a frame: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
