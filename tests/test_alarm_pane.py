"""The alarm pane under pytest-qt with a real AlarmCenter fed TagValues: rows and order, flashing, acknowledging
with a comment (journal and audit rows), permissions on the buttons, shelving, filters, Show trend."""

from __future__ import annotations

import asyncio
import time

import pytest
from PySide6.QtCore import QSettings, Qt

from hmi.config import load_config
from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.session import Session, SessionUser
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.services.alarm_center import AlarmCenter
from hmi.services.commands import CommandService
from hmi.store import alarm_journal
from hmi.store.audit import AuditQuery, query
from hmi.ui.alarm_dialogs import CommentDialog, ShelveDialog
from hmi.ui.alarm_model import COL
from hmi.ui.context import AppContext
from hmi.ui.main_window import MainWindow
from hmi.ui.pane_registry import PANES
from hmi.ui.panes import load_panes
from hmi.ui.panes.alarms import AlarmPane

load_panes()

VIB, TEMP, PRES = "drillrig1.vibration", "wellhead1.temperature", "wellhead1.pressure"
DEFS = [
    AlarmDefinition("vib.hihi", VIB, AlarmKind.HIHI, 125.0, 1, deadband=1.0, message="Drill rig vibration high-high"),
    AlarmDefinition("vib.hi", VIB, AlarmKind.HI, 100.0, 3, deadband=1.0, message="Drill rig vibration high"),
    AlarmDefinition("temp.hi", TEMP, AlarmKind.HI, 100.0, 3, deadband=1.0, message="Wellhead temperature high"),
    AlarmDefinition("pres.lo", PRES, AlarmKind.LO, 10.0, 2, deadband=0.5, message="Wellhead pressure low"),
    AlarmDefinition("plc1.comm", "", AlarmKind.COMM_LOSS, 0.0, 2, message="communication lost with plc1",
                    endpoint="plc1"),
]  # fmt: skip


def tv(tag: str, value: float, ts: float | None = None) -> TagValue:
    ts = time.time() if ts is None else ts
    return TagValue(tag, value, Quality.GOOD, ts, ts)


def until(loop, condition, what: str, timeout: float = 15.0) -> None:
    """Run the event loop until ``condition()`` holds (a generous bound, not a timing assertion)."""

    async def wait() -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"never happened: {what}"
            await asyncio.sleep(0.02)

    loop.run_until_complete(wait())


@pytest.fixture
def center(engine) -> AlarmCenter:
    return AlarmCenter(DEFS, engine, "ws-test")


@pytest.fixture
def ctx(qapp, engine, center) -> AppContext:
    session = Session("ws-test")
    c = AppContext(load_config().plant(), TagBus(), str(engine.url), session=session,
                   commands=CommandService(engine, session.actor, "ws-test"))  # fmt: skip
    c.alarms = center
    return c


@pytest.fixture
def pane(qtbot, qasync_loop, ctx) -> AlarmPane:
    p = AlarmPane(ctx)
    qtbot.addWidget(p)
    p.resize(1400, 500)
    p.show()
    qtbot.waitExposed(p)
    yield p
    qasync_loop.run_until_complete(p.settle())


def log_in(ctx: AppContext, name: str, role: str) -> None:
    ctx.session.login(SessionUser(name, role))
    ctx.session_changed.emit()


def feed(ctx: AppContext, *values: TagValue) -> None:
    ctx.alarms.consume(list(values))
    ctx.refresh()


def column(pane: AlarmPane, name: str) -> list[str]:
    model = pane.table.model()
    return [model.index(row, COL[name]).data() for row in range(model.rowCount())]


def select(pane: AlarmPane, message: str) -> None:
    pane.table.selectRow(column(pane, "message").index(message))


def four_alarms(ctx: AppContext) -> None:
    """P1 vib.hihi + P3 vib.hi (newest), P3 temp.hi (older), P2 pres.lo; the temp alarm returns (latched)."""
    now = time.time()
    feed(ctx, tv(TEMP, 110.0, now - 120), tv(PRES, 5.0, now - 60))
    feed(ctx, tv(VIB, 130.0, now - 10))
    feed(ctx, tv(TEMP, 90.0, now - 5))


def test_registered_across_the_bottom_right_after_the_overview():
    spec = PANES["alarms"]
    assert spec.create is AlarmPane and spec.title == "Alarms"
    assert spec.area == Qt.DockWidgetArea.BottomDockWidgetArea and not spec.tab_with
    orders = sorted((s.order, name) for name, s in PANES.items())
    assert [name for _, name in orders][:2] == ["overview", "alarms"]


def test_rows_by_priority_then_newest_with_state_words(pane, ctx):
    four_alarms(ctx)
    assert column(pane, "message") == [
        "Drill rig vibration high-high", "Wellhead pressure low", "Drill rig vibration high", "Wellhead temperature high",
    ]  # fmt: skip
    assert column(pane, "priority") == ["1", "2", "3", "3"]
    assert column(pane, "twin") == ["Drill Rig 1", "Wellhead 1", "Drill Rig 1", "Wellhead 1"]
    assert column(pane, "value")[0] == "130.0 mm/s"
    assert column(pane, "state") == ["Unacknowledged", "Unacknowledged", "Unacknowledged", "Returned – unacknowledged"]
    stamp = column(pane, "time")[0]
    assert len(stamp) == 8 and stamp.count(":") == 2  # HH:MM:SS, local time today
    assert pane.counts.text() == "4 shown · 4 unacknowledged"


def test_the_table_is_rebuilt_only_when_the_version_changes_and_keeps_the_selection(pane, ctx):
    four_alarms(ctx)
    select(pane, "Wellhead temperature high")
    updates = []
    for signal in (pane.model.modelReset, pane.model.dataChanged, pane.model.rowsInserted, pane.model.rowsRemoved):
        signal.connect(lambda *_, name=signal: updates.append(name))
    ctx.refresh()
    ctx.refresh()
    assert updates == []  # nothing changed: no rebuild
    feed(ctx, tv(PRES, 12.0))  # returns: a new version, its row repainted
    assert updates and column(pane, "state")[1] == "Returned – unacknowledged"
    assert pane.selected_ids() == ["temp.hi"]


def test_only_unacknowledged_rows_flash_from_one_timer(pane, ctx, center, qtbot):
    four_alarms(ctx)
    center.engine.ack("pres.lo", "sam")
    center.version += 1
    ctx.refresh()
    model = pane.model
    flashing = [model.is_flashing(r) for r in range(model.rowCount())]
    assert flashing == [True, False, True, True]  # the acknowledged P2 is steady
    background = Qt.ItemDataRole.BackgroundRole
    phases = set()
    for _ in range(2):
        on = model.flash_on
        qtbot.waitUntil(lambda on=on: model.flash_on != on, timeout=3000)
        phases.add(model.flash_on)
        row_p1 = model.index(0, COL["message"]).data(background)
        assert (row_p1 is not None) == model.flash_on
        assert model.index(1, COL["message"]).data(background) is None  # acknowledged: never coloured
        # The returned alarm flashes in its priority and state cells only; the rest of its row stays calm.
        assert model.index(3, COL["message"]).data(background) is None
        assert (model.index(3, COL["state"]).data(background) is not None) == model.flash_on
    assert phases == {True, False}


def test_acknowledging_with_a_comment_changes_the_row_the_banner_the_journal_and_the_audit(
    qtbot, qasync_loop, ctx, engine, tmp_path
):
    window = MainWindow(ctx, [PANES["alarms"]], settings=QSettings(str(tmp_path / "ws.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    pane: AlarmPane = window.docks["alarms"].widget()
    banner = window.banner
    log_in(ctx, "olaf", "operator")
    four_alarms(ctx)
    assert banner.counts_text() == "P1 1 · P2 1 · P3 2 · P4 0"
    assert "Drill rig vibration high-high" in banner.full_text and "130.0 mm/s" in banner.full_text

    select(pane, "Drill rig vibration high-high")
    button = pane.buttons["ack"]
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    until(qasync_loop, lambda: isinstance(pane.dialog, CommentDialog) and pane.dialog.isVisible(), "dialog open")
    dialog = pane.dialog
    assert "Drill rig vibration high-high" in dialog.findChild(type(dialog.error), "alarmList").text()
    qtbot.keyClicks(dialog.comment_edit, "checked the rig, bearing noise")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qasync_loop.run_until_complete(pane.settle())

    row = column(pane, "message").index("Drill rig vibration high-high")
    assert column(pane, "state")[row] == "Acknowledged"
    assert not pane.model.is_flashing(pane.proxy.mapToSource(pane.proxy.index(row, 0)).row())
    assert pane.message.text().startswith("✔ Acknowledged 1 alarm")
    ctx.refresh()
    assert banner.counts_text() == "P1 0 · P2 1 · P3 2 · P4 0"
    assert "Wellhead pressure low" in banner.full_text  # the next most urgent unacknowledged one

    rows = [r for r in alarm_journal.query(engine) if r.what == "ack"]
    assert [(r.alarm_id, r.user, r.comment, r.to_state) for r in rows] == [
        ("vib.hihi", "olaf", "checked the rig, bearing noise", AlarmState.ACKED)
    ]
    records = [r.entry for r in query(engine, AuditQuery()) if r.entry.action == "ack_alarm"]
    assert [(e.user, e.target, e.result) for e in records] == [("olaf", "vib.hihi", "ok")]
    assert "bearing noise" in records[0].detail

    # A click on the banner brings the alarm pane up on the banner's alarm.
    qtbot.mouseClick(banner, Qt.MouseButton.LeftButton, pos=banner.rect().center())
    assert pane.selected_ids() == ["pres.lo"]


def test_acknowledge_all_visible_takes_only_the_filtered_rows(pane, ctx, qasync_loop, center):
    log_in(ctx, "olaf", "operator")
    four_alarms(ctx)
    pane.priority_box.setCurrentIndex(pane.priority_box.findText("P3"))
    assert column(pane, "message") == ["Drill rig vibration high", "Wellhead temperature high"]
    task = pane.start("ack_all")
    until(qasync_loop, lambda: pane.dialog is not None and pane.dialog.isVisible(), "dialog open")
    pane.dialog.accept()  # the comment is optional
    qasync_loop.run_until_complete(task)
    assert center.engine.status("vib.hi").state is AlarmState.ACKED
    assert center.engine.status("temp.hi").state is AlarmState.NORMAL  # returned + acknowledged
    assert center.engine.status("vib.hihi").state is AlarmState.UNACK


def test_an_operator_may_not_shelve_and_the_button_says_why(pane, ctx):
    four_alarms(ctx)
    # nobody logged in: the command stays (it asks for a login), and says so
    select(pane, "Drill rig vibration high")
    assert pane.buttons["ack"].isEnabled() and "you will be asked to log in" in pane.buttons["ack"].toolTip()
    log_in(ctx, "olaf", "operator")
    select(pane, "Drill rig vibration high")
    shelve = pane.buttons["shelve"]
    assert pane.buttons["ack"].isEnabled()
    assert not shelve.isEnabled()
    assert shelve.toolTip() == "shift supervisors, engineers and admins may shelve alarms (you are olaf, operator)"
    assert not pane.buttons["suppress"].isEnabled() and "engineers and admins" in pane.buttons["suppress"].toolTip()
    assert not pane.actions["shelve"].isEnabled()  # the context menu's entry too


def test_a_refused_command_is_shown_in_the_pane(pane, ctx, qasync_loop, center):
    from hmi.services.alarm_commands import AlarmCommand

    log_in(ctx, "olaf", "operator")
    four_alarms(ctx)
    ok = qasync_loop.run_until_complete(pane.run(AlarmCommand("shelve", ("vib.hi",), "noisy", 600.0)))
    assert not ok
    assert pane.message.text() == "▲ Not done: olaf (operator) may not shelve alarm"
    assert pane.message.property("kind") == "problem"
    assert center.engine.status("vib.hi").state is AlarmState.UNACK


def test_an_engineer_shelves_with_a_reason_and_the_row_goes_to_the_hidden_count(pane, ctx, qasync_loop, center, engine):
    log_in(ctx, "erik", "engineer")
    four_alarms(ctx)
    select(pane, "Drill rig vibration high")
    assert pane.buttons["shelve"].isEnabled()
    task = pane.start("shelve")
    until(qasync_loop, lambda: isinstance(pane.dialog, ShelveDialog) and pane.dialog.isVisible(), "dialog open")
    dialog = pane.dialog
    dialog.set_duration_text("45m")
    dialog.ok_button.click()
    assert dialog.isVisible() and "reason" in dialog.error.text()  # a reason is required
    dialog.set_duration_text("9h")
    dialog.reason_edit.setText("vibration probe being replaced")
    dialog.ok_button.click()
    assert dialog.isVisible() and "at most 8 h" in dialog.error.text()
    dialog.set_duration_text("45m")
    dialog.ok_button.click()
    assert qasync_loop.run_until_complete(task)

    status = center.engine.status("vib.hi")
    assert status.state is AlarmState.SHELVED and status.reason == "vibration probe being replaced"
    assert 44 * 60 < status.shelved_until - time.time() <= 45 * 60
    assert "Drill rig vibration high" not in column(pane, "message")
    assert pane.hidden.text() == "Not shown: 1 shelved (state filter)"
    pane.set_state_filter("shelved")
    assert column(pane, "message") == ["Drill rig vibration high"]
    assert column(pane, "state")[0].startswith("Shelved until ") and column(pane, "state")[0].endswith(" by erik")
    shelved = [r for r in alarm_journal.query(engine) if r.what == "shelve"]
    assert [(r.alarm_id, r.user, r.comment) for r in shelved] == [("vib.hi", "erik", "vibration probe being replaced")]

    select(pane, "Drill rig vibration high")
    assert pane.buttons["unshelve"].isEnabled() and not pane.buttons["ack"].isEnabled()
    task = pane.start("unshelve")
    until(qasync_loop, lambda: pane.dialog is not None and pane.dialog.isVisible(), "dialog open")
    pane.dialog.accept()
    assert qasync_loop.run_until_complete(task)
    assert center.engine.status("vib.hi").state is AlarmState.UNACK


def test_cancelling_a_dialog_does_nothing(pane, ctx, qasync_loop, center):
    log_in(ctx, "olaf", "operator")
    four_alarms(ctx)
    select(pane, "Wellhead pressure low")
    task = pane.start("ack")
    until(qasync_loop, lambda: pane.dialog is not None and pane.dialog.isVisible(), "dialog open")
    pane.dialog.reject()
    assert qasync_loop.run_until_complete(task) is False
    assert center.engine.status("pres.lo").state is AlarmState.UNACK


def test_filters_by_twin_priority_and_state(pane, ctx, center):
    four_alarms(ctx)
    center.engine.link("plc1", False, time.time() - 30)
    center.engine.tick()
    center.engine.suppress("pres.lo", "erik", "well shut in")
    center.version += 1
    ctx.refresh()
    assert "communication lost with plc1" in column(pane, "message")
    assert "Wellhead pressure low" not in column(pane, "message")
    assert pane.hidden.text() == "Not shown: 1 suppressed (state filter)"

    pane.twin_box.setCurrentIndex(pane.twin_box.findText("Drill Rig 1"))
    assert column(pane, "message") == ["Drill rig vibration high-high", "Drill rig vibration high"]
    pane.twin_box.setCurrentIndex(pane.twin_box.findText("PLC link plc1"))
    assert column(pane, "message") == ["communication lost with plc1"] and column(pane, "value") == ["link down"]
    pane.twin_box.setCurrentIndex(0)
    pane.priority_box.setCurrentIndex(pane.priority_box.findText("P1"))
    assert column(pane, "message") == ["Drill rig vibration high-high"]
    pane.priority_box.setCurrentIndex(0)
    pane.set_state_filter("suppressed / out of service")
    assert column(pane, "message") == ["Wellhead pressure low"] and column(pane, "state") == ["Suppressed by erik"]
    assert pane.hidden.text() == ""
    pane.set_state_filter("unacknowledged")
    assert "Wellhead temperature high" in column(pane, "message")  # returned, unacknowledged
    pane.set_state_filter("everything")
    assert len(column(pane, "message")) == 5


def test_show_trend_opens_the_trends_pane_on_the_tag_around_the_activation(qtbot, ctx, tmp_path):
    window = MainWindow(ctx, [PANES["alarms"], PANES["trends"]],
                        settings=QSettings(str(tmp_path / "ws.ini"), QSettings.Format.IniFormat))  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    pane: AlarmPane = window.docks["alarms"].widget()
    trends = window.docks["trends"].widget()
    activated = time.time() - 100
    feed(ctx, tv(PRES, 5.0, activated))
    select(pane, "Wellhead pressure low")
    assert pane.buttons["trend"].isEnabled()  # no login needed to look
    qtbot.mouseClick(pane.buttons["trend"], Qt.MouseButton.LeftButton)
    assert trends.pens() == [PRES]
    assert not trends.follow
    t0, t1 = trends.visible_range()
    assert t0 == pytest.approx(activated - 600, abs=1) and t1 == pytest.approx(time.time(), abs=5)


def test_show_trend_without_a_trends_pane_emits_open_trends(qtbot, pane, ctx):
    feed(ctx, tv(VIB, 110.0))
    select(pane, "Drill rig vibration high")
    with qtbot.waitSignal(ctx.open_trends, timeout=2000) as signal:
        pane.show_trend()
    assert signal.args == [[VIB]]


def test_a_communication_loss_alarm_has_no_trend(pane, ctx, center):
    center.engine.link("plc1", False, time.time() - 30)
    center.version += 1
    ctx.refresh()
    select(pane, "communication lost with plc1")
    assert not pane.buttons["trend"].isEnabled() and "select an alarm of a tag" in pane.buttons["trend"].toolTip()


def test_a_window_without_an_alarm_system_says_so(qtbot, qapp, engine):
    ctx = AppContext(load_config().plant(), TagBus(), str(engine.url))
    p = AlarmPane(ctx)
    qtbot.addWidget(p)
    p.show()
    assert p.unavailable.isVisible() and not p.table.isVisible()
    assert not p.buttons["ack"].isEnabled()


def test_a_flood_is_one_rebuild_per_tick(pane, ctx):
    defs = [AlarmDefinition(f"flood{i}", VIB, AlarmKind.HI, float(i), 3) for i in range(50)]
    center = AlarmCenter(defs, None, "ws-test")
    ctx.alarms = center
    resets = []
    pane.model.modelReset.connect(lambda: resets.append(1))
    for i in range(50):
        center.consume([tv(VIB, i + 0.5)])  # one more alarm per sample
    ctx.refresh()
    assert len(resets) == 1 and pane.model.rowCount() == 50


def test_at_a_locked_station_acknowledge_asks_for_a_login_then_acknowledges(qtbot, qasync_loop, pane, ctx, engine):
    four_alarms(ctx)
    asked = []

    async def login_prompt() -> bool:  # the window's login dialog: olaf logs in
        asked.append(True)
        log_in(ctx, "olaf", "operator")
        return True

    ctx.login_prompt = login_prompt
    select(pane, "Drill rig vibration high-high")
    task = pane.start("ack")
    until(qasync_loop, lambda: pane.dialog is not None and pane.dialog.isVisible(), "dialog open")
    pane.dialog.accept()
    qasync_loop.run_until_complete(task)
    assert asked == [True]
    assert pane.ctx.alarms.engine.status("vib.hihi").state is AlarmState.ACKED
    acks = alarm_journal.query(engine, alarm_journal.JournalQuery(what=["ack"]))
    assert [(e.alarm_id, e.user) for e in acks] == [("vib.hihi", "olaf")]


def test_alarms_coming_and_going_update_their_rows_without_a_reset_and_keep_the_selection(pane, ctx, center):
    """Rows are inserted, removed and repainted, never a model reset: the view keeps the selected row itself
    (and its current row) while a flood adds alarms above it, and does not read every row again."""
    now = time.time()
    feed(ctx, tv(TEMP, 110.0, now - 120), tv(PRES, 5.0, now - 60))
    select(pane, "Wellhead temperature high")
    pane.table.setCurrentIndex(pane.table.model().index(1, COL["message"]))
    resets = []
    pane.model.modelReset.connect(lambda: resets.append(1))
    feed(ctx, tv(VIB, 130.0, now - 10))  # two new alarms, P1 on top and P3 above the selected one
    assert column(pane, "message") == [
        "Drill rig vibration high-high", "Wellhead pressure low", "Drill rig vibration high", "Wellhead temperature high",
    ]  # fmt: skip
    assert pane.selected_ids() == ["temp.hi"] and pane.table.currentIndex().row() == 3
    center.engine.ack("pres.lo", "sam")
    center.engine.ack("vib.hihi", "sam")
    center.version += 1
    feed(ctx, tv(PRES, 12.0), tv(VIB, 10.0))  # two acknowledged alarms return: they leave the list
    assert column(pane, "message") == ["Drill rig vibration high", "Wellhead temperature high"]
    assert column(pane, "state") == ["Returned – unacknowledged", "Unacknowledged"]
    assert pane.selected_ids() == ["temp.hi"] and pane.table.currentIndex().row() == 1
    assert resets == []
