"""The Shopfloors pane over a fake OrdersSource: a tile each, health in words, the manager's capacity control."""

from __future__ import annotations

from hmi.ui.panes.shopfloors import ShopfloorsPane
from tests.orders_fake import NOW, plant
from tests.orders_panes_support import MIA, OLAF, context, until


def make(qtbot, loop, fake, user):
    pane = ShopfloorsPane(context(user), fake, clock=lambda: NOW)
    qtbot.addWidget(pane)
    pane.resize(700, 760)
    pane.show()
    until(loop, lambda: pane.loads >= 1, "the first read")
    return pane


def test_tiles_say_health_heartbeat_capacity_load_and_last_report(qtbot, qasync_loop):
    pane = make(qtbot, qasync_loop, plant(), OLAF)
    assert list(pane.tiles) == ["sf1", "sf2", "sf3", "sf4"]
    sf1, sf3, sf4 = pane.tiles["sf1"], pane.tiles["sf3"], pane.tiles["sf4"]
    assert sf1.text("health") == "● online"
    assert sf3.text("health") == "▲ OFFLINE"
    assert sf3.health.property("health") == "offline"
    assert sf4.text("health") == "? unknown"
    assert pane.tiles["sf2"].text("health") == "◷ late"
    assert sf3.text("heartbeat") == "31 min ago"
    assert sf4.text("heartbeat") == "never"
    assert sf1.text("capacity") == "400 units/h"
    assert (sf1.text("load"), sf1.text("busy")) == ("1,830 units", "4 h 34 min")
    assert sf4.text("busy") == "—"
    assert (sf1.text("activity"), sf3.text("activity")) == ("producing", "— (was producing)")
    assert sf4.text("dispatch") == "▲ OUT of dispatch"
    assert sf4.text("report") == "none yet"
    assert pane.summary.text().endswith("400 units/h online in dispatch")


def test_only_the_mes_manager_gets_the_capacity_control(qtbot, qasync_loop):
    fake = plant()
    pane = make(qtbot, qasync_loop, fake, OLAF)
    assert not pane.tiles["sf1"].controls.isVisible()
    manager = make(qtbot, qasync_loop, fake, MIA)
    tile = manager.tiles["sf2"]
    assert tile.controls.isVisible()
    tile.capacity_edit.setValue(320)
    tile.apply_button.click()
    until(qasync_loop, lambda: tile.text("capacity") == "320 units/h", "the new capacity read back")
    assert fake.calls[-1] == ("set_capacity", ("sf2", 320.0))
    tile.dispatch_box.click()
    until(qasync_loop, lambda: tile.text("dispatch") == "▲ OUT of dispatch", "out of dispatch")
    assert fake.calls[-1] == ("set_dispatch", ("sf2", False))
    assert manager.message.text() == "✔ sf2: out of dispatch"
