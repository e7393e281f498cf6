"""The GUI thread's own CPU time for 1,000 tags at 10 Hz: a figure other work on the machine barely moves.

Wall-clock lateness on a shared machine measures the scheduler as much as the window; the CPU time
the GUI thread spends per 100 ms of feed is what the window costs. The real window (every registered
pane, offscreen) on the flood bench's plant of 1,000 analog tags (no alarm system: the panes alone),
in one process: every 100 ms one batch of all tags is published on the GUI thread and Qt's events
(timers, paints) are delivered for the rest of the 100 ms.

- baseline: the feed alone (bus, trend buffers, the panes' own timers), no refresh tick;
- ours: the feed and the refresh tick (the panes show the 1,000 changed tags).

Each is measured twice, alternating, over ``--batches`` batches.

    .venv/bin/python bench/bench_gui_cpu.py [--batches 50] [--tags 1000]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=50, help="batches (100 ms each) per measurement")
    p.add_argument("--tags", type=int, default=1000)
    args = p.parse_args()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("HMI_DATA_DIR", tempfile.mkdtemp(prefix="bench-cpu-"))
    from bench_alarm_flood import plant_toml
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from hmi.config import parse_config
    from hmi.domain.tag_bus import TagBus
    from hmi.domain.tags import Quality, TagValue
    from hmi.ui import theme
    from hmi.ui.context import AppContext
    from hmi.ui.main_window import MainWindow
    from hmi.ui.pane_registry import registered_panes
    from hmi.ui.panes import load_panes

    theme.apply(app, "day")
    plant = parse_config(plant_toml(args.tags, 1), "bench").plant()
    ctx = AppContext(plant, TagBus(), "sqlite://")
    load_panes()
    settings = QSettings(os.path.join(os.environ["HMI_DATA_DIR"], "ws.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ctx, registered_panes(), settings=settings)
    window.show()
    ids = [t.tag_id for t in plant.tags]

    def events_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def step(k: int, tick: bool) -> None:
        now = time.time()
        ctx.bus.publish([TagValue(t, 50 + 5 * math.sin(0.1 * k + i), Quality.GOOD, now, now) for i, t in enumerate(ids)])
        if tick:
            ctx.refresh()
        events_for(0.1)

    events_for(1.5)  # the first layout and measuring of the tiles
    for k in range(10):
        step(k, True)
    runs: dict[bool, list[float]] = {False: [], True: []}
    for tick in (False, True, False, True):
        c0 = time.thread_time()
        for k in range(args.batches):
            step(k, tick)
        runs[tick].append((time.thread_time() - c0) / args.batches * 1000)
    window.close()
    base, ours = runs[False], runs[True]
    print(f"window: panes {', '.join(sorted(window.docks))}; {args.tags} tags, one batch every 100 ms on the GUI thread; "
          f"GUI thread CPU per 100 ms, {args.batches} batches a measurement")
    print(f"baseline: feed alone, no tick      {' / '.join(f'{v:.1f}' for v in base)} ms")
    print(f"ours: feed and the panes' tick     {' / '.join(f'{v:.1f}' for v in ours)} ms "
          f"({min(ours):.0f} % of a core at best)")
    print(f"the tick's share: {min(ours) - min(base):.1f} ms per 100 ms; ours/baseline {min(ours) / min(base):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
