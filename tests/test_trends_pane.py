"""The trends pane on a real tag bus and real SQLite historian files: live, gaps, history, cursor, groups, export."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from hmi.config import load_config
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.store.migrate import upgrade
from hmi.store.writer import HistorianWriter
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PANES
from hmi.ui.panes.trends import TrendsPane

TORQUE = "drillrig1.torque"  # Nm, band 50..150
PRESSURE = "drillrig1.pressure"  # bar, band 10..60
SETPOINT = "drillrig1.setpoint"  # Nm


def tv(tag: str, ts: float, value: float | None, quality: Quality = Quality.GOOD) -> TagValue:
    return TagValue(tag, value, quality, ts, ts)


@pytest.fixture(scope="module")
def plant():
    return load_config().plant()


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'historian.sqlite'}"
    upgrade(url)
    return url


def store(url: str, tmp_path: Path, samples: list[TagValue]) -> None:
    """Write samples through the real historian writer and wait until they are committed."""
    writer = HistorianWriter(url, tmp_path / "spool.sqlite", flush_interval_s=0.2)
    writer.start()
    for i in range(0, len(samples), 50_000):
        writer.consume(samples[i : i + 50_000])
    assert writer.stop(timeout=60)
    assert writer.stats().stored == len(samples)


@pytest.fixture
def make_pane(qtbot, plant, db_url):
    def make(pens=(TORQUE,), url: str | None = None) -> tuple[TrendsPane, AppContext]:
        bus = TagBus()
        ctx = AppContext(plant, bus, url or db_url)
        pane = TrendsPane(ctx)
        qtbot.addWidget(pane)
        pane.resize(1000, 500)
        pane.show()
        qtbot.waitExposed(pane)
        pane.set_pens(list(pens))
        return pane, ctx

    return make


def curve(pane: TrendsPane, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """The full data given to a pen's curve (before pyqtgraph clips and downsamples it)."""
    c = pane.pen(tag).curve
    x = c.xData if c.xData is not None else np.empty(0)
    y = c.yData if c.yData is not None else np.empty(0)
    return x, y


def test_pane_is_registered():
    spec = PANES["trends"]
    assert spec.create is TrendsPane and spec.order == 20


def test_live_values_reach_the_curve_after_a_tick(qtbot, make_pane):
    pane, ctx = make_pane()
    now = time.time()
    ctx.bus.publish([tv(TORQUE, now - 30 + i, 80.0 + i) for i in range(30)])
    before = pane.redraws
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, TORQUE)[0].size == 30, timeout=3000)
    x, y = curve(pane, TORQUE)
    assert y[0] == 80.0 and y[-1] == 109.0
    assert pane.redraws == before + 1
    assert pane.follow


def test_redraw_is_coalesced_whatever_the_data_rate(qtbot, make_pane):
    pane, ctx = make_pane((TORQUE, PRESSURE))
    now = time.time()
    qtbot.wait(300)
    start = pane.redraws
    for k in range(200):  # 200 batches between two ticks
        ctx.bus.publish([tv(TORQUE, now - 100 + k * 0.1, 90.0), tv(PRESSURE, now - 100 + k * 0.1, 30.0)])
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, TORQUE)[0].size == 200, timeout=3000)
    qtbot.wait(100)
    assert pane.redraws == start + 1
    ctx.refresh()  # nothing changed: no redraw
    qtbot.wait(100)
    assert pane.redraws == start + 1


def test_bad_sample_and_outage_break_the_line(qtbot, make_pane):
    pane, ctx = make_pane()
    now = time.time()
    batch = [tv(TORQUE, now - 100 + i, 100.0) for i in range(10)]
    batch.append(tv(TORQUE, now - 90, None, Quality.BAD))
    batch += [tv(TORQUE, now - 89 + i, 101.0) for i in range(10)]
    batch += [tv(TORQUE, now - 40 + i, 102.0) for i in range(5)]  # 30 s with no sample: an outage
    ctx.bus.publish(batch)
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, TORQUE)[0].size >= 26, timeout=3000)
    x, y = curve(pane, TORQUE)
    nan_at = x[np.isnan(y)]
    assert any(abs(t - (now - 90)) < 0.01 for t in nan_at), "the Bad sample is a gap"
    assert any(now - 80 < t < now - 40 for t in nan_at), "the outage is a gap, not a line"
    assert np.isnan(y).sum() == 2
    assert pane.cursor_values(now - 89.5) == {TORQUE: None}  # newest sample then is Bad
    assert pane.cursor_values(now - 60) == {TORQUE: None}  # inside the outage


def test_history_after_restart(qtbot, make_pane, db_url, tmp_path):
    """A fresh pane over a database with an hour of history shows it, in follow mode, with no live data."""
    now = time.time()
    start = now - 3600
    samples = [tv(TORQUE, start + i, 100.0 + 20 * math.sin(i / 60)) for i in range(3540)]
    samples[1800] = tv(TORQUE, start + 1800, None, Quality.BAD)
    samples.append(tv(TORQUE, start + 2000.5, 199.0))  # a one-sample spike survives downsampling
    samples.sort(key=lambda s: s.source_ts)
    store(db_url, tmp_path, samples)

    pane, ctx = make_pane()
    pane.set_span(3600)
    assert pane.follow
    qtbot.waitUntil(lambda: curve(pane, TORQUE)[0].size > 100, timeout=10_000)
    x, y = curve(pane, TORQUE)
    assert x.min() < start + 60 and x.max() > now - 120
    assert np.nanmax(y) == pytest.approx(199.0)
    assert np.isnan(y).any()  # the Bad sample's bucket is a gap
    v = pane.cursor_values(start + 600)[TORQUE]
    assert v is not None and v == pytest.approx(100.0 + 20 * math.sin(10), abs=2.0)


def test_panning_into_the_past_loads_older_history_without_freezing(qtbot, make_pane, db_url, tmp_path):
    now = time.time()
    old = now - 6 * 3600  # two hours at 10 Hz, six hours ago: 72,000 rows
    samples = [tv(TORQUE, old + i / 10, 60.0 + (i % 600) / 10) for i in range(72_000)]
    store(db_url, tmp_path, samples)

    pane, ctx = make_pane()
    ctx.bus.publish([tv(TORQUE, now - 5 + i, 120.0) for i in range(5)])
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, TORQUE)[0].size >= 5, timeout=3000)
    assert curve(pane, TORQUE)[0].min() > now - 700  # only the last 10 minutes so far

    gaps: list[int] = []
    clock = QElapsedTimer()
    clock.start()

    def beat() -> None:
        gaps.append(clock.restart())

    heart = QTimer()
    heart.setInterval(10)
    heart.timeout.connect(beat)
    heart.start()
    requests = pane.loader.requests
    pane.set_x_range(old, old + 7200)  # as a user pan would
    assert not pane.follow
    qtbot.waitUntil(lambda: curve(pane, TORQUE)[0].size and curve(pane, TORQUE)[0].min() < old + 60, timeout=20_000)
    heart.stop()
    assert pane.loader.requests > requests
    x, y = curve(pane, TORQUE)
    in_view = (x >= old) & (x <= old + 7200)
    assert in_view.sum() > 500
    assert np.nanmin(y[in_view]) == pytest.approx(60.0, abs=0.2) and np.nanmax(y[in_view]) == pytest.approx(119.9, abs=0.2)
    assert x.max() >= now - 5  # the live part is still there, on the same axis
    assert len(gaps) > 5 and max(gaps) < 250, f"the GUI thread stalled: {max(gaps)} ms"


def test_user_zoom_leaves_follow_and_live_returns(qtbot, make_pane):
    pane, _ = make_pane()
    viewport = pane.plot.viewport()
    pos = QPointF(viewport.width() / 2, viewport.height() / 2)
    event = QWheelEvent(pos, viewport.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)
    assert not pane.follow and not pane.live_button.isChecked()
    pane.live_button.click()
    assert pane.follow
    v0, v1 = pane.visible_range()
    assert v1 >= time.time() - 1 and v1 - v0 == pytest.approx(600 * 1.02, rel=0.01)


def test_cursor_reads_every_pen(qtbot, make_pane):
    pane, ctx = make_pane((TORQUE, PRESSURE, SETPOINT))
    now = time.time()
    ctx.bus.publish([tv(TORQUE, now - 20 + i, 100.0 + i) for i in range(10)] + [tv(PRESSURE, now - 20 + i, 30.0 + i) for i in range(10)])
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, PRESSURE)[0].size == 10, timeout=3000)
    assert pane.cursor_values(now - 15.5) == {TORQUE: 104.0, PRESSURE: 34.0, SETPOINT: None}
    pane.set_cursor_time(now - 15.5)
    label = pane.plot.cursor_label.toPlainText()
    assert "104.0 Nm" in label and "34.00 bar" in label and SETPOINT in label


def test_bands_match_the_tags_and_mixed_units_scale_to_percent(qtbot, make_pane, plant):
    pane, ctx = make_pane((TORQUE,))
    qtbot.waitUntil(lambda: pane.redraws > 0, timeout=3000)
    spec = plant.tag(TORQUE)
    assert pane.pen(TORQUE).band.getRegion() == pytest.approx((spec.band_low, spec.band_high))
    assert not pane.percent_mode()
    pane.set_pens([TORQUE, PRESSURE])  # Nm and bar: % of each range
    qtbot.waitUntil(lambda: pane.percent_mode() and pane.pen(PRESSURE).band.getRegion()[1] != 60.0, timeout=3000)
    p = plant.tag(PRESSURE)
    expect = tuple(100 * (b - p.eng_low) / (p.eng_high - p.eng_low) for b in (p.band_low, p.band_high))
    assert pane.pen(PRESSURE).band.getRegion() == pytest.approx(expect)
    now = time.time()
    ctx.bus.publish([tv(PRESSURE, now - 1, 40.0)])
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, PRESSURE)[1].size == 1, timeout=3000)
    assert curve(pane, PRESSURE)[1][0] == pytest.approx(50.0)  # 40 bar of 0..80
    assert pane.cursor_values(now - 0.5)[PRESSURE] == 40.0  # readings stay in engineering units


def test_tag_tree_adds_pens_and_open_trends_replaces_them(qtbot, make_pane):
    pane, ctx = make_pane((TORQUE,))
    pane.tree.item_for(PRESSURE).setCheckState(0, Qt.CheckState.Checked)
    assert pane.pens() == [TORQUE, PRESSURE]
    pane.tree.item_for(TORQUE).setCheckState(0, Qt.CheckState.Unchecked)
    assert pane.pens() == [PRESSURE]
    ctx.open_trends.emit(["wellhead1.pressure", "wellhead1.temperature"])
    assert pane.pens() == ["wellhead1.pressure", "wellhead1.temperature"]
    assert pane.tree.checked() == ["wellhead1.pressure", "wellhead1.temperature"]
    assert len(pane.plot.getPlotItem().listDataItems()) == 2
    ctx.open_trends.emit(["no.such_tag", TORQUE])
    assert pane.pens() == [TORQUE]
    assert "no.such_tag" in pane.status.text()


def test_pen_group_saved_and_restored_in_a_new_pane(qtbot, make_pane, isolated_data_dir):
    pane, _ = make_pane((TORQUE, PRESSURE))
    pane.set_span(3600)
    pane.save_pen_group("Drill rig")
    assert (isolated_data_dir / "pen_groups.json").exists()
    other, _ = make_pane(("wellhead1.pressure",))
    assert other.pen_group_names() == ["Drill rig"]
    assert other.restore_pen_group("Drill rig")
    assert other.pens() == [TORQUE, PRESSURE]
    assert other.visible_range()[1] - other.visible_range()[0] == pytest.approx(3600 * 1.02, rel=0.01)
    assert not other.restore_pen_group("missing")
    (isolated_data_dir / "pen_groups.json").write_text("{not json")
    assert other.pen_group_names() == []  # a damaged file is set aside, no crash


def test_csv_export_of_the_visible_range(qtbot, make_pane, tmp_path):
    pane, ctx = make_pane((TORQUE, PRESSURE))
    now = time.time()
    ctx.bus.publish([tv(TORQUE, now - 2000 + i, 1.0) for i in range(5)])  # before the visible range
    ctx.bus.publish([tv(TORQUE, now - 100 + i, 100.0 + i) for i in range(20)] + [tv(PRESSURE, now - 50, 30.0)])
    ctx.bus.publish([tv(PRESSURE, now - 49, None, Quality.BAD)])
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, PRESSURE)[0].size == 2, timeout=3000)
    out = tmp_path / "visible.csv"
    assert pane.export_csv(out) == 22
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 22
    assert rows[0].keys() >= {"time_utc", "tag", "value", "unit", "quality"}
    torque = [r for r in rows if r["tag"] == TORQUE]
    assert [float(r["value"]) for r in torque] == [100.0 + i for i in range(20)]
    assert torque[0]["unit"] == "Nm" and torque[0]["time_utc"].endswith("Z")
    bad = [r for r in rows if r["quality"] == "BAD"]
    assert len(bad) == 1 and bad[0]["value"] == "" and bad[0]["tag"] == PRESSURE


def test_png_export_writes_an_image(qtbot, make_pane, tmp_path):
    pane, ctx = make_pane((TORQUE,))
    now = time.time()
    ctx.bus.publish([tv(TORQUE, now - 300 + i, 100 + 30 * math.sin(i / 20)) for i in range(300)])
    ctx.refresh()
    out = tmp_path / "trend.png"
    assert pane.export_png(out)
    image = QImage(str(out))
    assert out.stat().st_size > 2000 and image.width() > 300 and image.height() > 200


def test_unreachable_historian_is_reported_not_raised(qtbot, make_pane, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"  # no schema
    pane, ctx = make_pane((TORQUE,), url=url)
    qtbot.waitUntil(lambda: "History unavailable" in pane.status.text(), timeout=5000)
    now = time.time()
    ctx.bus.publish([tv(TORQUE, now - 1, 100.0)])
    ctx.refresh()
    qtbot.waitUntil(lambda: curve(pane, TORQUE)[0].size == 1, timeout=3000)  # live still works


def test_only_pens_are_buffered_and_a_new_pen_gets_its_past_from_the_historian(qtbot, make_pane, db_url, tmp_path):
    """A tag not on a pen costs no ring; taken off, its ring goes; put on, its last minutes come from history."""
    now = time.time()
    store(db_url, tmp_path, [tv(PRESSURE, now - 300 + i, 20.0 + (i % 7)) for i in range(295)])
    pane, ctx = make_pane((TORQUE,))
    ctx.bus.publish([tv(TORQUE, now - 5, 90.0), tv(PRESSURE, now - 5, 25.0), tv("pump1.flow", now - 5, 1.0)])
    assert pane.buffers.tags() == [TORQUE]  # the bus carried three tags, one is on the trend

    pane.set_pens([PRESSURE])
    assert pane.buffers.tags() == [PRESSURE] and pane.buffers.ring(TORQUE) is None
    ctx.bus.publish([tv(PRESSURE, now - 1, 26.0)])
    ctx.refresh()
    # Five minutes of history, then the live sample, on one curve.
    qtbot.waitUntil(lambda: curve(pane, PRESSURE)[0].size > 50 and curve(pane, PRESSURE)[0].min() < now - 250,
                    timeout=10_000)
    x, y = curve(pane, PRESSURE)
    assert x.max() == pytest.approx(now - 1) and y[-1] == 26.0


def test_a_closed_or_destroyed_pane_leaves_the_bus(qtbot, plant, db_url):
    bus = TagBus()
    ctx = AppContext(plant, bus, db_url)
    pane = TrendsPane(ctx)
    qtbot.addWidget(pane)
    pane.set_pens([TORQUE])
    assert bus.consumers() == 1
    pane.close()
    assert bus.consumers() == 0
    bus.publish([tv(TORQUE, time.time(), 1.0)])
    assert pane.buffers.tags() == []  # a closed pane keeps nothing

    other = TrendsPane(ctx)
    assert bus.consumers() == 1
    other.deleteLater()
    qtbot.waitUntil(lambda: bus.consumers() == 0, timeout=3000)


def test_following_repaints_the_plot_once_a_pixel_of_time_and_not_while_hidden(qtbot, make_pane):
    """With no new data, live mode slides the axis only when "now" moved a pixel (10 min on ~900 px)."""
    pane, ctx = make_pane(())
    viewport = pane.plot.viewport()
    paints = []

    class Counter(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if obj is viewport and event.type() == QEvent.Type.Paint:
                paints.append(time.monotonic())
            return False

    counter = Counter()
    viewport.installEventFilter(counter)
    qtbot.wait(300)
    per_px = pane.visible_range()[1] - pane.visible_range()[0]
    per_px /= pane.plot.view_width_px()
    paints.clear()
    t0 = time.monotonic()
    qtbot.wait(2000)
    elapsed = time.monotonic() - t0
    # One move may take two paints in a row (the range, then the axis' new labels): count the moves.
    moves = sum(1 for a, b in zip([-1.0, *paints], paints) if b - a > 0.05)
    assert moves <= elapsed / per_px + 2, f"{moves} moves ({len(paints)} paints) in {elapsed:.1f} s at {per_px:.2f} s a pixel"
    pane.hide()
    paints.clear()
    qtbot.wait(500)
    assert paints == []
