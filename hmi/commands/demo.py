"""`hmi demo`: the product on its embedded plant — plc_sim in its own process and an SQLite historian."""

from __future__ import annotations

import argparse

from hmi.commands.collect import collect
from hmi.config import parse_config
from hmi.paths import data_dir
from hmi.sim_process import SimProcess


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `demo` to the parser."""
    p = sub.add_parser("demo", parents=[common], help="run on the embedded simulated plant, nothing to configure")
    p.add_argument("--run-for", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--speed", type=float, default=60.0, help="simulated process time per wall second (default 60)")
    p.add_argument("--status-interval", type=float, default=5.0, metavar="SECONDS")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Start the simulated plant, collect from it, and stop it again on exit."""
    url = args.db or f"sqlite:///{data_dir() / 'demo.sqlite'}"
    with SimProcess(options=["--speed", str(args.speed), "--ground-truth", str(data_dir() / "ground-truth")]) as sim:
        config = parse_config(sim.config_text, "plc-sim --print-config")
        print(f"demo: simulated plant at {sim.url}; history in {url}", flush=True)
        return collect(config, url, args.run_for, args.status_interval)
