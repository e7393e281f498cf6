"""`hmi` and its subcommands; each subcommand calls the same services as the GUI."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hmi.commands import (
    alarm, andon, audit, collect, db, demo, downtime, gui, history, material, oee, order, production, secret,
    setpoint, shopfloor, user,
)
from hmi.commands.errors import CommandError, OneLineParser, shorten
from hmi.config import ConfigError

COMMAND_MODULES = (
    gui, demo, collect, db, history, user, audit, secret, setpoint, alarm, order, shopfloor, material, production,
    andon, downtime, oee,
)

# Exceptions that are a user's mistake or a missing peer: one line, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (CommandError, ConfigError)


def _common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """--config, --db and -v; without defaults (a subcommand's copy) a value given earlier is kept."""
    keep = {} if defaults else {"default": argparse.SUPPRESS}
    parser.add_argument("--config", metavar="FILE", help="plant configuration (TOML); default: the packaged plant",
                        **keep)  # fmt: skip
    parser.add_argument("--db", metavar="URL", help="database URL; overrides the config's [database] url", **keep)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details", **keep)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for `hmi` with every subcommand registered.

    An option of `hmi` itself may also come after the subcommand. argparse lets a subcommand's
    default overwrite what was given before it (`hmi --config F collect` ran the packaged plant), so
    the subcommands' copies of those options have no default: the top level's value stands unless
    the option is given again later. An option of the window given before a command that opens no
    window is refused (see refuse_misplaced).
    """
    common = OneLineParser(add_help=False)
    _common_options(common, defaults=False)
    parser = OneLineParser(prog="hmi", description="Control-room HMI for process plants.")
    _common_options(parser, defaults=True)
    gui.add_gui_options(parser)  # `hmi` alone opens the window and takes the window's options
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, common)
    top = _option_dests(parser)
    for leaf in _subparsers(parser):
        for action in leaf._actions:
            if action.option_strings and action.dest in top:
                action.default = argparse.SUPPRESS
    return parser


def _option_dests(parser: argparse.ArgumentParser) -> set[str]:
    return {a.dest for a in parser._actions if a.option_strings and a.dest != "help"}


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below this one, once each (aliases share a parser)."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command that runs, e.g. the one of `hmi alarm list`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest, None)
            if name in action.choices:
                return _chosen(action.choices[name], args)
    return parser


def refuse_misplaced(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit 2 (one line) when an option of `hmi` itself was given for a command that does not take it."""
    leaf = _chosen(parser, args)
    if leaf is parser:
        return
    takes = _option_dests(leaf)
    for action in parser._actions:
        if not action.option_strings or action.dest in takes or action.dest == "help":
            continue
        if getattr(args, action.dest, action.default) != action.default:
            leaf.error(f"{action.option_strings[-1]} is not an option of {leaf.prog}")


def setup_logging(verbose: bool) -> None:
    """Log to stderr, one line per record, UTC-free local time as operators read it."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # asyncua logs every reconnect attempt, with tracebacks; our sources log the one line that matters.
    for noisy in ("asyncua", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.CRITICAL)


# Options whose value may start with a dash (relative times such as -15m).
DASH_VALUE_OPTIONS = ("--from", "--to", "--since", "--until")


def join_dash_values(argv: Sequence[str]) -> list[str]:
    """Turn ``--from -15m`` into ``--from=-15m``, which argparse would otherwise read as an option."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in DASH_VALUE_OPTIONS:
            value = next(it, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hmi` console script; returns the exit code."""
    from hmi.store.errors import DatabaseUnavailable

    parser = build_parser()
    args = parser.parse_args(join_dash_values(sys.argv[1:] if argv is None else argv))
    refuse_misplaced(parser, args)
    if args.command is None:  # `hmi` alone: the window
        args.command, args.handler = "gui", gui.run
    setup_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except (*USER_ERRORS, DatabaseUnavailable) as exc:
        print(f"hmi {args.command}: {shorten(str(exc), 2000)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hmi alarm list | head`: the reader has gone; nothing more to say
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
