"""The main window shell: docks from the pane registry, menus, the saved layout and its fallback, status bar, theme."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QLabel

from hmi.config import load_config
from hmi.domain.tag_bus import TagBus
from hmi.io.link import LinkState, LinkStatus
from hmi.store.writer import WriterStats
from hmi.ui import layout, pane_registry, theme
from hmi.ui.context import AppContext
from hmi.ui.main_window import MainWindow
from hmi.ui.pane_registry import PaneSpec

LEFT, RIGHT, BOTTOM = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                       Qt.DockWidgetArea.BottomDockWidgetArea)


def dummy(text: str):
    def create(ctx):
        label = QLabel(text)
        label.setObjectName(f"pane_{text}")
        return label
    return create


PANES = [
    PaneSpec("overview", "Overview", dummy("overview"), LEFT, order=10),
    PaneSpec("trends", "Trends", dummy("trends"), RIGHT, order=20),
    PaneSpec("alarms", "Alarms", dummy("alarms"), RIGHT, tab_with="trends", order=30),
]


class FakeLinks:
    def __init__(self):
        self.links = (LinkStatus.now("plc1", LinkState.UP), LinkStatus.now("plc2", LinkState.DOWN, "refused"))
        self.stats = WriterStats(stored=1234, spooled_backlog=0, queued=5, db_ok=True)


@pytest.fixture
def links():
    return FakeLinks()


@pytest.fixture
def ctx(qapp, links):
    plant = load_config().plant()
    return AppContext(plant, TagBus(), "sqlite://", links=lambda: links.links, historian=lambda: links.stats)


@pytest.fixture
def make_window(qtbot, ctx):
    def make(panes=PANES):
        window = MainWindow(ctx, panes)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window
    return make


def dock_state(window):
    return {name: (d.isVisible(), d.isFloating(), window.dockWidgetArea(d)) for name, d in window.docks.items()}


def test_one_dock_per_pane_with_its_object_name_and_menu_entries(make_window):
    window = make_window()
    assert [d.objectName() for d in window.docks.values()] == ["overview", "trends", "alarms"]
    view_actions = [a.text() for a in window.view_menu.actions() if a.text()]
    assert view_actions[:3] == ["Overview", "Trends", "Alarms"]
    assert {"&Reset layout", "&Full screen", "&Night theme"} <= set(view_actions)
    assert window.act_quit.shortcut().toString() == "Ctrl+Q"
    assert window.act_full.shortcut().toString() == "F11"
    assert window.tabifiedDockWidgets(window.docks["trends"]) == [window.docks["alarms"]]


def test_overview_gets_the_biggest_area_by_default(make_window):
    window = make_window()
    assert window.docks["overview"].width() > window.docks["trends"].width()


def test_default_panes_come_from_the_registry(monkeypatch, ctx, qtbot):
    monkeypatch.setattr(pane_registry, "PANES", {})
    pane_registry.register_pane(PaneSpec("only", "Only", dummy("only"), LEFT))
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    assert list(window.docks) == ["only"]


def test_layout_survives_a_restart(make_window, isolated_data_dir):
    window = make_window()
    window.docks["trends"].close()
    window.addDockWidget(BOTTOM, window.docks["alarms"])
    window.docks["overview"].setFloating(True)
    before = dock_state(window)
    window.close()
    assert (isolated_data_dir / "workstation.ini").exists()

    again = make_window()
    assert again.layout_restored
    assert dock_state(again) == before
    assert not again.docks["trends"].toggleViewAction().isChecked()


def test_garbage_in_the_saved_layout_falls_back_to_the_default(make_window, caplog):
    default = dock_state(make_window())
    settings = layout.workstation_settings()
    settings.setValue("layout/version", layout.LAYOUT_VERSION)
    settings.setValue("layout/docks", "alarms,overview,trends")
    settings.setValue("layout/state", QByteArray(b"\x00\xffnot a Qt state at all" * 10))
    settings.setValue("layout/geometry", QByteArray(b"garbage"))
    settings.sync()
    with caplog.at_level(logging.WARNING, logger="hmi.ui.layout"):
        window = make_window()
    assert not window.layout_restored
    assert dock_state(window) == default
    assert "using the default layout" in caplog.text


def test_a_layout_of_another_version_or_other_panes_falls_back(make_window, monkeypatch):
    window = make_window()
    default = dock_state(window)
    window.docks["trends"].close()
    window.close()
    monkeypatch.setattr(layout, "LAYOUT_VERSION", layout.LAYOUT_VERSION + 1)
    bumped = make_window()
    assert not bumped.layout_restored and dock_state(bumped) == default
    bumped.docks["trends"].close()
    bumped.close()
    fewer = make_window(PANES[:2])
    assert not fewer.layout_restored
    assert fewer.docks["trends"].isVisible()


def test_reset_layout_brings_back_closed_and_floating_docks(make_window):
    window = make_window()
    default = dock_state(window)
    window.docks["trends"].close()
    window.docks["overview"].setFloating(True)
    window.act_reset.trigger()
    assert dock_state(window) == default


def test_full_screen_toggles(make_window):
    window = make_window()
    window.act_full.trigger()
    assert window.isFullScreen()
    window.act_full.trigger()
    assert not window.isFullScreen()


def test_status_bar_shows_each_link_with_shape_and_word(make_window, ctx, links):
    window = make_window()
    bar = window.status
    assert bar.link_labels["plc1"].text() == "● plc1 up"
    assert bar.link_labels["plc2"].text() == "▲ plc2 DOWN"
    assert bar.link_labels["plc2"].property("linkState") == "down"
    assert bar.link_labels["plc2"].toolTip() == "refused"
    assert bar.db_label.text() == "● database ok"
    assert bar.stored_label.text() == "stored 1,234"
    assert bar.backlog_label.text() == "backlog 5"
    assert bar.user_label.text() == ""  # no users yet: no fake name

    links.links = (LinkStatus.now("plc1", LinkState.DOWN), LinkStatus.now("plc2", LinkState.UP))
    links.stats = WriterStats(stored=1300, spooled_backlog=700, queued=5, db_ok=False, last_error="gone")
    ctx.refresh()
    assert bar.link_labels["plc1"].text() == "▲ plc1 DOWN"
    assert bar.link_labels["plc2"].property("linkState") == "up"
    assert bar.db_label.text() == "▲ database DOWN: gone" and bar.db_label.toolTip() == "gone"
    assert "SPOOLED" in bar.backlog_label.text() and "705" in bar.backlog_label.text()


@pytest.mark.parametrize("name", ["day", "night"])
def test_theme_variants_fill_every_token(qapp, name):
    qss = theme.stylesheet(theme.PALETTES[name])
    assert "@" not in qss
    assert theme.PALETTES[name].background in qss


def test_night_theme_toggle_switches_palette_and_tells_panes(make_window, qtbot):
    window = make_window()
    with qtbot.waitSignal(theme.signals().changed) as blocker:
        window.act_night.trigger()
    assert blocker.args == [theme.NIGHT] and theme.current() is theme.NIGHT
    window.act_night.trigger()
    assert theme.current() is theme.DAY


def test_abnormal_colours_are_distinct_and_not_the_background():
    colours = {theme.ALARM_HIGH, theme.ALARM_LOW, theme.WARNING, theme.BAD_QUALITY, theme.STALE}
    assert len(colours) == 5
    assert not colours & {theme.DAY.background, theme.NIGHT.background, theme.DAY.text, theme.NIGHT.text}


def test_closing_the_window_takes_its_panes_off_the_tag_bus(qtbot, ctx, isolated_data_dir):
    from hmi.ui.pane_registry import PANES as REGISTERED
    from hmi.ui.panes import load_panes

    load_panes()
    window = MainWindow(ctx, [REGISTERED["overview"], REGISTERED["trends"]])
    qtbot.addWidget(window)
    window.show()
    assert ctx.bus.consumers() == 1  # the trends' ring buffers
    window.close()
    assert ctx.bus.consumers() == 0
