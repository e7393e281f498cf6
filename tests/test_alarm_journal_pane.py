"""The Alarm journal pane: rows in words newest first, filters, following the alarms, export, a database away."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from hmi.config import load_config
from hmi.domain.alarm_defs import AlarmKind
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.alarm_journal import JournalEntry
from hmi.domain.session import Session, SessionUser
from hmi.domain.tag_bus import TagBus
from hmi.services.commands import CommandService
from hmi.store import alarm_journal, audit
from hmi.store.audit import AuditQuery
from hmi.store.db import make_engine
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PANES
from hmi.ui.panes import load_panes
from hmi.ui.panes.alarm_journal import NO_DATABASE, AlarmJournalPane

NOW = 1_780_000_000.0  # a fixed "now" for the pane's clock
SUE = SessionUser("sue", "shift_supervisor")
OLAF = SessionUser("olaf", "operator")
VERA = SessionUser("vera", "viewer")
N, U, A, R = AlarmState.NORMAL, AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK
SH, SU, OOS = AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE


def entry(ago: float, what: str, frm: AlarmState, to: AlarmState, *, alarm: str = "drillrig1.pressure.hi",
          priority: int = 2, user: str = "", comment: str = "", value: float | None = None,
          until: float | None = None) -> JournalEntry:  # fmt: skip
    """A journal entry ``ago`` seconds before NOW for an alarm named like '<twin>.<parameter>.<kind>'."""
    twin, parameter, kind = alarm.split(".")
    return JournalEntry(
        ts=NOW - ago, alarm_id=alarm, tag=f"{twin}.{parameter}", twin=twin, kind=AlarmKind(kind), priority=priority,
        from_state=frm, to_state=to, what=what, value=value, user=user, comment=comment, until=until,
        workstation="ws-1" if user else "ws-holder", message=f"{parameter} {kind.upper()}",
    )  # fmt: skip


EVENTS = [  # one of each kind, oldest first
    entry(3000, "activate", N, U, value=181.25, priority=1),
    entry(2900, "persistent", U, U, value=182.0, priority=1),
    entry(2800, "ack", U, A, user="olaf", comment="crew on it", priority=1),
    entry(2700, "shelve", A, SH, user="sue", comment="sensor swap", until=NOW - 2700 + 7200, priority=1),
    entry(2600, "unshelve", SH, A, user="sue", priority=1),
    entry(2500, "return", A, N, value=150.0, priority=1),
    entry(2400, "shelve_ended", SH, N, alarm="wellhead1.flow_rate.lo", priority=3),
    entry(2300, "suppress", N, SU, alarm="wellhead1.flow_rate.lo", user="sue", comment="shut in", priority=3),
    entry(2200, "out_of_service", SU, OOS, alarm="wellhead1.flow_rate.lo", user="erik", comment="repair", priority=3),
    entry(2100, "return_to_service", OOS, N, alarm="wellhead1.flow_rate.lo", user="erik", priority=3),
]
WHAT_NEWEST_FIRST = [
    "Returned to service", "Out of service", "Suppressed", "Shelving ended", "Returned", "Unshelved",
    "Shelved for 2 h", "Acknowledged", "Persistent (5 min)", "Activated",
]  # fmt: skip


@pytest.fixture
def session():
    return Session("ws-test")


@pytest.fixture
def ctx(qapp, engine, session):
    commands = CommandService(engine, session.actor, "ws-test")
    alarm_journal.append_many(engine, EVENTS)
    return AppContext(load_config().plant(), TagBus(), str(engine.url), session=session, commands=commands)


def make_pane(qtbot, ctx) -> AlarmJournalPane:
    p = AlarmJournalPane(ctx, clock=lambda: NOW)
    qtbot.addWidget(p)
    p.resize(1500, 500)
    p.show()  # not waitExposed: that would run the first read outside the running qasync loop
    return p


@pytest.fixture
def pane(qtbot, qasync_loop, ctx):
    p = make_pane(qtbot, ctx)
    yield p
    qasync_loop.run_until_complete(p.settle())


def until(loop, condition, what: str, timeout: float = 15.0) -> None:
    """Run the event loop until ``condition()`` holds (a generous bound, not a timing assertion)."""

    async def wait() -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"never happened: {what}"
            await asyncio.sleep(0.02)

    loop.run_until_complete(wait())


def shown(pane: AlarmJournalPane, column: str) -> list[str]:
    """The cells of one column as the table shows them, top to bottom."""
    model = pane.table.model()
    return [model.index(row, pane.model.col[column]).data() for row in range(model.rowCount())]


def choose(box, data) -> None:  # noqa: ANN001 - a QComboBox
    box.setCurrentIndex(box.findData(data))


def test_registered_in_the_audit_trails_tab_group():
    load_panes()
    spec = PANES["alarm_journal"]
    assert spec.create is AlarmJournalPane and spec.title == "Alarm journal"
    assert spec.tab_with == PANES["audit"].tab_with and spec.area == PANES["audit"].area


def test_every_event_in_words_newest_first(pane, qasync_loop):
    until(qasync_loop, lambda: pane.table.model().rowCount() == len(EVENTS), "events listed")
    assert shown(pane, "what happened") == WHAT_NEWEST_FIRST
    assert pane.count.text() == "10 events, newest first"
    first = len(EVENTS) - 1  # the activation, at the bottom
    assert shown(pane, "priority")[first] == "◆ 1" and shown(pane, "priority")[0] == "▼ 3"  # shapes, not colour alone
    assert shown(pane, "twin")[first] == "Drill Rig 1" and shown(pane, "alarm")[first] == "pressure HI"
    assert shown(pane, "state")[first] == "normal → active unack"
    assert shown(pane, "state")[first - 1] == "active unack"  # the persistent mark changes no state
    assert shown(pane, "value")[first].startswith("181") and shown(pane, "value")[0] == ""
    ack = shown(pane, "what happened").index("Acknowledged")
    assert shown(pane, "user")[ack] == "olaf" and shown(pane, "comment")[ack] == "crew on it"
    assert shown(pane, "workstation")[ack] == "ws-1"
    expected = datetime.fromtimestamp(NOW - 3000).strftime("%Y-%m-%d %H:%M:%S")  # the workstation's local time
    assert shown(pane, "time")[first] == expected


def test_filters_narrow_the_rows(pane, qasync_loop):
    until(qasync_loop, lambda: pane.table.model().rowCount() == len(EVENTS), "events listed")
    choose(pane.twin_box, "wellhead1")
    pane.reload_later()
    until(qasync_loop, lambda: set(shown(pane, "twin")) == {"Wellhead 1"}, "twin filter")
    assert len(shown(pane, "twin")) == 4

    choose(pane.twin_box, None)
    choose(pane.priority_box, 1)
    pane.reload_later()
    until(qasync_loop, lambda: set(shown(pane, "priority")) == {"◆ 1"}, "priority filter")
    assert len(shown(pane, "priority")) == 6

    choose(pane.priority_box, None)
    choose(pane.user_box, "sue")  # the users seen in the journal are offered
    pane.reload_later()
    until(qasync_loop, lambda: set(shown(pane, "user")) == {"sue"}, "user filter")
    assert shown(pane, "what happened") == ["Suppressed", "Unshelved", "Shelved for 2 h"]

    choose(pane.user_box, None)
    pane.search.setText("SENSOR swap")  # the comment, any case
    until(qasync_loop, lambda: shown(pane, "what happened") == ["Shelved for 2 h"], "text search")
    pane.search.setText("flow_rate")  # the alarm id
    until(qasync_loop, lambda: len(shown(pane, "what happened")) == 4, "search by alarm")

    pane.search.clear()
    pane.range.set_custom(NOW - 2750, NOW - 2450)  # a custom range in the past
    pane.reload_later()
    until(qasync_loop, lambda: shown(pane, "what happened") == ["Returned", "Unshelved", "Shelved for 2 h"], "custom")
    assert not pane.range.live

    pane.range.set_custom(NOW - 100, NOW - 200)
    qasync_loop.run_until_complete(pane.reload())
    assert "must end after it starts" in pane.status.text()

    pane.range.set_custom(NOW - 2000, NOW)  # nothing happened in the last 33 minutes
    pane.reload_later()
    until(qasync_loop, lambda: pane.table.model().rowCount() == 0, "an empty range")
    assert pane.count.text() == "0 events, newest first"


def test_follows_the_alarms_while_the_range_ends_now(pane, ctx, engine, qasync_loop):
    ctx.alarms = SimpleNamespace(version=0)
    until(qasync_loop, lambda: pane.table.model().rowCount() == len(EVENTS), "events listed")
    pane._seen_version = 0
    alarm_journal.append_many(engine, [entry(10, "activate", N, U, alarm="turbine1.vibration.hihi", priority=1)])
    pane._on_live()  # the alarms did not change: no read
    qasync_loop.run_until_complete(pane.settle())
    assert pane.table.model().rowCount() == len(EVENTS)
    ctx.alarms.version = 1
    pane._on_live()
    until(qasync_loop, lambda: shown(pane, "twin")[:1] == ["Turbine 1"], "the new alarm on top")

    pane.range.set_custom(NOW - 4000, NOW - 1000)  # a range in the past does not follow
    ctx.alarms.version = 2
    pane._on_live()
    assert pane._seen_version == 1


def test_export_writes_a_workbook_and_is_audited(pane, ctx, engine, qasync_loop, qtbot, monkeypatch, tmp_path):
    from openpyxl import load_workbook

    ctx.session.login(SUE)
    ctx.session_changed.emit()
    assert pane.export_button.isEnabled()
    until(qasync_loop, lambda: pane.table.model().rowCount() == len(EVENTS), "events listed")
    choose(pane.twin_box, "drillrig1")
    pane.reload_later()
    until(qasync_loop, lambda: pane.table.model().rowCount() == 6, "twin filter")
    target = tmp_path / "journal"  # no suffix typed: the chosen filter gives it
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "Excel workbook (*.xlsx)"))
    qtbot.mouseClick(pane.export_button, Qt.MouseButton.LeftButton)
    path = Path(f"{target}.xlsx")
    until(qasync_loop, lambda: pane.status.text().startswith("exported"), "exported")
    assert pane.status.text() == f"exported 6 events to {path}"

    sheet = load_workbook(path).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert [r["what"] for r in rows] == ["activate", "persistent", "ack", "shelve", "unshelve", "return"]
    assert rows[0]["time (local)"] == datetime.fromtimestamp(NOW - 3000)  # a real date-time, local
    assert rows[0]["alarm"] == "drillrig1.pressure.hi" and rows[0]["priority"] == 1 and rows[0]["value"] == 181.25
    assert (rows[2]["user"], rows[2]["comment"]) == ("olaf", "crew on it")
    assert {r["twin"] for r in rows} == {"drillrig1"}

    on_record = audit.query(engine, AuditQuery(user="sue", action="export_report", newest_first=False))
    assert [(r.entry.target, r.entry.result) for r in on_record] == [(str(path), "requested"), (str(path), "ok")]
    assert "exported 6 alarm journal entries as xlsx (last 24 h, twin=drillrig1)" in on_record[0].entry.detail


def test_export_as_csv(pane, ctx, qasync_loop, tmp_path):
    ctx.session.login(SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() == len(EVENTS), "events listed")
    path = tmp_path / "journal.csv"
    assert qasync_loop.run_until_complete(pane.export(str(path))) == len(EVENTS)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("time (local),time (UTC),alarm") and len(lines) == len(EVENTS) + 1


@pytest.mark.parametrize("user", [VERA, OLAF])
def test_export_is_disabled_with_the_reason(pane, ctx, qasync_loop, user, tmp_path):
    assert not pane.export_button.isEnabled() and "log in" in pane.export_button.toolTip()
    ctx.session.login(user)
    ctx.session_changed.emit()
    assert not pane.export_button.isEnabled()
    tip = pane.export_button.toolTip()
    assert tip.startswith("exporting is for shift supervisors") and f"(you are {user.name}, {user.role})" in tip
    until(qasync_loop, lambda: pane.table.model().rowCount() == len(EVENTS), "the journal is readable all the same")
    path = tmp_path / "journal.xlsx"  # and the service refuses even if the button were pressed
    assert qasync_loop.run_until_complete(pane.export(str(path))) is None
    assert "not exported" in pane.status.text() and "may not export report" in pane.status.text()
    assert not path.exists()


def test_a_database_that_is_away_is_said_in_words(qtbot, qasync_loop, qapp, session):
    away = make_engine("postgresql+psycopg://hmi:secret@127.0.0.1:1/hmi", check=False)
    commands = CommandService(away, session.actor, "ws-test")
    ctx = AppContext(load_config().plant(), TagBus(), "postgresql://away", session=session, commands=commands)
    p = make_pane(qtbot, ctx)
    until(qasync_loop, lambda: "could not read" in p.status.text(), "the failure shown", timeout=30)
    qasync_loop.run_until_complete(p.settle())
    assert p.status.text().startswith("▲ could not read the alarm journal: database")
    assert "is unavailable" in p.status.text() and "secret" not in p.status.text()
    assert p.table.model().rowCount() == 0 and p.isVisible()
    away.dispose()


def test_a_window_without_a_database_says_so(qtbot, qapp, session):
    ctx = AppContext(load_config().plant(), TagBus(), "sqlite://", session=session)
    p = AlarmJournalPane(ctx)
    qtbot.addWidget(p)
    p.show()
    assert p.refusal.isVisible() and p.refusal.text() == NO_DATABASE


def test_behind_another_tab_it_reads_nothing_until_brought_to_front(qtbot, qasync_loop, ctx, engine):
    """A dock tabbed behind another is visible to Qt but covered: following the alarms there would make the
    table model reset (and the view read every row) once a second during a flood, for nothing seen."""
    from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

    window = QMainWindow()
    qtbot.addWidget(window)
    p = AlarmJournalPane(ctx, clock=lambda: NOW)
    docks = []
    for name, widget in (("journal", p), ("front", QLabel("the trends"))):
        dock = QDockWidget(name, window)
        dock.setWidget(widget)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        docks.append(dock)
    window.tabifyDockWidget(docks[0], docks[1])
    window.resize(1500, 600)
    window.show()
    ctx.alarms = SimpleNamespace(version=0)
    until(qasync_loop, lambda: p.model.rowCount() == len(EVENTS), "the first read on show")
    docks[1].raise_()
    until(qasync_loop, lambda: not p.on_screen(), "the journal behind the other tab")
    resets = []
    p.model.modelReset.connect(lambda: resets.append(1))
    p.model.rowsInserted.connect(lambda *_: resets.append(1))
    alarm_journal.append_many(engine, [entry(10, "activate", N, U, alarm="turbine1.vibration.hihi", priority=1)])
    for version in (1, 2, 3):
        ctx.alarms.version = version
        p._on_live()  # the live timer's second
        qasync_loop.run_until_complete(p.settle())
    assert resets == [] and p.model.rowCount() == len(EVENTS)

    docks[0].raise_()  # the operator brings the journal to the front: the new event is there within a second
    until(qasync_loop, lambda: shown(p, "twin")[:1] == ["Turbine 1"], "the new alarm on top once in front")
    qasync_loop.run_until_complete(p.settle())


def test_a_new_event_keeps_the_row_the_operator_selected(pane, ctx, engine, qasync_loop):
    """New events are inserted on top, not a model reset: the selected row stays selected."""
    ctx.alarms = SimpleNamespace(version=0)
    until(qasync_loop, lambda: pane.table.model().rowCount() == len(EVENTS), "events listed")
    pane._seen_version = 0
    ack = shown(pane, "what happened").index("Acknowledged")
    pane.table.selectRow(ack)
    resets = []
    pane.model.modelReset.connect(lambda: resets.append(1))
    alarm_journal.append_many(engine, [entry(10, "activate", N, U, alarm="turbine1.vibration.hihi", priority=1)])
    ctx.alarms.version = 1
    pane._on_live()
    until(qasync_loop, lambda: shown(pane, "twin")[:1] == ["Turbine 1"], "the new alarm on top")
    rows = [i.row() for i in pane.table.selectionModel().selectedRows()]
    assert [shown(pane, "what happened")[r] for r in rows] == ["Acknowledged"] and rows == [ack + 1]
    assert shown(pane, "user")[ack + 1] == "olaf" and resets == []
