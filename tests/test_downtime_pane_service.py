"""The Downtime pane on the real AndonService and a migrated SQLite file: stops made by causes are listed,
the Pareto sums to their downtime, and a reason entered in the dialog is stored, audited and shown."""

from __future__ import annotations

from sqlalchemy import select

from hmi.config import load_config
from hmi.domain.andon import LineKind, Origin
from hmi.domain.session import Session
from hmi.domain.tag_bus import TagBus
from hmi.services.commands import CommandService
from hmi.store.schema import audit_log
from hmi.ui.context import AppContext
from hmi.ui.downtime_table import from_us
from hmi.ui.oee_source import ServiceOeeSource
from hmi.ui.panes.downtime import DowntimePane
from tests.andon_support import MIN, SAM, T0, add_users, andon_config, service
from tests.andon_support import Clock
from tests.orders_panes_support import until


def test_stops_pareto_and_a_reason_through_the_real_andon_service(qtbot, qasync_loop, engine):
    add_users(engine)
    config = andon_config()
    andon = service(engine, config, Clock(T0 + 90 * MIN))
    andon.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam", T0)
    andon.cause_ended("sf1", Origin.MACHINE, T0 + 20 * MIN)
    andon.cause_started("sf2", LineKind.SHOPFLOOR, Origin.OFFLINE, "no heartbeat", T0 + 30 * MIN)
    andon.cause_ended("sf2", Origin.OFFLINE, T0 + 45 * MIN)
    session = Session("ws-1")
    session.login(SAM)
    ctx = AppContext(load_config().plant(), TagBus(), "sqlite://", session=session,
                     commands=CommandService(engine, session.actor, "ws-1"))  # fmt: skip
    pane = DowntimePane(ctx, ServiceOeeSource(ctx, config), clock=lambda: from_us(T0 + 60 * MIN))
    qtbot.addWidget(pane)
    pane.resize(1500, 800)
    pane.show()
    until(qasync_loop, lambda: pane.loads >= 1 and pane.stops.rowCount() == 2, "the two stops")
    assert pane.total_s == 35 * 60  # 20 + 15 min, the sum of the stops
    assert sum(r.seconds for r in pane.pareto.rows()) == 35 * 60
    [sf2] = [s for s in pane.stops.rows() if s.line == "sf2"]
    assert pane.stops.text(pane.stops.row_of(sf2.downtime_id), "reason") == "— enter reason"

    pane.select(sf2.downtime_id)
    pane.reason_button.click()
    until(qasync_loop, lambda: pane.dialog is not None, "the reason dialog")
    pane.dialog.reason_box.setCurrentIndex(pane.dialog.reason_box.findData("planned_maintenance"))
    pane.dialog.ok_button.click()
    until(qasync_loop, lambda: pane.stops.text(pane.stops.row_of(sf2.downtime_id), "planned") == "planned",
          "the stop with its reason")  # fmt: skip
    assert pane.stops.text(pane.stops.row_of(sf2.downtime_id), "reason") == "Planned maintenance"
    [stored] = [s for s in andon.downtime(T0, T0 + 60 * MIN) if s.line == "sf2"]
    assert (stored.reason_code, stored.entered_by) == ("planned_maintenance", "sam")
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.user_name, audit_log.c.action, audit_log.c.result)
                            .where(audit_log.c.target == f"downtime {sf2.downtime_id}")).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("sam", "resolve_andon", "ok")]
