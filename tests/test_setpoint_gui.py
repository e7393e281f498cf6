"""Setpoints from the overview: the tile's "setpoint…" button, the dialog's old → new confirmation, the audited
write (a fake writer, and a real plc_sim through the Runtime), and an operator who cannot."""

from __future__ import annotations

import asyncio
import time

import pytest
from asyncua import Client
from PySide6.QtCore import Qt

from hmi.config import load_config, parse_config
from hmi.domain.permissions import PermissionDenied
from hmi.domain.session import Session, SessionUser
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.services.commands import CommandService
from hmi.services.setpoints import write_setpoint
from hmi.store import audit
from hmi.store.migrate import upgrade
from hmi.ui.context import AppContext
from hmi.ui.panes.overview import OverviewPane
from hmi.ui.setpoint_dialog import CONFIRM, ENTER, OUTCOME, SetpointDialog

SP = "drillrig1.setpoint"
WAIT_MS = 30_000  # a deadline against a hang, never a measured duration


class FakeWriter:
    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []

    def __call__(self, tag_id: str, value: float) -> None:
        self.sent.append((tag_id, value))


def make_ctx(plant, bus: TagBus, engine, url: str = "sqlite://") -> AppContext:
    session = Session("ws-test")
    return AppContext(plant, bus, url, session=session, commands=CommandService(engine, session.actor, "ws-test"))


@pytest.fixture
def ctx(engine, qasync_loop) -> AppContext:
    c = make_ctx(load_config().plant(), TagBus(), engine)
    c.setpoint_writer = FakeWriter()
    publish(c, SP, 100.0)
    return c


@pytest.fixture
def pane(qtbot, ctx) -> OverviewPane:
    p = OverviewPane(ctx)
    qtbot.addWidget(p)
    p.resize(990, 786)
    p.show()
    qtbot.waitExposed(p)
    return p


def publish(ctx: AppContext, tag: str, value: float) -> None:
    now = time.time()
    ctx.bus.publish([TagValue(tag, value, Quality.GOOD, now, now, "")])
    ctx.refresh()


def log_in(ctx: AppContext, name: str, role: str) -> None:
    ctx.session.login(SessionUser(name, role))
    ctx.session_changed.emit()


def trail(engine) -> list[tuple[str, str, str, str | None, str | None]]:
    return [(r.entry.user, r.entry.role, r.entry.result, r.entry.old_value, r.entry.new_value)
            for r in audit.query(engine, audit.AuditQuery(newest_first=False))]


def open_from_tile(qtbot, pane: OverviewPane, wait: bool = True) -> SetpointDialog:
    button = pane.setpoint_button(SP)
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = pane.setpoint_dialog
    assert dialog is not None and dialog.isVisible()
    if wait:  # not inside a coroutine on the qasync loop: waitExposed spins a nested event loop
        qtbot.waitExposed(dialog)
    return dialog


def confirm(qtbot, dialog: SetpointDialog, text: str) -> None:
    dialog.input.setText(text)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.pages.currentIndex() == CONFIRM


def write(qtbot, dialog: SetpointDialog, loop) -> None:
    qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    assert dialog.write_task is not None
    loop.run_until_complete(dialog.write_task)
    assert dialog.pages.currentIndex() == OUTCOME


def test_an_engineer_writes_from_the_tile_after_seeing_old_and_new(qtbot, pane, ctx, engine, qasync_loop):
    log_in(ctx, "erik", "engineer")
    button = pane.setpoint_button(SP)
    assert button.text() == "setpoint…"
    assert button.toolTip() == "Write a new setpoint to the PLC (you confirm old → new first)"
    dialog = open_from_tile(qtbot, pane)
    assert dialog.pages.currentIndex() == ENTER
    assert dialog.windowTitle() == "Setpoint of Drill Rig 1"
    assert dialog.current_label.text() == "100.0 Nm"
    assert dialog.findChild(type(dialog.current_label), "range").text() == "0.0 – 200.0 Nm"

    confirm(qtbot, dialog, "120,5")
    assert dialog.confirmation_text() == "100.0 Nm → 120.5 Nm"
    assert dialog.new_label.font().pointSize() >= 24  # readable from two metres
    assert ctx.setpoint_writer.sent == [] and trail(engine) == []  # nothing before "Write to PLC"

    write(qtbot, dialog, qasync_loop)
    assert ctx.setpoint_writer.sent == [(SP, 120.5)]
    assert trail(engine) == [
        ("erik", "engineer", "requested", "100.0 Nm", "120.5 Nm"),
        ("erik", "engineer", "ok", "100.0 Nm", "120.5 Nm"),
    ]
    assert dialog.outcome_text().startswith("✔ Written: 100.0 Nm → 120.5 Nm\nSent to plc1; waiting for the PLC")

    publish(ctx, SP, 120.5)  # the PLC reports it back
    assert pane.value_text(SP) == "SP 120.5"
    assert dialog.outcome_text() == "✔ Written: 100.0 Nm → 120.5 Nm\nThe PLC reports the setpoint of Drill Rig 1 is now 120.5 Nm."
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.setpoint_dialog is None, timeout=WAIT_MS)


def test_a_value_outside_the_range_stays_on_the_first_step_and_nothing_is_sent(qtbot, pane, ctx, engine):
    log_in(ctx, "ada", "admin")
    dialog = open_from_tile(qtbot, pane)
    dialog.input.setText("250")
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.pages.currentIndex() == ENTER
    assert dialog.error_label.text() == "✖ 250.0 Nm is outside the range of drillrig1.setpoint: 0.0 – 200.0 Nm"
    dialog.input.setText("abc")
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)
    assert dialog.pages.currentIndex() == ENTER and "not a number" in dialog.error_label.text()
    qtbot.mouseClick(dialog.findChild(type(dialog.next_button), "cancel"), Qt.MouseButton.LeftButton)
    assert ctx.setpoint_writer.sent == [] and trail(engine) == []


def test_cancel_on_the_confirmation_sends_nothing(qtbot, pane, ctx, engine):
    log_in(ctx, "erik", "engineer")
    dialog = open_from_tile(qtbot, pane)
    confirm(qtbot, dialog, "150")
    qtbot.mouseClick(dialog.findChild(type(dialog.write_button), "cancelConfirm"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.setpoint_dialog is None, timeout=WAIT_MS)
    assert ctx.setpoint_writer.sent == [] and trail(engine) == []


def test_an_operator_sees_the_control_disabled_and_a_forced_write_is_denied_and_audited(
    qtbot, pane, ctx, engine, qasync_loop
):
    log_in(ctx, "olga", "operator")
    button = pane.setpoint_button(SP)
    assert button.isVisible() and not button.isEnabled()
    assert button.toolTip() == "engineers and admins may write setpoints (you are olga, operator)"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert pane.setpoint_dialog is None

    # Forced past the disabled button: the service checks again.
    with pytest.raises(PermissionDenied):
        qasync_loop.run_until_complete(ctx.command(
            lambda commands: write_setpoint(commands, ctx.plant, ctx.setpoint_writer, SP, 150.0, 100.0)
        ))
    dialog = pane.open_setpoint(SP)
    confirm(qtbot, dialog, "150")
    write(qtbot, dialog, qasync_loop)
    assert dialog.outcome_text() == "✖ Not written\nolga (operator) may not write setpoint"
    assert ctx.setpoint_writer.sent == []
    assert [(u, r, res) for u, r, res, _o, _n in trail(engine)] == [("olga", "operator", "denied")] * 2


def test_the_buttons_follow_the_session(qtbot, pane, ctx):
    button = pane.setpoint_button("turbine1.setpoint")
    assert not button.isEnabled()
    assert button.toolTip() == "engineers and admins may write setpoints: log in first"
    log_in(ctx, "erik", "engineer")
    assert all(pane.setpoint_button(t.tag_id).isEnabled() for t in ctx.plant.tags if t.kind.value == "setpoint")
    ctx.session.lock()
    ctx.session_changed.emit()
    assert not button.isEnabled()
    log_in(ctx, "olga", "operator")
    assert not button.isEnabled()
    log_in(ctx, "ada", "admin")
    assert button.isEnabled()


def test_an_engineer_writes_through_the_runtime_and_the_tile_shows_what_plc_sim_reports(
    plc_sim_factory, tmp_path, engine, qtbot, qasync_loop
):
    from hmi.runtime import Runtime

    sim = plc_sim_factory(seed=5, rate=10)
    config = parse_config(sim.config_text, "plc-sim --print-config")
    history = f"sqlite:///{tmp_path / 'history.sqlite'}"
    upgrade(history)
    runtime = Runtime(config, history)
    ctx = make_ctx(runtime.plant, runtime.bus, engine, history)
    ctx.setpoint_writer = runtime.write_setpoint
    pane = OverviewPane(ctx)
    qtbot.addWidget(pane)
    pane.resize(990, 786)
    pane.show()
    log_in(ctx, "erik", "engineer")

    async def until(condition, what: str) -> None:
        deadline = time.monotonic() + WAIT_MS / 1000
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"never happened: {what}")
            await asyncio.sleep(0.05)

    async def scenario() -> tuple[str, str]:
        await runtime.start()
        ctx.start()
        try:
            await until(lambda: pane.value_text(SP).startswith("SP "), "the tile shows the setpoint")
            before = pane.value_text(SP)
            dialog = open_from_tile(qtbot, pane, wait=False)
            confirm(qtbot, dialog, "175")
            shown = dialog.confirmation_text()
            qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
            await dialog.write_task
            await until(lambda: pane.value_text(SP) == "SP 175.0", f"the tile shows SP 175.0 (was {before})")
            await until(lambda: "The PLC reports" in dialog.outcome_text(), "the dialog says the PLC took it")
            return shown, dialog.outcome_text()
        finally:
            ctx.stop()
            await runtime.stop()

    shown, outcome = qasync_loop.run_until_complete(scenario())
    assert shown.endswith("→ 175.0 Nm")
    assert outcome.endswith("The PLC reports the setpoint of Drill Rig 1 is now 175.0 Nm.")

    async def read() -> float:
        async with Client(sim.url, timeout=5) as client:
            return await client.get_node("ns=2;s=drillrig1.setpoint").read_value()

    assert asyncio.run(read()) == 175.0
    assert [(u, res, n) for u, _r, res, _o, n in trail(engine)] == [
        ("erik", "requested", "175.0 Nm"), ("erik", "ok", "175.0 Nm"),
    ]
