"""The window's memory is bounded: 1,000 tags at 10 Hz for 10 minutes grow its resident set by < 50 MB.

The real main window (every registered pane) on a bare tag bus, fed the way the acquisition does:
one batch of every tag each 100 ms of data time. The buffers are bounded by sample count, not by
wall time, so ten minutes of data (6,000 batches of 1,000 tags, stamped over the last ten minutes)
are fed as fast as the window takes them, with a refresh tick (and the Qt events delivered) every
second of data time: 600 ticks, each showing the 1,000 changed tags. The honest real-time figure is bench/bench_gui_memory.py.
"""

from __future__ import annotations

import gc
import math
import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from hmi.config import load_config
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.store.migrate import upgrade
from hmi.ui.context import AppContext
from hmi.ui.main_window import MainWindow
from hmi.ui.pane_registry import registered_panes
from hmi.ui.panes import load_panes
from plc_sim.plant import simulated_plant

LOAD_TAGS = 1000
RATE_HZ = 10
MINUTES = 10
LIMIT_MB = 50
TICK_EVERY = RATE_HZ  # batches between two refresh ticks

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set from /proc")


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    gc.collect()
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.slow
def test_a_thousand_tags_at_ten_hertz_for_ten_minutes_grow_the_window_by_less_than_50_mb(qtbot, tmp_path,
                                                                                        isolated_data_dir):
    config = simulated_plant(load_config(), url="opc.tcp://127.0.0.1:1/hmi/plc", extra_tags=LOAD_TAGS,
                             extra_rate=RATE_HZ)
    plant = config.plant()
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url)
    ctx = AppContext(plant, TagBus(), url)
    load_panes()
    window = MainWindow(ctx, registered_panes(), settings=QSettings(str(tmp_path / "ws.ini"),
                                                                     QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    load = [t.tag_id for t in plant.tags if t.twin.startswith("load")]
    assert len(load) == LOAD_TAGS
    pens = [t.tag_id for t in plant.twins[0].tags][:3] + load[:3]  # as an operator might have them
    ctx.open_trends.emit(pens)

    batches = MINUTES * 60 * RATE_HZ
    start = time.time() - batches / RATE_HZ
    marks: dict[str, float] = {}
    app = QApplication.instance()
    for k in range(batches):
        ts = start + k / RATE_HZ
        ctx.bus.publish([TagValue(tag, 50.0 + 10.0 * math.sin(0.01 * k + i), Quality.GOOD, ts, ts)
                         for i, tag in enumerate(load)])
        if k % TICK_EVERY == 0:
            ctx.refresh()
            app.processEvents()
        if k == 60 * RATE_HZ:
            marks["first minute"] = rss_mb()
    marks["end"] = rss_mb()
    growth = marks["end"] - marks["first minute"]

    trends = window.docks["trends"].widget()
    assert trends.pens() == pens
    # What a user sees: ten minutes of each pen on the trend, the newest value on the overview.
    ring = trends.buffers.ring(load[0])
    assert ring is not None and ring.size == batches
    assert window.docks["overview"].widget().value_text(load[-1]) != "—"
    print(f"resident memory: {marks}, growth after the first minute {growth:.1f} MB")
    assert growth < LIMIT_MB, f"resident memory grew {growth:.1f} MB after the first minute ({marks})"
    window.close()
    assert ctx.bus.consumers() == 0
