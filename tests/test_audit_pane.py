"""The Audit pane as a supervisor and an operator see it: the refusal line, the records, search, verify, export."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from sqlalchemy import text

from hmi.config import load_config
from hmi.domain.audit import AuditEntry
from hmi.domain.session import Session, SessionUser
from hmi.domain.tag_bus import TagBus
from hmi.services import login, user_admin
from hmi.services.commands import CommandService
from hmi.store import audit
from hmi.store.audit import AuditQuery
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.ui.audit_model import COL
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PANES
from hmi.ui.panes.audit import REFUSAL, AuditPane

PW = "Control room 42"
SUE = SessionUser("sue", "shift_supervisor")
OLAF = SessionUser("olaf", "operator")


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'hmi.db'}"
    upgrade(url)
    eng = make_engine(url)
    login.create_first_admin(eng, "anna", PW, workstation="ws-1")
    admin = CommandService(eng, lambda: SessionUser("anna", "admin"), "ws-1")
    user_admin.add_user(admin, "sue", "shift_supervisor", PW)
    user_admin.add_user(admin, "olaf", "operator", PW)
    for e in (
        AuditEntry("olaf", "operator", "ws-2", "ack_alarm", "TI-101 high", "ok"),
        AuditEntry("olaf", "operator", "ws-2", "write_setpoint", "drillrig1.setpoint", "denied",
                   detail="olaf (operator) may not write setpoint"),
        AuditEntry("anna", "admin", "ws-1", "write_setpoint", "drillrig1.setpoint", "ok", "10", "12.5"),
    ):  # fmt: skip
        audit.record(eng, e)
    yield eng
    eng.dispose()


@pytest.fixture
def session():
    return Session("ws-test")


@pytest.fixture
def ctx(qapp, engine, session):
    commands = CommandService(engine, session.actor, "ws-test")
    return AppContext(load_config().plant(), TagBus(), str(engine.url), session=session, commands=commands)


@pytest.fixture
def pane(qtbot, qasync_loop, ctx):
    p = AuditPane(ctx)
    qtbot.addWidget(p)
    p.resize(1200, 500)
    p.show()
    qtbot.waitExposed(p)
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


def shown(pane: AuditPane, column: str) -> list[str]:
    """The cells of one column as the table shows them, top to bottom."""
    model = pane.table.model()
    return [model.index(row, COL[column]).data() for row in range(model.rowCount())]


def log_in(ctx: AppContext, user: SessionUser) -> None:
    ctx.session.login(user)
    ctx.session_changed.emit()


def test_registered_tabbed_on_the_right():
    spec = PANES["audit"]
    assert spec.create is AuditPane and spec.area == Qt.DockWidgetArea.RightDockWidgetArea and spec.tab_with


def test_an_operator_sees_one_calm_line_and_no_records(pane, ctx, engine, qasync_loop):
    assert pane.refusal.isVisible() and pane.refusal.text() == REFUSAL
    assert not pane.table.isVisible()
    before = audit.last_seq(engine)
    log_in(ctx, OLAF)
    qasync_loop.run_until_complete(pane.settle())
    assert pane.refusal.isVisible() and pane.refusal.text() == REFUSAL
    assert pane.table.model().rowCount() == 0 and pane.model.records() == []
    assert audit.last_seq(engine) == before  # the pane did not even ask


def test_a_supervisor_sees_the_records_and_filters_them(pane, ctx, qasync_loop):
    log_in(ctx, SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() >= 3, "records listed")
    assert pane.table.isVisible() and not pane.refusal.isVisible()
    assert "drillrig1.setpoint" in shown(pane, "target") and "TI-101 high" in shown(pane, "target")
    row = shown(pane, "new").index("12.5")
    assert shown(pane, "user")[row] == "anna" and shown(pane, "old")[row] == "10" and shown(pane, "result")[row] == "ok"
    denied = shown(pane, "result").index("▲ denied")  # a word and a shape, colour only besides
    assert shown(pane, "user")[denied] == "olaf" and "may not write setpoint" in shown(pane, "detail")[denied]
    assert pane.count.text() == f"{pane.table.model().rowCount()} records"

    pane.search.setText("TI-101")
    until(qasync_loop, lambda: shown(pane, "target") == ["TI-101 high"], "search applied")
    pane.search.clear()
    until(qasync_loop, lambda: "TI-101 high" in shown(pane, "target") and len(shown(pane, "target")) > 1, "search cleared")
    pane.result_box.setCurrentIndex(pane.result_box.findData("denied"))
    pane.reload_later()
    until(qasync_loop, lambda: shown(pane, "result") == ["▲ denied"], "result filter applied")


def test_new_records_appear_on_top(pane, ctx, engine, qasync_loop):
    log_in(ctx, SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() >= 3, "records listed")
    audit.record(engine, AuditEntry("anna", "admin", "ws-1", "write_setpoint", "press3.setpoint", "failed", "4", "5",
                                    "the PLC said no"))  # fmt: skip
    qasync_loop.run_until_complete(pane.poll())
    assert shown(pane, "target")[0] == "press3.setpoint" and shown(pane, "result")[0] == "✖ failed"


def test_logout_and_lock_take_the_records_away(pane, ctx, qasync_loop):
    log_in(ctx, SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() >= 3, "records listed")
    ctx.session.lock()
    ctx.session_changed.emit()
    assert pane.refusal.isVisible() and pane.model.records() == []
    log_in(ctx, SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() >= 3, "records listed again")
    log_in(ctx, OLAF)  # a switch of user
    assert pane.refusal.isVisible() and pane.table.model().rowCount() == 0


def test_verify_shows_intact_then_the_changed_record(pane, ctx, engine, qasync_loop, qtbot):
    log_in(ctx, SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() >= 3, "records listed")
    total = audit.last_seq(engine)
    qtbot.mouseClick(pane.verify_button, Qt.MouseButton.LeftButton)
    until(qasync_loop, lambda: "intact" in pane.chain.text(), "verified")
    assert pane.chain.text() == f"✔ Chain intact ({total} records, last #{total})"

    (changed,) = [r.seq for r in audit.query(engine, AuditQuery(text="12.5"))]
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text(f"UPDATE audit_log SET new_value = '99' WHERE seq = {changed}"))
    qtbot.mouseClick(pane.verify_button, Qt.MouseButton.LeftButton)
    until(qasync_loop, lambda: "NOT intact" in pane.chain.text(), "verified again")
    assert pane.chain.text().splitlines() == [
        f"◆ Chain NOT intact: 1 problem in {total} records",
        f"record {changed}: changed after it was written (its hash does not match)",
    ]
    assert pane.chain.property("chain") == "broken"


def test_export_writes_an_xlsx_through_the_audited_service(pane, ctx, engine, qasync_loop, qtbot, monkeypatch, tmp_path):
    from openpyxl import load_workbook

    log_in(ctx, SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() >= 3, "records listed")
    pane.search.setText("drillrig1")
    until(qasync_loop, lambda: set(shown(pane, "target")) == {"drillrig1.setpoint"}, "search applied")
    target = tmp_path / "trail"  # no suffix typed: the chosen filter gives it
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "Excel workbook (*.xlsx)"))
    qtbot.mouseClick(pane.export_button, Qt.MouseButton.LeftButton)
    path = Path(f"{target}.xlsx")
    until(qasync_loop, lambda: pane.status.text().startswith("exported"), "exported")
    assert pane.status.text() == f"exported 2 records to {path}"
    rows = list(load_workbook(path).active.iter_rows(min_row=2, values_only=True))
    assert [(r[3], r[7], r[8]) for r in rows] == [("olaf", "drillrig1.setpoint", "denied"),
                                                  ("anna", "drillrig1.setpoint", "ok")]  # fmt: skip
    on_record = audit.query(engine, AuditQuery(user="sue", action="view_audit", newest_first=False))
    assert [(r.entry.target, r.entry.result, r.entry.workstation) for r in on_record] == [
        (str(path), "requested", "ws-test"), (str(path), "ok", "ws-test")]  # fmt: skip


def test_a_failed_export_is_shown_in_words(pane, ctx, qasync_loop, tmp_path):
    log_in(ctx, SUE)
    until(qasync_loop, lambda: pane.table.model().rowCount() >= 3, "records listed")
    missing = tmp_path / "no such folder" / "trail.csv"
    assert qasync_loop.run_until_complete(pane.export(str(missing))) is None
    assert "export failed: cannot write" in pane.status.text() and "does not exist" in pane.status.text()
    assert not missing.parent.exists()


def test_a_window_without_a_database_says_so(qtbot, qapp, session):
    session.login(SUE)
    ctx = AppContext(load_config().plant(), TagBus(), "sqlite://", session=session)
    p = AuditPane(ctx)
    qtbot.addWidget(p)
    p.show()
    assert p.refusal.isVisible() and "no database" in p.refusal.text()
