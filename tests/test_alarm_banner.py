"""The alarm banner and the alarm sounds: calm when nothing is unacknowledged, the newest most urgent alarm and the
counts otherwise; a P1 sounds until acknowledged or silenced, a P3 once; the banner sits above the docks."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from hmi.config import load_config
from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.services.alarm_center import AlarmCenter
from hmi.ui.alarm_banner import BANNER_PT, NONE_TEXT, NO_SYSTEM_TEXT, AlarmBanner
from hmi.ui.alarm_sounds import AlarmSounds, BeepPlayer
from hmi.ui.context import AppContext
from hmi.ui.main_window import MainWindow

VIB, TEMP = "drillrig1.vibration", "wellhead1.temperature"
DEFS = [
    AlarmDefinition("vib.hihi", VIB, AlarmKind.HIHI, 125.0, 1, deadband=1.0, message="Drill rig vibration high-high"),
    AlarmDefinition("vib.hi", VIB, AlarmKind.HI, 100.0, 3, deadband=1.0, message="Drill rig vibration high"),
    AlarmDefinition("temp.hi", TEMP, AlarmKind.HI, 100.0, 3, deadband=1.0, message="Wellhead temperature high"),
]  # fmt: skip


class Recorder:
    """A player that records what would play (no audio hardware)."""

    def __init__(self) -> None:
        self.played: list[int] = []

    def __call__(self, priority: int) -> None:
        self.played.append(priority)


def tv(tag: str, value: float, ts: float | None = None) -> TagValue:
    ts = time.time() if ts is None else ts
    return TagValue(tag, value, Quality.GOOD, ts, ts)


@pytest.fixture
def center() -> AlarmCenter:
    return AlarmCenter(DEFS, None, "ws-test")


@pytest.fixture
def ctx(qapp, center) -> AppContext:
    c = AppContext(load_config().plant(), TagBus(), "sqlite://")
    c.alarms = center
    return c


@pytest.fixture
def player() -> Recorder:
    return Recorder()


@pytest.fixture
def banner(qtbot, ctx, player) -> AlarmBanner:
    b = AlarmBanner(ctx, AlarmSounds(player, repeat_ms={1: 60, 2: 120}))
    qtbot.addWidget(b)
    b.resize(1500, 60)
    b.show()
    qtbot.waitExposed(b)
    return b


def feed(ctx: AppContext, *values: TagValue) -> None:
    ctx.alarms.consume(list(values))
    ctx.refresh()


def ack(ctx: AppContext, alarm_id: str) -> None:
    ctx.alarms.engine.ack(alarm_id, "olaf")
    ctx.alarms.version += 1
    ctx.refresh()


def test_calm_grey_when_nothing_is_unacknowledged(banner):
    assert banner.full_text == NONE_TEXT and banner.top is None
    assert banner.counts_text() == "P1 0 · P2 0 · P3 0 · P4 0"
    assert banner.property("alarm") == "false"
    assert all(label.property("some") == "false" for label in banner.count_labels.values())
    assert not banner.silence_button.isEnabled()


def test_the_newest_most_urgent_unacknowledged_alarm_and_the_counts(banner, ctx):
    now = time.time()
    feed(ctx, tv(TEMP, 110.0, now - 60))
    feed(ctx, tv(VIB, 110.0, now - 30))
    assert banner.top.alarm_id == "vib.hi"  # P3 both: the newest
    assert banner.full_text.startswith("P3  ·  ") and banner.full_text.endswith("110.0 mm/s  ·  Drill rig vibration high")
    feed(ctx, tv(VIB, 130.0, now - 10))
    assert banner.top.alarm_id == "vib.hihi"  # P1 beats newer-or-not
    assert banner.counts_text() == "P1 1 · P2 0 · P3 2 · P4 0"
    assert banner.count_labels[1].property("some") == "true" and banner.count_labels[2].property("some") == "false"
    assert banner.badge.priority == 1  # the shape with the number, not colour alone
    assert banner.text.font().pointSize() >= BANNER_PT  # readable from two metres
    assert banner.height() >= 50
    ack(ctx, "vib.hihi")
    assert banner.top.alarm_id == "vib.hi" and banner.counts_text() == "P1 0 · P2 0 · P3 2 · P4 0"
    ack(ctx, "vib.hi")
    ack(ctx, "temp.hi")
    assert banner.full_text == NONE_TEXT


def test_a_window_without_an_alarm_system(qtbot, qapp):
    ctx = AppContext(load_config().plant(), TagBus(), "sqlite://")
    b = AlarmBanner(ctx, AlarmSounds(Recorder()))
    qtbot.addWidget(b)
    assert b.full_text == NO_SYSTEM_TEXT and b.counts_text() == "P1 0 · P2 0 · P3 0 · P4 0"


def test_a_p1_sounds_until_acknowledged(banner, ctx, player, qtbot):
    feed(ctx, tv(VIB, 130.0))
    assert player.played == [1]
    qtbot.waitUntil(lambda: len(player.played) >= 4, timeout=3000)
    assert set(player.played) == {1} and banner.sounds.sounding == {"vib.hihi": 1}
    assert banner.silence_button.isEnabled()
    ack(ctx, "vib.hihi")
    assert banner.sounds.sounding == {}
    n = len(player.played)
    qtbot.wait(300)
    assert len(player.played) == n  # stopped


def test_silence_stops_the_sound_and_a_new_alarm_sounds_again(banner, ctx, player, qtbot):
    feed(ctx, tv(VIB, 130.0))
    qtbot.waitUntil(lambda: len(player.played) >= 2, timeout=3000)
    qtbot.mouseClick(banner.silence_button, Qt.MouseButton.LeftButton)
    assert banner.sounds.silenced and banner.sounds.sounding == {}
    assert not banner.silence_button.isEnabled() and banner.silence_button.text() == "♪ Silenced"
    n = len(player.played)
    qtbot.wait(300)
    assert len(player.played) == n
    assert banner.counts_text().startswith("P1 1")  # silenced, still unacknowledged
    feed(ctx, tv(TEMP, 110.0))  # a new alarm sounds again
    assert player.played[-1] == 3 and not banner.sounds.silenced


def test_a_p3_sounds_once(banner, ctx, player, qtbot):
    feed(ctx, tv(TEMP, 110.0))
    assert player.played == [3]
    qtbot.wait(300)
    assert player.played == [3] and banner.sounds.sounding == {} and not banner.silence_button.isEnabled()


def test_a_flood_plays_one_sound_per_update(qapp, player):
    from hmi.domain.alarm_engine import AlarmEngine

    engine = AlarmEngine([AlarmDefinition(f"f{i}", VIB, AlarmKind.HI, float(i), 1 + i % 4) for i in range(40)])
    engine.update([tv(VIB, 100.0)])
    sounds = AlarmSounds(player)
    sounds.update(engine.active())
    assert player.played == [1] and len(sounds.sounding) == 20  # P1 and P2 alarms repeat, as one sound


def test_the_beep_player_works_offscreen(qtbot, qapp):
    beeper = BeepPlayer()
    for priority in (1, 2, 3, 4):
        beeper(priority)
    qtbot.wait(700)  # QApplication.beep() with no audio device: no crash, no hang
    assert QApplication.instance() is not None


def test_the_banner_is_above_the_docks_and_a_click_selects_the_alarm(qtbot, ctx, tmp_path):
    from hmi.ui.pane_registry import PANES
    from hmi.ui.panes import load_panes

    load_panes()
    settings = QSettings(str(tmp_path / "ws.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ctx, [PANES["overview"], PANES["alarms"]], settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    bar = window.banner_bar
    assert window.toolBarArea(bar) == Qt.ToolBarArea.TopToolBarArea and not bar.isMovable()
    assert not bar.toggleViewAction().isVisible()  # it cannot be hidden from the context menu
    assert window.banner.width() > 0.9 * window.width()
    banner_bottom = window.banner.mapTo(window, window.banner.rect().bottomLeft()).y()
    assert all(d.geometry().top() >= banner_bottom for d in window.docks.values())
    feed(ctx, tv(TEMP, 110.0))
    window.docks["overview"].raise_()
    qtbot.mouseClick(window.banner, Qt.MouseButton.LeftButton, pos=window.banner.rect().center())
    assert window.docks["alarms"].widget().selected_ids() == ["temp.hi"]
    window.close()
    again = MainWindow(ctx, [PANES["overview"], PANES["alarms"]], settings=settings)
    qtbot.addWidget(again)
    assert again.layout_restored  # the saved layout (with the banner's toolbar) comes back
