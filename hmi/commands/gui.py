"""`hmi` with no subcommand: the GUI on a plant's configuration."""

from __future__ import annotations

import argparse

from hmi.config import load_config


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `gui` (also what `hmi` alone runs) to the parser."""
    p = sub.add_parser("gui", parents=[common], help="the control-room window (the default command)")
    add_gui_options(p)
    p.set_defaults(handler=run)


def add_gui_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `hmi`, `hmi gui` and `hmi demo`."""
    p.add_argument("--offscreen", action="store_true", help="render without a display (for screenshots, CI)")
    p.add_argument("--screenshot", metavar="FILE", help="with --run-for: save a picture of the window, then exit")
    p.add_argument("--run-for", type=float, metavar="SECONDS", help="close the window after this many seconds")


def check_gui_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that cannot work, with a one-line reason."""
    from hmi.commands.errors import CommandError

    if getattr(args, "screenshot", None) and getattr(args, "run_for", None) is None:
        raise CommandError("--screenshot needs --run-for SECONDS (the picture is taken when that time is up)")
    if getattr(args, "run_for", None) is not None and args.run_for <= 0:
        raise CommandError("--run-for must be a positive number of seconds")


def prepare_qt(args: argparse.Namespace) -> None:
    """Settings that must be in place before the QApplication exists."""
    import os

    if getattr(args, "offscreen", False):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def run(args: argparse.Namespace) -> int:
    """Open the window on --config (default: the packaged plant) and --db."""
    check_gui_options(args)
    config = load_config(args.config)
    prepare_qt(args)
    from hmi.app import run_gui  # Qt is imported only by the commands that open a window

    return run_gui(config, args.db, screenshot=getattr(args, "screenshot", None), run_for=getattr(args, "run_for", None))
