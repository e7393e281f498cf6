"""The andon board with 50 tiles while 10 calls a second go through the real AndonService (target: GUI timer p99 < 50 ms).

The board pane (offscreen, 1600×900) on its ServiceAndonSource over an AndonService on an SQLite file;
a feeder in another process (as another workstation, the CLI or the collector would) raises 10 calls
a second on random lines through the service (permission, audit), acknowledges half and resolves each
after a few seconds, so the board stays full and changes all the time. A 20 ms precise QTimer on the GUI thread records how late each timeout fires.

Baseline: the same board and feed, but the naive way: every poll reads the whole board (no version()
first) and rebuilds all 50 tiles. Ours: version() every poll, the board only when it moved, and only
the tiles whose calls changed are touched. Both run in this one process, one after the other, each on
its own fresh database.

    .venv/bin/python bench/bench_gui_andon_board.py [--seconds 20] [--lines 50] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path

INTERVAL_MS = 20
WARMUP_S = 2.0
RESOLVE_AFTER_S = 4.0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def plant(lines: int):  # noqa: ANN201
    from hmi.config import parse_config
    from hmi.resources import resource_text

    floors = "".join(f'\n[[shopfloors.known]]\nid = "sf{i:02d}"\ncapacity = 600\n' for i in range(1, lines + 1))
    reasons = '\n[andon.reasons]\nmechanical = { text = "Mechanical failure", loss = "breakdown" }\n'
    tiers = '\n[[andon.escalation]]\nafter_min = 5\nuntil = "acknowledged"\nname = "shift supervisor"\n'
    return parse_config(resource_text("plant.toml") + floors + tiers + reasons, "bench")


def feed(url: str, lines: int, rate: float, ready, stop, out) -> None:  # noqa: ANN001
    """Another process (a workstation, the CLI, the collector): raise ``rate`` calls a second on random lines
    through the service, acknowledge half, resolve each after RESOLVE_AFTER_S; counts go to ``out``."""
    from hmi.domain.andon import AndonError, Category
    from hmi.domain.session import SessionUser
    from hmi.services.andon import AndonService
    from hmi.store.db import make_engine

    service = AndonService(make_engine(url), plant(lines), workstation="ws-feeder")
    names = [f"sf{i:02d}" for i in range(1, lines + 1)]
    olga, sam = SessionUser("olga", "operator"), SessionUser("sam", "shift_supervisor")
    counts = {"raised": 0, "acked": 0, "resolved": 0, "refused": 0}
    live: list[tuple[float, int]] = []
    rng = random.Random(7)
    period = 1.0 / rate
    service.version()  # connected and imported: the board's timer starts now
    ready.set()
    next_at = time.perf_counter()
    while not stop.is_set():
        try:
            call = service.raise_call(olga, rng.choice(names), rng.choice(list(Category)), "bench")
            counts["raised"] += 1
            live.append((time.perf_counter(), call.call_id))
            if rng.random() < 0.5:
                service.acknowledge(sam, call.call_id)
                counts["acked"] += 1
            while live and time.perf_counter() - live[0][0] > RESOLVE_AFTER_S:
                service.resolve(sam, live.pop(0)[1], "mechanical")
                counts["resolved"] += 1
        except AndonError:
            counts["refused"] += 1
        next_at += period
        stop.wait(max(0.0, next_at - time.perf_counter()))
    out.put(counts)


def run_board(naive: bool, seconds: float, lines: int, rate: float) -> dict:
    """One board and feed for ``seconds``: lateness of the GUI timer (ms) and what the board did."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from hmi.domain.session import Session, SessionUser
    from hmi.domain.tag_bus import TagBus
    from hmi.services.andon import AndonService
    from hmi.services.commands import CommandService
    from hmi.store.db import make_engine
    from hmi.store.migrate import upgrade
    from hmi.ui.andon_source import ServiceAndonSource
    from hmi.ui.context import AppContext
    from hmi.ui.panes.andon import AndonPane

    app = QApplication.instance()
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-andon-')) / 'board.db'}"
    upgrade(url)
    config = plant(lines)
    engine = make_engine(url)
    session = Session("ws-board")
    session.login(SessionUser("sam", "shift_supervisor"))
    ctx = AppContext(config.plant(), TagBus(), url, session=session,
                     commands=CommandService(engine, session.actor, "ws-board"))  # fmt: skip
    ctx.andon = ServiceAndonSource(ctx, AndonService(engine, config, workstation="ws-board"))
    pane = (NaiveBoard if naive else AndonPane)(ctx, player=lambda _p: None)
    pane.resize(1600, 900)
    pane.show()
    spawn = multiprocessing.get_context("spawn")
    ready, stop, out = spawn.Event(), spawn.Event(), spawn.Queue()
    feeder = spawn.Process(target=feed, args=(url, lines, rate, ready, stop, out), daemon=True)
    late: list[float] = []
    state = {"last": 0.0, "t0": time.perf_counter()}

    def on_timeout() -> None:
        now = time.perf_counter()
        if state["last"] and now - state["t0"] > WARMUP_S:
            late.append(max(0.0, (now - state["last"]) * 1000 - INTERVAL_MS))
        state["last"] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(INTERVAL_MS)
    timer.timeout.connect(on_timeout)

    async def main() -> None:
        while pane.loads < 1:
            await asyncio.sleep(0.02)
        gc.collect()
        gc.freeze()  # as hmi.app does once the window is built (_settle_gc)
        feeder.start()
        while not ready.is_set():
            await asyncio.sleep(0.05)
        timer.start()
        state["t0"] = time.perf_counter()
        cpu0 = time.thread_time()
        await asyncio.sleep(seconds)
        state["cpu"] = time.thread_time() - cpu0
        timer.stop()
        stop.set()

    loop = asyncio.get_event_loop()
    loop.run_until_complete(main())
    pane.hide()  # its poll stops; the read in flight finishes before the pane goes
    loop.run_until_complete(pane.settle())
    counts = out.get(timeout=30)
    feeder.join(10)
    result = {"late": late, "tiles": len(pane.tiles), "loads": pane.loads, "polls": pane.polls, "cpu_s": state["cpu"],
              **counts}
    pane.close()
    pane.deleteLater()
    app.processEvents()
    engine.dispose()
    return result


def _naive_board():  # noqa: ANN202
    from hmi.ui.andon_tile import AndonTile
    from hmi.ui.panes.andon import AndonPane

    class Naive(AndonPane):
        """Every poll: the whole board read, every tile thrown away and built again."""

        async def _poll_once(self, force: bool = False) -> None:
            self._reading = True
            try:
                lines = await self.source.lines()
                calls = await self.source.board()
                if not self.tiers:
                    self.tiers = await self.source.tiers()
                for tile in self.tiles.values():
                    self.grid.removeWidget(tile)
                    tile.deleteLater()
                self.tiles.clear()
                self._order = []
                self._set_lines([(ln.line, ln.name, ln.kind.value) for ln in lines])
                by_line: dict[str, list] = {}
                for c in calls:
                    by_line.setdefault(c.line, []).append(c)
                now = self.now_us()
                for line, tile in self.tiles.items():
                    tile.show_calls(by_line.get(line, []), self.tiers, now)
                self.calls = calls
                self._summarise()
                self.loads += 1
            finally:
                self.polls += 1
                self._reading = False

    return Naive, AndonTile


def main() -> int:
    """Run the baseline, then ours; print absolute figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="calls raised a second")
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("HMI_DATA_DIR", tempfile.mkdtemp(prefix="bench-andon-data-"))
    import logging

    logging.basicConfig(level=logging.WARNING)
    import qasync
    from PySide6.QtWidgets import QApplication

    from hmi.ui import theme

    global NaiveBoard
    NaiveBoard, _ = _naive_board()
    app = QApplication(sys.argv[:1])
    theme.apply(app, "day")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    results = {}
    with loop:
        for name, naive in (("baseline (rebuild every poll)", True), ("ours (version first, changed tiles)", False)):
            r = run_board(naive, args.seconds, args.lines, args.rate)
            results[name] = r
            late = r["late"]
            print(f"{name}: {r['tiles']} tiles, {r['raised']} calls raised ({r['raised'] / args.seconds:.1f}/s), "
                  f"{r['acked']} acknowledged, {r['resolved']} resolved, {r['refused']} refused; "
                  f"{r['polls']} polls, {r['loads']} board reads shown; GUI thread CPU {r['cpu_s'] / args.seconds * 100:.0f} %"
                  f"\n    timer lateness ms: p50 {percentile(late, .5):.1f}  p99 {percentile(late, .99):.1f}  "
                  f"max {max(late, default=float('nan')):.1f}  ({len(late)} timeouts)", flush=True)  # fmt: skip
    (base, ours) = results.values()
    b99, o99 = percentile(base["late"], .99), percentile(ours["late"], .99)
    print(f"p99 lateness: baseline {b99:.1f} ms, ours {o99:.1f} ms, ratio {b99 / o99 if o99 else float('inf'):.1f}x; "
          f"GUI CPU {base['cpu_s'] / max(ours['cpu_s'], 1e-9):.1f}x; "
          f"target p99 < 50 ms: {'met' if o99 < 50 else 'NOT met'}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    return 0


NaiveBoard = None

if __name__ == "__main__":
    sys.exit(main())
