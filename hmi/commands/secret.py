"""`hmi secret ...`: being built in this change (issue 4); registered here so the parser knows it."""

from __future__ import annotations

import argparse

from hmi.commands.errors import CommandError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `secret` to the parser."""
    p = sub.add_parser("secret", parents=[common], help="(being built)")
    p.set_defaults(handler=_not_yet)


def _not_yet(args: argparse.Namespace) -> int:
    raise CommandError("secret: not available in this build yet")
