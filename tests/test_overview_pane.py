"""Twin overview pane: what the operator sees for Good, out-of-band, Bad, stale and waiting values."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QScrollArea

from hmi.config import load_config, parse_config
from hmi.domain.plant import Plant, Stream, TagKind, TagSpec, TwinSpec
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.io.opcua import OpcUaSource
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PANES
from hmi.ui.panes.overview import OverviewPane
from hmi.ui.tag_display import RowState, format_age, format_value

T0 = 1_700_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def plant() -> Plant:
    return load_config().plant()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(plant) -> AppContext:
    return AppContext(plant, TagBus(), "sqlite://")


@pytest.fixture
def pane(qtbot, ctx, clock) -> OverviewPane:
    p = OverviewPane(ctx, clock=clock)
    qtbot.addWidget(p)
    p.resize(990, 786)  # the overview's share of a 1600x900 main window
    p.show()
    qtbot.waitExposed(p)
    qtbot.waitUntil(lambda: not p._remeasure_timer.isActive())
    return p


def good(tag: str, value: float, ts: float = T0, quality: Quality = Quality.GOOD, reason: str = "") -> TagValue:
    return TagValue(tag, value, quality, ts, ts, reason)


def publish(ctx: AppContext, *values: TagValue) -> None:
    ctx.bus.publish(list(values))
    ctx.refresh()


def test_registered_as_the_left_dock_pane():
    spec = PANES["overview"]
    assert spec.create is OverviewPane and spec.area == Qt.DockWidgetArea.LeftDockWidgetArea


def test_eight_tiles_grouped_by_the_four_streams_in_order(pane, plant):
    assert pane.groups() == [
        ("upstream", ["drillrig1", "wellhead1"]),
        ("midstream", ["pipeline1", "compressor1"]),
        ("downstream", ["refinery1", "retail1"]),
        ("power", ["turbine1", "transformer1"]),
    ]
    # On screen: each stream header above its own tiles and below the previous stream's tiles.
    bottom_of_previous = -1
    for stream, twin_ids in pane.groups():
        header = pane.findChild(type(pane.tile("drillrig1").title), f"stream:{stream}")
        assert header is not None and header.isVisible() and header.text() == stream.upper()
        header_y = header.mapTo(pane, header.rect().topLeft()).y()
        assert header_y > bottom_of_previous
        for twin_id in twin_ids:
            tile = pane.tile(twin_id)
            assert tile.isVisible() and tile.objectName() == f"tile:{twin_id}"
            assert tile.mapTo(pane, tile.rect().topLeft()).y() > header_y
        bottom_of_previous = max(
            pane.tile(t).mapTo(pane, pane.tile(t).rect().bottomLeft()).y() for t in twin_ids
        )
    assert sum(len(t.tags) for t in plant.twins) == 36
    assert all(pane.value_text(t.tag_id) == "—" for t in plant.tags)  # nothing received yet
    assert all(pane.tile_state(t.twin_id) == "waiting" for t in plant.twins)


def test_the_whole_plant_fits_without_scrolling(pane, ctx, plant, clock):
    publish(ctx, *(good(t.tag_id, t.band_low) for t in plant.tags))
    scroll = pane.findChild(QScrollArea)
    assert not scroll.verticalScrollBar().isVisible()
    assert scroll.widget().height() <= scroll.viewport().height()
    assert pane.density == "roomy"  # the largest value font at 990x786


def test_a_published_value_shows_with_its_unit_after_a_refresh(pane, ctx):
    ctx.bus.publish([good("drillrig1.torque", 120.456)])
    assert pane.value_text("drillrig1.torque") == "—"  # nothing before the tick
    ctx.refresh()
    assert pane.value_text("drillrig1.torque") == "120.5"
    assert pane.unit_text("drillrig1.torque") == "Nm"
    label = pane.findChild(type(pane.tile("drillrig1").title), "value:drillrig1.torque")
    assert label.text() == "120.5" and label.isVisible()
    assert pane.flag_text("drillrig1.torque") == ""
    assert pane.age_text("drillrig1.torque") == "0 s"
    assert pane.row_state("drillrig1.torque") == "normal"
    assert pane.tile_state("drillrig1") == "normal"  # the others are still waiting
    publish(ctx, good("retail1.fuel_inventory", 7512.4))
    assert pane.value_text("retail1.fuel_inventory") == "7512"  # a range of 12,000 L: no decimals


def test_setpoints_show_as_sp_and_are_not_trended_from_the_tile(pane, ctx):
    publish(ctx, good("drillrig1.setpoint", 120.0))
    assert pane.value_text("drillrig1.setpoint") == "SP 120.0"
    assert pane.unit_text("drillrig1.setpoint") == "Nm"
    assert pane.tile("drillrig1").rows["drillrig1.setpoint"].value.property("kind") == "setpoint"


def test_out_of_band_marks_the_tile_and_says_high_or_low(pane, ctx):
    publish(ctx, good("drillrig1.torque", 100.0), good("drillrig1.pressure", 30.0))
    assert pane.tile_state("drillrig1") == "normal"
    publish(ctx, good("drillrig1.torque", 171.3, T0 + 1), good("drillrig1.pressure", 4.2, T0 + 1))
    assert pane.value_text("drillrig1.torque") == "171.3"
    assert "HIGH" in pane.flag_text("drillrig1.torque") and "▲" in pane.flag_text("drillrig1.torque")
    assert "LOW" in pane.flag_text("drillrig1.pressure") and "▼" in pane.flag_text("drillrig1.pressure")
    assert pane.tile_state("drillrig1") == "out_of_band"
    badge = pane.tile("drillrig1").badges
    assert any(b.isVisible() and b.text().endswith("2 OUT OF BAND") for b in badge.values())
    bar = pane.tile("drillrig1").rows["drillrig1.torque"].bar
    assert bar.position == pytest.approx(171.3 / 200.0)
    publish(ctx, good("drillrig1.torque", 100.0, T0 + 2), good("drillrig1.pressure", 30.0, T0 + 2))
    assert pane.tile_state("drillrig1") == "normal"
    assert pane.flag_text("drillrig1.torque") == ""
    assert not any(b.isVisible() for b in badge.values())


def test_a_bad_value_shows_bad_struck_through_with_the_reason_in_the_tooltip(pane, ctx):
    publish(ctx, good("refinery1.temperature", 80.0))
    publish(ctx, TagValue("refinery1.temperature", None, Quality.BAD, T0 + 1, T0 + 1, "connection to plc1 lost"))
    assert "BAD" in pane.flag_text("refinery1.temperature")
    assert pane.tile_state("refinery1") == "bad"
    assert pane.row_state("refinery1.temperature") == "bad"
    # The last known value stays, struck through, so the operator knows what it was.
    row = pane.tile("refinery1").rows["refinery1.temperature"]
    assert pane.value_text("refinery1.temperature") == "80.0"
    assert row.value.property("struck") is True and row.value.font().strikeOut()
    assert "connection to plc1 lost" in pane.tooltip("refinery1.temperature")
    assert "BAD" in pane.tooltip("refinery1.temperature")
    assert row.bar.position is None
    # Bad without any earlier value: a dash, not a number.
    publish(ctx, TagValue("refinery1.pressure", None, Quality.BAD, T0, T0, "connection to plc1 lost"))
    assert pane.value_text("refinery1.pressure") == "—"
    # Bad outranks out of band on the tile.
    publish(ctx, good("refinery1.throughput", 650.0))
    assert pane.tile_state("refinery1") == "bad"
    publish(ctx, good("refinery1.temperature", 80.0, T0 + 2), good("refinery1.pressure", 30.0, T0 + 2))
    assert pane.tile_state("refinery1") == "out_of_band"
    assert row.value.property("struck") is False


def test_uncertain_quality_is_said_in_words(pane, ctx):
    publish(ctx, good("retail1.sales", 300.0, quality=Quality.UNCERTAIN, reason="UncertainLastUsableValue"))
    assert "UNCERT" in pane.flag_text("retail1.sales")
    assert pane.tile_state("retail1") == "uncertain"
    assert "UncertainLastUsableValue" in pane.tooltip("retail1.sales")


def test_values_go_stale_after_three_sampling_intervals_and_at_least_ten_seconds(pane, ctx, clock):
    publish(ctx, good("turbine1.vibration", 60.0), good("turbine1.setpoint", 100.0))
    assert pane.tile_state("turbine1") == "normal"
    clock.now = T0 + 3
    pane.tick_ages()
    assert pane.age_text("turbine1.vibration") == "3 s"
    clock.now = T0 + 9.9  # sampling 1 s: the limit is max(3 x 1 s, 10 s)
    pane.tick_ages()
    assert pane.row_state("turbine1.vibration") == "normal"
    clock.now = T0 + 42
    pane.tick_ages()
    assert pane.row_state("turbine1.vibration") == "stale"
    assert pane.tile_state("turbine1") == "stale"
    assert pane.flag_text("turbine1.vibration") == "◷ 42 s"
    assert pane.tile("turbine1").rows["turbine1.vibration"].bar._hollow
    assert any(b.isVisible() and "STALE" in b.text() for b in pane.tile("turbine1").badges.values())
    # A setpoint is sent only when it changes: its age is shown, it never goes stale.
    assert pane.row_state("turbine1.setpoint") == "normal"
    clock.now = T0 + 150
    pane.tick_ages()
    assert pane.age_text("turbine1.setpoint") == "2 min"
    publish(ctx, good("turbine1.vibration", 61.0, T0 + 150))
    assert pane.row_state("turbine1.vibration") == "normal"
    assert pane.tile_state("turbine1") == "normal"


def test_age_format():
    assert [format_age(s) for s in (None, 0.4, 3, 59.9, 60, 150, 3600, 90000)] == [
        "", "0 s", "3 s", "59 s", "1 min", "2 min", "1 h", "1 d"
    ]


def test_the_age_timer_runs_every_second(pane):
    assert pane._age_timer.isActive() and pane._age_timer.interval() == 1000


def test_clicking_a_tile_or_pressing_enter_opens_its_trends(pane, ctx, qtbot):
    tile = pane.tile("drillrig1")
    with qtbot.waitSignal(ctx.open_trends, timeout=1000) as sig:
        qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    assert sig.args == [["drillrig1.torque", "drillrig1.pressure", "drillrig1.vibration", "drillrig1.status"]]
    other = pane.tile("compressor1")
    other.setFocus()
    with qtbot.waitSignal(ctx.open_trends, timeout=1000) as sig:
        qtbot.keyClick(other, Qt.Key.Key_Return)
    assert sig.args == [["compressor1.energy_consumption", "compressor1.status"]]


def test_discrete_status_shows_words(pane, ctx):
    publish(ctx, good("compressor1.status", 1.0))
    assert pane.value_text("compressor1.status") == "RUNNING"
    publish(ctx, good("compressor1.status", 0.0, T0 + 1))
    assert pane.value_text("compressor1.status") == "STOPPED"
    assert pane.tile_state("compressor1") == "normal"


def test_only_changed_tags_are_touched_and_a_big_tick_is_cheap(qtbot, clock):
    """1,000 tags changing on every tick: the tick costs little, untouched rows keep their text."""
    twins = tuple(
        TwinSpec(f"t{i:03d}", f"Twin {i}", list(Stream)[i % 4], tuple(
            TagSpec(f"t{i:03d}.p{j}", f"t{i:03d}", f"p{j}", "bar", 0.0, 100.0, 10.0, 90.0, TagKind.ANALOG,
                    "plc1", f"ns=2;s=t{i:03d}.p{j}", 1000, 0.0)
            for j in range(4)
        ))
        for i in range(250)
    )
    big = AppContext(Plant(twins), TagBus(), "sqlite://")
    pane = OverviewPane(big, clock=clock)
    qtbot.addWidget(pane)
    pane.resize(990, 786)
    pane.show()
    tags = [t.tag_id for t in big.plant.tags]
    publish(big, *(good(t, 50.0) for t in tags))
    best = float("inf")
    for k in range(5):
        big.bus.publish([good(t, 20.0 + k + (i % 50), T0 + 1 + k) for i, t in enumerate(tags)])
        t0 = time.perf_counter()
        big.refresh()
        best = min(best, time.perf_counter() - t0)
    assert best < 0.25, f"a tick of 1,000 changed tags took {best * 1000:.0f} ms"
    print(f"tick of 1,000 changed tags: {best * 1000:.1f} ms")
    publish(big, good("t000.p0", 77.0, T0 + 10))
    assert pane.value_text("t000.p0") == "77.0"
    untouched = tags.index("t001.p0")
    assert pane.value_text("t001.p0") == format_value(big.plant.tag("t001.p0"), 20.0 + 4 + untouched % 50)


# -- end to end: plc_sim -> OpcUaSource -> TagBus -> overview ------------------------------------


class SourceThread:
    """An OpcUaSource on its own asyncio loop in a thread; batches reach the GUI thread through a queue."""

    def __init__(self, config_text: str) -> None:
        cfg = parse_config(config_text)
        endpoint = cfg.endpoints[0]
        tags = [t for t in cfg.plant().tags if t.endpoint == endpoint.name]
        self.batches: queue.SimpleQueue[list[TagValue]] = queue.SimpleQueue()
        self.loop = asyncio.new_event_loop()
        self.source = OpcUaSource(endpoint, tags, lambda batch: self.batches.put(list(batch)))
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.source.run())
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    def start(self) -> SourceThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.source.stop(), self.loop)
            self.thread.join(15)

    def pump(self, ctx: AppContext) -> None:
        """What the GUI's refresh does: hand the received batches to the bus, then tick."""
        while True:
            try:
                ctx.bus.publish(self.batches.get_nowait())
            except queue.Empty:
                break
        ctx.refresh()


@pytest.fixture
def live(plc_sim_factory, qtbot):
    sim = plc_sim_factory(seed=2, rate=5)
    source = SourceThread(sim.config_text).start()
    plant = parse_config(sim.config_text).plant()
    ctx = AppContext(plant, TagBus(), "sqlite://")
    pane = OverviewPane(ctx)
    qtbot.addWidget(pane)
    pane.resize(990, 786)
    pane.show()
    yield sim, source, ctx, pane
    source.stop()


def test_end_to_end_values_from_plc_sim_then_bad_when_it_dies(live, qtbot):
    sim, source, ctx, pane = live
    measurements = [t for t in ctx.plant.tags if t.kind is TagKind.ANALOG]

    def all_shown() -> bool:
        source.pump(ctx)
        return all(pane.value_text(t.tag_id) != "—" for t in measurements)

    qtbot.waitUntil(all_shown, timeout=20_000)
    # A fresh value is on screen within one refresh of its arrival, formatted as served.
    for _ in range(10):
        qtbot.wait(200)  # the refresh period
        source.pump(ctx)
    now = time.time()
    spec = ctx.plant.tag("drillrig1.torque")
    tv = ctx.bus.latest(spec.tag_id)
    assert tv is not None and tv.quality is Quality.GOOD
    assert pane.value_text(spec.tag_id) == format_value(spec, tv.value)
    assert now - tv.source_ts < 1.5, "the newest value on screen is older than the sim's rate allows"
    assert all(pane.tile_state(t.twin_id) in ("normal", "out_of_band") for t in ctx.plant.twins)

    sim.kill()
    killed = time.monotonic()

    def all_bad() -> bool:
        source.pump(ctx)
        return all(pane.tile_state(t.twin_id) == "bad" for t in ctx.plant.twins)

    qtbot.waitUntil(all_bad, timeout=10_000)
    took = time.monotonic() - killed
    assert took < 2.5, f"tiles turned Bad {took:.1f} s after the PLC died"
    print(f"tiles Bad {took:.2f} s after kill; newest value {now - tv.source_ts:.2f} s old")
    assert "lost" in pane.tooltip("drillrig1.torque") or "connection" in pane.tooltip("drillrig1.torque")
    assert pane.value_text("drillrig1.torque") == format_value(spec, tv.value) or pane.value_text(
        "drillrig1.torque"
    ) != "—"


# -- only what is in view is repainted -------------------------------------------------------------


class Events(QObject):
    """Counts the paint and layout-request events of the widgets it watches."""

    def __init__(self, *widgets) -> None:
        super().__init__()
        self.paints: dict[object, int] = {w: 0 for w in widgets}
        self.layouts: dict[object, int] = {w: 0 for w in widgets}
        for w in widgets:
            w.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and obj in self.paints:
            self.paints[obj] += 1
        elif event.type() == QEvent.Type.LayoutRequest and obj in self.layouts:
            self.layouts[obj] += 1
        return False

    def reset(self) -> None:
        for d in (self.paints, self.layouts):
            for k in d:
                d[k] = 0


@pytest.fixture
def crowded(qtbot, clock):
    """The plant and 300 load tags (three tiles of 100 rows): it does not fit, the pane scrolls."""
    from plc_sim.plant import simulated_plant

    plant = simulated_plant(load_config(), url="opc.tcp://127.0.0.1:1/hmi/plc", extra_tags=300).plant()
    ctx = AppContext(plant, TagBus(), "sqlite://")
    pane = OverviewPane(ctx, clock=clock)
    qtbot.addWidget(pane)
    pane.resize(990, 786)
    pane.show()
    qtbot.waitExposed(pane)
    qtbot.waitUntil(lambda: not pane._remeasure_timer.isActive())
    qtbot.wait(50)
    publish(ctx, *(good(t.tag_id, t.band_low + 1, T0) for t in plant.tags))
    qtbot.wait(50)
    return pane, ctx, plant


def seen(widget) -> bool:
    """Whether any of the widget is on screen (not clipped away by the scroll area)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def test_only_changed_rows_in_view_are_repainted_none_of_a_hidden_pane(crowded, qtbot, clock):
    pane, ctx, plant = crowded
    tiles = [pane.tile(t.twin_id) for t in plant.twins]
    shown_tiles = [t for t in tiles if seen(t)]
    rows = [r for t in shown_tiles for r in t.rows.values() if r.spec.kind is TagKind.ANALOG]
    in_view = next(r for r in rows if seen(r.value))
    hidden_in_shown_tile = next(r for r in rows if not seen(r.value))  # a tall tile's row below the fold
    away_tile = next(t for t in tiles if not seen(t))
    away = next(iter(away_tile.rows.values()))
    quiet = next(r for r in rows if seen(r.value) and r is not in_view and r.tile is in_view.tile)
    watched = [in_view, hidden_in_shown_tile, away, quiet]
    events = Events(*(w for r in watched for w in (r.value, r.bar)), in_view.tile)
    before = {r: r.value.text() for r in watched}

    changed = [r for r in watched if r is not quiet]
    publish(ctx, *(good(r.spec.tag_id, r.spec.band_low + 2, T0 + 1) for r in changed))
    qtbot.waitUntil(lambda: events.paints[in_view.value] > 0, timeout=3000)
    qtbot.wait(100)
    assert in_view.value.text() != before[in_view]  # what the operator sees changed
    assert events.paints[in_view.bar] > 0
    assert events.layouts[in_view.tile] == 0  # a new value does not lay the tile out again
    for row in (hidden_in_shown_tile, away, quiet):
        assert events.paints[row.value] == events.paints[row.bar] == 0, row.spec.tag_id
        assert row.value.text() == before[row], f"{row.spec.tag_id} was updated out of view"
    # The header of a tile in view counts every row, the ones below the fold too.
    publish(ctx, good(hidden_in_shown_tile.spec.tag_id, hidden_in_shown_tile.spec.band_high + 50, T0 + 2))
    assert hidden_in_shown_tile.tile.badges[RowState.OUT_OF_BAND].isVisibleTo(hidden_in_shown_tile.tile)

    # The pane hidden (its dock closed or behind another tab): nothing is repainted at all.
    pane.hide()
    events.reset()
    publish(ctx, *(good(r.spec.tag_id, r.spec.band_low + 3, T0 + 3) for r in changed))
    clock.now += 1
    pane.tick_ages()
    qtbot.wait(100)
    assert all(n == 0 for n in events.paints.values())
    assert in_view.value.text() == format_value(in_view.spec, in_view.spec.band_low + 2)
    pane.show()  # shown again: what is in view catches up at once
    qtbot.waitUntil(lambda: in_view.value.text() == format_value(in_view.spec, in_view.spec.band_low + 3), timeout=3000)

    # Scrolled into view, a row shows what it missed.
    pane.findChild(QScrollArea).ensureWidgetVisible(hidden_in_shown_tile.value)
    qtbot.waitUntil(lambda: seen(hidden_in_shown_tile.value), timeout=3000)
    qtbot.waitUntil(lambda: hidden_in_shown_tile.value.text() == format_value(
        hidden_in_shown_tile.spec, hidden_in_shown_tile.spec.band_low + 3), timeout=3000)
