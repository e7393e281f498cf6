"""The andon board on the REAL AndonService and a migrated SQLite file: a call raised through the service (as
another workstation would) is on the board within a second, its Acknowledge button acknowledges it in the
database with an audit record, a call someone else took first is refused with who and when, and wall
mode shows the board with nobody logged in."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from hmi.domain.andon import CallState, Category
from hmi.domain.session import Session
from hmi.domain.tag_bus import TagBus
from hmi.services.andon import AndonService
from hmi.services.commands import CommandService
from hmi.store.schema import audit_log
from hmi.ui.andon_source import ServiceAndonSource
from hmi.ui.context import AppContext
from hmi.ui.panes.andon import AndonPane
from tests.andon_support import BOB, OLGA, SAM, add_users, andon_config


def real_context(engine, config, user=SAM) -> AppContext:
    """A context on the test's database, ``user`` logged in (None: nobody), ctx.andon as hmi.app sets it."""
    session = Session("ws-board")
    if user is not None:
        session.login(user)
    ctx = AppContext(config.plant(), TagBus(), "sqlite://", session=session,
                     commands=CommandService(engine, session.actor, "ws-board"))  # fmt: skip
    ctx.andon = ServiceAndonSource(ctx, AndonService(engine, config, workstation="ws-board"))
    return ctx


async def eventually(condition, what: str, timeout: float = 15.0) -> float:
    """Wait until ``condition()`` holds; the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"never happened: {what}"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture
def config():
    return andon_config()


@pytest.fixture
def other(engine, config) -> AndonService:
    """The service as another workstation (or the CLI) uses it."""
    add_users(engine)
    return AndonService(engine, config, workstation="ws-other")


def board(qtbot, loop, ctx) -> AndonPane:
    pane = AndonPane(ctx, player=lambda _p: None)
    qtbot.addWidget(pane)
    pane.resize(1300, 900)
    pane.show()
    loop.run_until_complete(eventually(lambda: pane.loads >= 1, "the first read"))
    return pane


def audit_rows(engine, action: str) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log).where(audit_log.c.action == action)))


def test_a_new_call_shows_within_a_second_and_its_acknowledge_works(qtbot, qasync_loop, engine, config, other):
    pane = board(qtbot, qasync_loop, real_context(engine, config))
    assert "sf1" in pane.tiles and pane.tiles["sf1"].state == "running"

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        new = await loop.run_in_executor(None, lambda: other.raise_call(OLGA, "sf1", Category.MATERIAL, "no caps"))
        took = await eventually(lambda: pane.tiles["sf1"].state == "open", "the call on the board")
        assert took < 1.0, f"the new call took {took:.2f} s to show"
        tile = pane.tiles["sf1"]
        assert tile.text("state") == "◆ CALL OPEN"
        assert tile.text("what") == "MATERIAL · raised by olga"
        assert pane.cues == [new.call_id]
        tile.ack_button.click()
        await eventually(lambda: tile.state == "acked", "acknowledged on the board")
        stored = other.call(new.call_id)
        assert (stored.state, stored.acked_by) == (CallState.ACKNOWLEDGED, "sam")
        assert tile.text("ack").startswith("acknowledged by sam at ")
        rows = audit_rows(engine, "ack_andon")
        assert [(r.user_name, r.target, r.result, r.workstation) for r in rows] == [
            ("sam", f"andon call {new.call_id}", "ok", "ws-board")]

    qasync_loop.run_until_complete(scenario())


def test_a_call_someone_else_took_first_is_refused_with_who_and_when(qtbot, qasync_loop, engine, config, other):
    new = other.raise_call(OLGA, "sf2", Category.QUALITY)
    pane = board(qtbot, qasync_loop, real_context(engine, config))
    tile = pane.tiles["sf2"]
    assert tile.state == "open"
    pane._poll.stop()  # the board has not seen bob's acknowledge yet when sam clicks
    other.acknowledge(BOB, new.call_id)

    async def scenario() -> None:
        tile.ack_button.click()
        await eventually(lambda: pane.message.property("kind") == "problem", "the refusal")
        await eventually(lambda: tile.state == "acked", "the board read again after the refusal")

    qasync_loop.run_until_complete(scenario())
    text = pane.message.text()
    assert text.startswith(f"▲ Not done: call {new.call_id} was already acknowledged by bob at ") and text.endswith(" UTC")
    assert tile.state == "acked" and tile.text("ack").startswith("acknowledged by bob")  # read again after it
    refused = [r for r in audit_rows(engine, "ack_andon") if r.user_name == "sam"]
    assert [r.result for r in refused] == ["refused"]


def test_resolve_with_a_reason_code_on_the_real_service(qtbot, qasync_loop, engine, config, other):
    new = other.raise_call(OLGA, "sf1", Category.MAINTENANCE)
    pane = board(qtbot, qasync_loop, real_context(engine, config))

    async def scenario() -> None:
        pane.tiles["sf1"].resolve_button.click()
        await eventually(lambda: pane.dialog is not None, "the Resolve dialog")
        assert [pane.dialog.reason.itemData(i) for i in range(pane.dialog.reason.count())] == [
            None, "mechanical", "changeover", "planned_maintenance"]
        pane.dialog.choose("mechanical")
        pane.dialog.ok_button.click()
        await eventually(lambda: pane.tiles["sf1"].state == "running", "resolved")

    qasync_loop.run_until_complete(scenario())
    stored = other.call(new.call_id)
    assert (stored.state, stored.reason_code, stored.resolved_by) == (CallState.RESOLVED, "mechanical", "sam")


def test_on_a_locked_station_the_board_reads_and_a_step_asks_for_a_login(qtbot, qasync_loop, engine, config, other):
    new = other.raise_call(OLGA, "sf1", Category.SAFETY)
    ctx = real_context(engine, config, user=None)
    asked: list[bool] = []

    async def nobody_logs_in() -> bool:
        asked.append(True)
        return False

    ctx.login_prompt = nobody_logs_in
    pane = board(qtbot, qasync_loop, ctx)
    tile = pane.tiles["sf1"]
    assert tile.state == "open" and tile.ack_button.isEnabled()
    assert "log in first" in tile.ack_button.toolTip()
    tile.ack_button.click()
    qasync_loop.run_until_complete(eventually(lambda: pane.message.property("kind") == "problem", "the refusal"))
    assert asked == [True]
    assert pane.message.text() == "▲ Not done: the workstation is locked: log in to give commands"
    assert other.call(new.call_id).state is CallState.OPEN


def test_wall_mode_shows_the_board_full_screen_with_no_login(qapp, engine, db_url, config, other, tmp_path,
                                                              monkeypatch):  # fmt: skip
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QDialog

    from hmi.cli import main
    from hmi.resources import resource_text
    from hmi.ui import andon_wall
    from tests.andon_support import ANDON

    other.raise_call(OLGA, "sf1", Category.SAFETY, "spill at the filler")
    plant = tmp_path / "plant.toml"
    plant.write_text(resource_text("plant.toml") + ANDON, encoding="utf-8")
    seen: dict = {}
    real = andon_wall.make_wall

    def spy(window) -> None:
        real(window)

        def look() -> None:
            pane = window.docks["andon"].widget()
            tile = pane.tiles.get("sf1")
            seen.update(docks=sorted(window.docks), full=window.isFullScreen(), menu=window.menuBar().isVisible(),
                        state=tile.text("state") if tile else None, detail=tile.text("detail") if tile else None,
                        dialogs=[d.windowTitle() for d in window.findChildren(QDialog) if d.isVisible()],
                        locked=window.ctx.session.locked)  # fmt: skip

        QTimer.singleShot(2500, look)

    monkeypatch.setattr(andon_wall, "make_wall", spy)
    code = main(["--config", str(plant), "--db", db_url, "gui", "--wall", "--offscreen", "--run-for", "3.5",
                 "--screenshot", str(tmp_path / "wall.png")])  # fmt: skip
    assert code == 0
    assert seen == {"docks": ["andon"], "full": True, "menu": False, "state": "◆ CALL OPEN",
                    "detail": "spill at the filler", "dialogs": [], "locked": True}  # fmt: skip
    assert (tmp_path / "wall.png").stat().st_size > 0


def test_wall_mode_takes_no_other_pane():
    from hmi.cli import main

    assert main(["gui", "--wall", "--show", "trends"]) == 1
