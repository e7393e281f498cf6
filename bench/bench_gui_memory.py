"""The window's resident memory while 1,000 tags stream at 10 Hz for 10 minutes (target: < 50 MB growth after the first minute).

The real window (every registered pane, offscreen) built by ``run_gui`` on the flood bench's plant of
1,000 analog tags (bench_alarm_flood.plant_toml, every value inside its band: no alarm fires), with the
runtime's historian (SQLite) and alarm center on the bus. A feeder on the GUI thread publishes one
batch of all tags every 100 ms in real time, as the acquisition hand-over does; six pens are on the
trend. The resident set is read from /proc every 10 s.

- baseline: the same window with one more bus consumer, a TrendBuffers that keeps every tag it sees
  (what the trends pane did before it buffered its pens only);
- ours: the window as it is.

Each run is its own process.

    .venv/bin/python bench/bench_gui_memory.py [--minutes 10] [--tags 1000] [--only ours]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

FEED_MS = 100
SAMPLE_S = 10.0
PENS = 6
LIMIT_MB = 50.0


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def scenario(tags: int, minutes: float, keep_every_tag: bool) -> dict:
    """Run the window for ``minutes`` with the feed; the resident set over time."""
    import tempfile

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("HMI_DATA_DIR", tempfile.mkdtemp(prefix="bench-memory-"))
    os.environ.setdefault("HMI_WORKSTATION", "bench")
    import logging

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("asyncua", "asyncio", "hmi.io.opcua"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    from bench_alarm_flood import plant_toml
    from PySide6.QtCore import Qt, QTimer

    from hmi.app import run_gui
    from hmi.config import parse_config
    from hmi.domain.tags import Quality, TagValue
    from hmi.domain.trend_buffers import TrendBuffers
    from hmi.sim_process import free_port

    config = parse_config(plant_toml(tags, free_port()), "bench")
    ids = [t.tag_id for t in config.plant().tags]
    seconds = minutes * 60
    state: dict = {"t0": 0.0, "batches": 0, "window": None, "samples": [], "extra": None}

    def feed() -> None:
        now = time.time()
        k = state["batches"]
        batch = [TagValue(tag, 50.0 + 5.0 * math.sin(0.1 * k + i), Quality.GOOD, now, now) for i, tag in enumerate(ids)]
        state["batches"] += 1
        state["window"].ctx.bus.publish(batch)

    def sample() -> None:
        stats = state["window"].ctx.historian()
        state["samples"].append((time.perf_counter() - state["t0"], rss_mb(), stats.queued if stats else 0))

    def on_window(window) -> None:
        state["window"] = window
        if keep_every_tag:
            extra = state["extra"] = TrendBuffers()
            window.ctx.bus.subscribe(extra)
        feeder = QTimer(window)
        feeder.setTimerType(Qt.TimerType.PreciseTimer)
        feeder.setInterval(FEED_MS)
        feeder.timeout.connect(feed)
        sampler = QTimer(window)
        sampler.setInterval(int(SAMPLE_S * 1000))
        sampler.timeout.connect(sample)
        state["t0"] = time.perf_counter()
        sample()
        feeder.start()
        sampler.start()
        QTimer.singleShot(int((seconds - 0.5) * 1000), sample)

    url = f"sqlite:///{os.environ['HMI_DATA_DIR']}/bench.sqlite"
    code = run_gui(config, url, run_for=seconds, on_window=on_window, initial_trends=ids[:PENS], greet=False)
    samples = state["samples"]
    at_minute = next((rss for t, rss, _ in samples if t >= 60.0), samples[-1][1])
    extra = state["extra"]
    return {"code": code, "samples": samples, "start": samples[0][1], "at_minute": at_minute, "end": samples[-1][1],
            "peak": max(rss for _, rss, _ in samples),
            "queued_max": max(q for _, _, q in samples), "queued_end": samples[-1][2], "batches": state["batches"], "expected": int(seconds * 1000 / FEED_MS),
            "extra_rings": len(extra.tags()) if extra else 0, "extra_mb": extra.nbytes / 1e6 if extra else 0.0}


def run_child(tags: int, minutes: float, keep_every_tag: bool) -> dict:
    """One scenario in a fresh process; its JSON line."""
    cmd = [sys.executable, __file__, "--child", "--tags", str(tags), "--minutes", str(minutes),
           *(["--keep-every-tag"] if keep_every_tag else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=minutes * 60 + 180)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"scenario failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="each run's length in real time (default 10)")
    p.add_argument("--tags", type=int, default=1000)
    p.add_argument("--only", choices=("baseline", "ours"), help="run one of the two")
    p.add_argument("--verbose", action="store_true", help="print every sample of the resident set")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--keep-every-tag", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(scenario(args.tags, args.minutes, args.keep_every_tag)), flush=True)
        return 0
    rows = []
    if args.only != "ours":
        rows.append(("baseline: + a buffer of every tag", run_child(args.tags, args.minutes, True)))
    if args.only != "baseline":
        rows.append(("ours: the window as it is", run_child(args.tags, args.minutes, False)))
    print(f"{args.tags} tags fed every {FEED_MS} ms on the GUI thread for {args.minutes:g} min; {PENS} pens; "
          f"every pane, historian on SQLite; resident set in MB")
    for name, r in rows:
        growth = r["end"] - r["at_minute"]
        extra = f"; the extra buffer: {r['extra_rings']} rings, {r['extra_mb']:.0f} MB of arrays" if r["extra_rings"] else ""
        print(f"{name:36s} start {r['start']:6.1f}  at 1 min {r['at_minute']:6.1f}  end {r['end']:6.1f}  "
              f"peak {r['peak']:6.1f}  growth after 1 min {growth:6.1f} MB  ({r['batches']} of {r['expected']} "
              f"batches fed; historian queue at most {r['queued_max']}, at the end {r['queued_end']}{extra})")
        if args.verbose:
            print("  " + "  ".join(f"{t:.0f}s:{rss:.0f}" for t, rss, _ in r["samples"]))
    if len(rows) == 2:
        g_base = rows[0][1]["end"] - rows[0][1]["at_minute"]
        g_ours = rows[1][1]["end"] - rows[1][1]["at_minute"]
        ratio = g_base / g_ours if g_ours > 0 else float("inf")
        print(f"growth ratio baseline/ours: {ratio:.1f}x")
    ours = rows[-1][1]
    growth = ours["end"] - ours["at_minute"]
    print(f"target: growth after the first minute < {LIMIT_MB:g} MB: {'met' if growth < LIMIT_MB else 'MISSED'} "
          f"({growth:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
