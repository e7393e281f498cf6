"""The status bar names an alarm journal that cannot write, and is quiet while it can."""

from __future__ import annotations

import asyncio

from hmi.config import load_config
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.services.alarm_center import AlarmCenter
from hmi.store.db import make_engine
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.status_bar import StatusBar


def test_a_journal_that_cannot_write_is_shown_with_its_backlog(qtbot, tmp_path, engine):
    plant = load_config().plant()
    defs = load_config().alarm_definitions()
    ctx = AppContext(plant, TagBus(), "sqlite://")
    ctx.alarms = AlarmCenter(defs, engine, "ws-1")
    bar = StatusBar(ctx)
    qtbot.addWidget(bar)
    asyncio.run(ctx.alarms.start())
    bar.refresh()
    assert bar.journal_label.isHidden()

    (tmp_path / "not-a-file").mkdir()
    away = make_engine(f"sqlite:///{tmp_path / 'not-a-file'}", check=False)  # a folder: SQLite cannot open it
    ctx.alarms = AlarmCenter(defs, away, "ws-1")
    asyncio.run(ctx.alarms.start())
    ctx.alarms.consume([TagValue("drillrig1.pressure", 79.0, Quality.GOOD, 1.0, 1.0)])
    ctx.alarms.tick(10.0)
    bar.refresh()
    assert not bar.journal_label.isHidden()
    waiting = ctx.alarms.stats().queued
    assert waiting == 1  # the pressure-high activation, kept for the database
    assert bar.journal_label.text() == f"{theme.SHAPE_WARNING} alarm journal waiting: 1"
    assert "unable to open database file" in bar.journal_label.toolTip()
