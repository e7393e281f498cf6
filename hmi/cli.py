"""`hmi` and its subcommands; each subcommand calls the same services as the GUI."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hmi.commands import alarm, audit, collect, db, demo, gui, history, secret, setpoint, user
from hmi.commands.errors import CommandError
from hmi.config import ConfigError

COMMAND_MODULES = (gui, demo, collect, db, history, user, audit, secret, setpoint, alarm)

# Exceptions that are a user's mistake or a missing peer: one line, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (CommandError, ConfigError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for `hmi` with every subcommand registered."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="plant configuration (TOML); default: the packaged plant")
    common.add_argument("--db", metavar="URL", help="database URL; overrides the config's [database] url")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser = argparse.ArgumentParser(prog="hmi", description="Control-room HMI for process plants.", parents=[common])
    gui.add_gui_options(parser)  # `hmi` alone opens the window and takes the window's options
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


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
    if args.command is None:  # `hmi` alone: the window
        args.command, args.handler = "gui", gui.run
    setup_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except (*USER_ERRORS, DatabaseUnavailable) as exc:
        print(f"hmi {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hmi alarm list | head`: the reader has gone; nothing more to say
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
