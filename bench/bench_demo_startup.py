"""From launching `hmi demo --offscreen` to the first live value on screen (target: < 3 s).

Ours: wall time from spawning `hmi demo` to its line "first live value on screen" (printed once the
first refresh tick with data has been painted), and the figure the app measures itself from its
process start. Baseline: a process that only starts plc_sim and waits until it serves — the floor
any demo start-up sits on. Median of --runs runs each.

    .venv/bin/python bench/bench_demo_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

FIRST = re.compile(r"first live value on screen after ([\d.]+) s")
SIM_ONLY = "from hmi.sim_process import SimProcess\nSimProcess(options=['--speed', '60', '--rate', '2']).start().stop()"


def demo_once() -> tuple[float, float]:
    """(wall seconds from spawn to the line, the app's own figure)."""
    env = dict(os.environ, HMI_DATA_DIR=tempfile.mkdtemp(prefix="bench-demo-"))
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "hmi.cli", "demo", "--offscreen", "--run-for", "30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if m := FIRST.search(line):
                return time.monotonic() - t0, float(m.group(1))
        raise SystemExit(f"hmi demo ended (exit {proc.wait()}) without a first live value")
    finally:
        proc.terminate()
        proc.wait(60)


def sim_only_once() -> float:
    """Seconds for a fresh process to start plc_sim and see it serve."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", SIM_ONLY], check=True, capture_output=True, timeout=60)
    return time.monotonic() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    base = [sim_only_once() for _ in range(args.runs)]
    ours = [demo_once() for _ in range(args.runs)]
    wall = statistics.median(w for w, _ in ours)
    own = statistics.median(o for _, o in ours)
    b = statistics.median(base)
    print(f"baseline: plc_sim alone serving after      {b:5.2f} s (median of {args.runs}: {', '.join(f'{x:.2f}' for x in base)})")
    print(f"ours: hmi demo, first live value on screen {wall:5.2f} s wall, {own:5.2f} s by the app "
          f"(runs: {', '.join(f'{w:.2f}' for w, _ in ours)})")
    print(f"ratio ours/baseline: {wall / b:.2f}x; target < 3 s: {'met' if wall < 3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
