"""`hmi` with no subcommand: the GUI on a plant's configuration."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hmi.commands.errors import positive_seconds
from hmi.config import PlantConfig, load_config


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `gui` (also what `hmi` alone runs) to the parser."""
    p = sub.add_parser("gui", parents=[common], help="the control-room window (the default command)")
    add_gui_options(p)
    p.set_defaults(handler=run)


def add_gui_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `hmi`, `hmi gui` and `hmi demo`."""
    p.add_argument("--offscreen", action="store_true", help="render without a display (for screenshots, CI)")
    p.add_argument("--screenshot", metavar="FILE", help="with --run-for: save a picture of the window, then exit")
    p.add_argument("--run-for", type=positive_seconds, metavar="SECONDS", help="close the window after this many seconds")
    p.add_argument("--idle-lock", type=positive_seconds, metavar="SECONDS", default=None,
                   help="lock the station after this long without a key or a click (default: [session] idle_lock_s, 900)")
    p.add_argument("--show", metavar="PANE", action="append", default=[],
                   help="bring this pane to the front of its tabs at start (e.g. orders, shopfloors); repeatable")
    p.add_argument("--wall", action="store_true",
                   help="wall mode: only the andon board, full screen, no login to view (a step asks for one)")


def check_gui_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that cannot work, with a one-line reason."""
    from hmi.commands.errors import CommandError

    if getattr(args, "screenshot", None) and getattr(args, "run_for", None) is None:
        raise CommandError("--screenshot needs --run-for SECONDS (the picture is taken when that time is up)")
    if getattr(args, "run_for", None) is not None and args.run_for <= 0:
        raise CommandError("--run-for must be a positive number of seconds")
    if getattr(args, "idle_lock", None) is not None and not args.idle_lock > 0:
        raise CommandError("--idle-lock must be a positive number of seconds")
    if getattr(args, "wall", False) and getattr(args, "show", []):
        raise CommandError("--wall shows only the andon board: leave out --show")


def panes_to_show(args: argparse.Namespace) -> list[str]:
    """The object names of the panes --show asks for; CommandError naming the panes there are otherwise.

    Imports the panes (and so Qt): call it after prepare_qt.
    """
    from hmi.commands.errors import CommandError
    from hmi.ui.pane_registry import registered_panes
    from hmi.ui.panes import load_panes

    wanted = [name.strip().lower() for given in getattr(args, "show", []) for name in given.split(",") if name.strip()]
    if not wanted:
        return []
    load_panes()
    names = {spec.object_name.lower(): spec.object_name for spec in registered_panes()}
    names.update({spec.title.lower(): spec.object_name for spec in registered_panes()})
    unknown = [name for name in wanted if name not in names]
    if unknown:
        known = ", ".join(spec.object_name for spec in registered_panes())
        raise CommandError(f"--show: there is no pane {unknown[0][:60]!r}; the panes are {known}")
    return [names[name] for name in wanted]


def show_panes(names: list[str]) -> Callable[[Any], None] | None:
    """An on_window callback for run_gui that brings the named panes to the front of their tabs."""
    return (lambda window: window.bring_to_front(names)) if names else None


def wall_options(args: argparse.Namespace) -> dict[str, Any]:
    """run_gui's arguments for --wall (the board alone, full screen, no login dialog); {} without it."""
    if not getattr(args, "wall", False):
        return {}
    from hmi.ui.andon_wall import make_wall, wall_panes

    return {"panes": wall_panes(), "on_window": make_wall, "greet": False}


def idle_lock_s(args: argparse.Namespace, config: PlantConfig) -> float:
    """The idle lock for this run: --idle-lock, else the config's [session] idle_lock_s."""
    value = getattr(args, "idle_lock", None)
    return config.session.idle_lock_s if value is None else float(value)


def prepare_qt(args: argparse.Namespace) -> None:
    """Settings that must be in place before the QApplication exists."""
    import os

    if getattr(args, "offscreen", False):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def run(args: argparse.Namespace) -> int:
    """Open the window on --config (default: the packaged plant) and --db.

    Once the window is up the login dialog comes over it (the first-run dialog on a database without
    users). With --offscreen nobody could answer it: the station starts view only.
    """
    check_gui_options(args)
    config = load_config(args.config)
    prepare_qt(args)
    shown = panes_to_show(args)
    from hmi.app import run_gui  # Qt is imported only by the commands that open a window

    options = {"greet": not getattr(args, "offscreen", False), "on_window": show_panes(shown)} | wall_options(args)
    return run_gui(config, args.db, screenshot=getattr(args, "screenshot", None), run_for=getattr(args, "run_for", None),
                   idle_lock_s=idle_lock_s(args, config), **options)
