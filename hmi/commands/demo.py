"""`hmi demo`: the window on the embedded plant — plc_sim in its own process and an SQLite historian."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from hmi.commands.errors import CommandError
from hmi.commands.gui import add_gui_options, check_gui_options, prepare_qt
from hmi.config import PlantConfig, load_config
from hmi.paths import data_dir
from hmi.sim_process import SimProcess
from plc_sim.plant import simulated_plant


class Stopped(Exception):
    """SIGTERM or SIGINT arrived before the window was up."""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `demo` to the parser."""
    p = sub.add_parser("demo", parents=[common], help="the window on the embedded simulated plant, nothing to configure")
    add_gui_options(p)
    p.add_argument("--speed", type=float, default=60.0, help="simulated process time per wall second (default 60)")
    p.add_argument("--rate", type=float, default=2.0, help="plant tag updates per second (default 2)")
    p.set_defaults(handler=run)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def demo_trends(config: PlantConfig, count: int = 3) -> list[str]:
    """The tags the demo opens in the trends pane: the first measurements of the first twin."""
    from hmi.domain.plant import TagKind

    twin = config.plant().twins[0]
    return [t.tag_id for t in twin.tags if t.kind is TagKind.ANALOG][:count]


def run(args: argparse.Namespace) -> int:
    """Start the simulated plant, open the window on it, and always stop the simulator again."""
    check_gui_options(args)
    prepare_qt(args)
    url = args.db or f"sqlite:///{data_dir() / 'demo.sqlite'}"
    sim = SimProcess(options=[
        "--speed", str(args.speed), "--rate", str(args.rate), "--ground-truth", str(data_dir() / "ground-truth"),
    ], print_config=False)
    # First the simulator: its start-up overlaps with loading Qt and building the window. Until the
    # handlers below are in place, SIGTERM ends this process as usual and the simulator dies with it
    # (see SimProcess.launch); so does a Qt abort on a platform plugin that cannot load.
    sim.launch()
    from hmi.app import qapplication, run_gui

    qapplication()
    # Until the window installs its own handlers (which close it), a signal aborts the start-up. Not
    # earlier: an exception raised in the middle of importing Qt's bindings aborts Python itself.
    old = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # The config plc-sim would print for these options, built here: a second plc-sim process
        # (for --print-config) would compete for the CPU with the simulator starting up.
        config = simulated_plant(load_config(), url=sim.url)
        print(f"hmi demo: simulated plant at {sim.url}; history in {url}", file=sys.stderr, flush=True)
        return run_gui(config, url, screenshot=args.screenshot, run_for=args.run_for, title_suffix="demo",
                       before_start=lambda: _wait_ready(sim), initial_trends=demo_trends(config))
    except Stopped as exc:
        print(f"hmi demo: stopped by {exc} during start-up", file=sys.stderr, flush=True)
        return 130
    finally:
        # The simulator goes whatever happened; a signal now must not interrupt stopping it.
        for sig in old:
            signal.signal(sig, signal.SIG_IGN)
        sim.stop()
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _wait_ready(sim: SimProcess) -> None:
    """Block until the simulator serves; CommandError if it did not start."""
    try:
        sim.wait_ready()
    except RuntimeError as exc:
        raise CommandError(f"the simulated plant did not start: {exc}") from None
