"""The OEE pane on the real OeeService and AndonService over a migrated SQLite file (runs once the OEE
branch's hmi.services.oee is merged): the current shift's figures are on screen as a percentage or in words,
never blank, and its drill-down lists a stop made in it."""

from __future__ import annotations

import pytest

from hmi.config import load_config
from hmi.domain.andon import LineKind, Origin
from hmi.domain.session import Session
from hmi.domain.tag_bus import TagBus
from hmi.services.commands import CommandService
from hmi.store.audit import now_us
from hmi.ui.context import AppContext
from hmi.ui.oee_source import ServiceOeeSource
from hmi.ui.oee_widgets import FACTORS
from tests.andon_support import VIC, andon_config, service
from tests.orders_panes_support import until

oee = pytest.importorskip("hmi.services.oee")


def test_the_current_shift_and_its_stop_through_the_real_services(qtbot, qasync_loop, engine):
    from hmi.ui.panes.oee import OeePane

    config = andon_config()
    shift = oee.OeeService(engine, config).current_shift()
    assert shift is not None  # the default calendar has a shift at every hour
    now = now_us()
    andon = service(engine, config, lambda: now)
    andon.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam", shift.start_us)
    andon.cause_ended("sf1", Origin.MACHINE, min(shift.start_us + 60_000_000, now))
    session = Session("ws-1")
    session.login(VIC)
    ctx = AppContext(load_config().plant(), TagBus(), "sqlite://", session=session,
                     commands=CommandService(engine, session.actor, "ws-1"))  # fmt: skip
    pane = OeePane(ctx, ServiceOeeSource(ctx, config))
    qtbot.addWidget(pane)
    pane.resize(1500, 900)
    pane.show()
    until(qasync_loop, lambda: pane.loads >= 1 and pane.stops.rowCount() >= 1, "the current shift's stop")
    assert pane.message.text() == ""
    for f in FACTORS:
        text = pane.tiles[f].value.text()
        assert text.endswith("%") or text in ("no planned time", "no production data", "no data yet"), text
    assert pane.tiles["oee"].value.text() != "100.0 %"
    assert pane.current_row is not None and pane.current_row.start_us == shift.start_us
    assert pane.tiles["availability"].value.text().endswith(" %")  # planned time, one stop: computable
    assert [s.line for s in pane.stops.rows()] == ["sf1"]
    assert pane.drill_title.text().startswith(f"Shift {pane.drilled.label}")
