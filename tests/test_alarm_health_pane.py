"""The Alarm health pane: a hand-made flood and its findings, the tables, the export, a database away."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from hmi.config import load_config
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.session import Session, SessionUser
from hmi.domain.tag_bus import TagBus
from hmi.services.commands import CommandService
from hmi.store import alarm_journal, audit
from hmi.store.audit import AuditQuery
from hmi.store.db import make_engine
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PANES
from hmi.ui.panes.alarm_health import NOT_YET, AlarmHealthPane
from tests.test_alarm_journal_pane import NOW, entry

SUE = SessionUser("sue", "shift_supervisor")
OLAF = SessionUser("olaf", "operator")
N, U, A = AlarmState.NORMAL, AlarmState.UNACK, AlarmState.ACKED
FLOOD_AT = 6 * 3600.0  # seconds before NOW


def flood_and_background() -> list:
    """A flood of 40 alarms in 20 minutes six hours ago, a chattering alarm, one stale alarm, a quiet rest."""
    events = []
    for i in range(40):  # one every 30 s: 11 in 10 min start a flood
        alarm = f"pipeline1.p{i % 5}.hi"
        events.append(entry(FLOOD_AT - i * 30, "activate", N, U, alarm=alarm, priority=2 if i % 3 else 1))
        events.append(entry(FLOOD_AT - i * 30 - 5, "return", U, N, alarm=alarm, priority=2 if i % 3 else 1))
    for k in range(4):  # every 15 s: chattering
        events.append(entry(3 * 3600 - 15 * k, "activate", N, U, alarm="turbine1.vibration.hi", priority=3))
        events.append(entry(3 * 3600 - 15 * k - 5, "return", U, N, alarm="turbine1.vibration.hi", priority=3))
    events.append(entry(30 * 3600, "activate", N, U, alarm="retail1.fuel_inventory.lo", priority=4))  # before the period
    events.append(entry(29 * 3600, "ack", U, A, alarm="retail1.fuel_inventory.lo", priority=4, user="olaf"))
    return events


@pytest.fixture
def session():
    return Session("ws-test")


@pytest.fixture
def ctx(qapp, engine, session):
    alarm_journal.append_many(engine, flood_and_background())
    commands = CommandService(engine, session.actor, "ws-test")
    c = AppContext(load_config().plant(), TagBus(), str(engine.url), session=session, commands=commands)
    c.alarms = SimpleNamespace(definitions={"retail1.fuel_inventory.lo": None}, version=0)
    return c


@pytest.fixture
def pane(qtbot, qasync_loop, ctx):
    p = AlarmHealthPane(ctx, clock=lambda: NOW)
    qtbot.addWidget(p)
    p.resize(1400, 1000)
    p.show()
    yield p
    qasync_loop.run_until_complete(p.settle())


def cells(model) -> list[list[str]]:  # noqa: ANN001 - a RowsModel
    return [[model.index(r, c).data() for c in range(model.columnCount())] for r in range(model.rowCount())]


def test_registered_with_the_journal():
    import hmi.ui.panes.alarm_journal  # noqa: F401 - registers the journal pane

    spec = PANES["alarm_health"]
    assert spec.create is AlarmHealthPane and spec.title == "Alarm health"
    assert spec.tab_with == PANES["alarm_journal"].tab_with


def test_a_hand_made_flood_is_found_and_said_in_words(pane, qasync_loop):
    assert pane.findings.text() == NOT_YET and not pane.chart.isVisible()
    assert pane.period.box.currentText() == "last 24 h"
    health = qasync_loop.run_until_complete(pane.compute())
    assert health is not None and len(health.floods) == 1
    text = pane.findings.text()
    assert "NOT MET: 1 flood," in text and "of the time in flood" in text  # a word and a shape, bold
    assert "▲ NOT MET: 1 chattering alarm" in text and "turbine1.vibration.hi" in text
    assert "✔ No stale alarm" not in text and "1 stale alarm" in text and "retail1.fuel_inventory.lo" in text
    assert pane.chart.isVisible() and pane.state.text().startswith(
        time.strftime("%Y-%m-%d %H:%M", time.localtime(NOW - 86400))
    )
    assert "44 alarms" in pane.state.text()  # 40 in the flood and 4 chattering

    (flood,) = cells(pane.floods_model)
    start = time.strftime("%Y-%m-%d %H:%M", time.localtime(NOW - FLOOD_AT))  # the first alarm
    assert flood[0] == start and flood[3] == "40" and flood[2].endswith("min")
    assert flood[4] == "pipeline1.p0.hi (8), pipeline1.p1.hi (8), pipeline1.p2.hi (8)"
    assert pane.flood_share.text().startswith("In flood ") and "1 flood " in pane.flood_share.text()
    assert cells(pane.chattering_model)[0][:3] == ["vibration HI (turbine1.vibration.hi)", "▼ 3", "4"]
    stale = cells(pane.stale_model)
    assert stale[0][0] == "fuel_inventory LO (retail1.fuel_inventory.lo)" and stale[0][3].endswith("h")
    top = cells(pane.top_model)
    assert top[0][0] == "p0 HI (pipeline1.p0.hi)" and top[0][2] == "8" and top[0][3] == "18%" and len(top) == 6
    mix = cells(pane.mix_model)
    assert [row[0] for row in mix] == ["◆ 1", "▲ 2", "▼ 3", "● 4"]
    assert mix[0][1:] == ["14", "32%", "high", "32%", "about 5%"]


def test_a_quiet_period_says_so(pane, qasync_loop):
    pane.period.set_custom(NOW - 20 * 3600, NOW - 10 * 3600)  # before the flood... and after the stale activation
    qasync_loop.run_until_complete(pane.compute())
    assert "No alarm annunciated in 10 h" in pane.findings.text()
    assert pane.flood_share.text().startswith("Never in flood") and not pane.floods.isVisible()


def test_export_writes_the_report_and_is_audited(pane, ctx, engine, qasync_loop, tmp_path):
    from openpyxl import load_workbook

    ctx.session.login(SUE)
    ctx.session_changed.emit()
    assert not pane.export_button.isEnabled() and pane.export_button.toolTip() == "Compute the health first"
    qasync_loop.run_until_complete(pane.compute())
    assert pane.export_button.isEnabled()
    path = tmp_path / "health.xlsx"
    assert qasync_loop.run_until_complete(pane.export(str(path)))
    assert pane.state.text().startswith("exported the alarm health report")
    wb = load_workbook(path)
    rows = list(wb["Summary"].iter_rows(min_row=2, values_only=True))
    summary = {row[0]: row[1] for row in rows if row[0]}
    assert summary["floods"] == 1 and summary["alarms annunciated"] == 44 and summary["chattering alarms"] == 1
    assert [row[0] for row in rows if str(row[1]).startswith("1 flood,")] == ["NOT OK"]
    floods = list(wb["Floods"].iter_rows(min_row=2, values_only=True))
    assert len(floods) == 1 and floods[0][5] == 40
    on_record = audit.query(engine, AuditQuery(user="sue", action="export_report", newest_first=False))
    assert [(r.entry.target, r.entry.result) for r in on_record] == [(str(path), "requested"), (str(path), "ok")]


def test_an_operator_may_compute_but_not_export(pane, ctx, qasync_loop):
    ctx.session.login(OLAF)
    ctx.session_changed.emit()
    qasync_loop.run_until_complete(pane.compute())
    assert pane.health is not None and not pane.export_button.isEnabled()
    assert "(you are olaf, operator)" in pane.export_button.toolTip()


def test_a_database_that_is_away_is_said_in_words(qtbot, qasync_loop, qapp, session):
    away = make_engine("postgresql+psycopg://hmi:secret@127.0.0.1:1/hmi", check=False)
    commands = CommandService(away, session.actor, "ws-test")
    ctx = AppContext(load_config().plant(), TagBus(), "postgresql://away", session=session, commands=commands)
    p = AlarmHealthPane(ctx, clock=lambda: NOW)
    qtbot.addWidget(p)
    p.show()
    assert qasync_loop.run_until_complete(p.compute()) is None
    assert p.state.text().startswith("▲ the alarm health could not be computed: database")
    assert "is unavailable" in p.state.text() and "secret" not in p.state.text()
    assert p.compute_button.isEnabled() and p.findings.text() == NOT_YET
    away.dispose()


def test_a_big_journal_does_not_freeze_the_window(pane, engine, qasync_loop):
    rows = [entry(86000 - i * 0.4, "activate" if i % 2 == 0 else "return", N if i % 2 == 0 else U,
                  U if i % 2 == 0 else N, alarm=f"refinery1.t{i // 2 % 40}.hi") for i in range(100_000)]  # fmt: skip
    alarm_journal.append_many(engine, rows)
    gaps: list[float] = []

    async def watch(task: asyncio.Task) -> None:
        last = time.monotonic()
        while not task.done():
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def both() -> None:
        task = asyncio.ensure_future(pane.compute())
        await watch(task)
        assert (await task) is not None

    qasync_loop.run_until_complete(both())
    assert len(gaps) > 5 and max(gaps) < 1.0  # the loop went on while the health was computed
