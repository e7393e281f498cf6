"""How a command on the command line acts as a user: `--user NAME`, the password, the audited service.

The acting user's password comes from the terminal (a prompt), else from the keyring or the
environment (secret `user.NAME`, see hmi.secrets), else from the first line of standard input.
A password the command itself needs (a new user's) is the next line. `--local-owner` acts as the
owner of the database (this OS account) for recovery; it is audited under that name.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from hmi.commands.errors import CommandError
from hmi.domain.session import SessionUser

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from hmi.domain.permissions import Principal
    from hmi.services.commands import CommandService

LOCAL_OWNER_ROLE = "admin"


def add_actor_options(parser: argparse.ArgumentParser) -> None:
    """Add --user and --local-owner to a verb that gives a command."""
    who = parser.add_argument_group("acting user")
    who.add_argument("--user", metavar="NAME", help="act as this user (password: prompt, keyring user.NAME, or stdin)")
    who.add_argument(
        "--local-owner", action="store_true",
        help="act as the database's owner (this OS account) for recovery, e.g. when no admin can log in; audited",
    )  # fmt: skip


class StdinLines:
    """Standard input read one line at a time, for the passwords a command needs in order."""

    def __init__(self) -> None:
        self.used = 0

    def next(self, what: str) -> str:
        """The next line, without its line end; CommandError naming ``what`` when there is none."""
        line = sys.stdin.readline()
        self.used += 1
        value = line.rstrip("\r\n")
        if not value:
            raise CommandError(f"no {what} on standard input (line {self.used})")
        return value


STDIN = StdinLines()


def acting_password(name: str) -> str:
    """The acting user's password: a prompt on a terminal, else secret user.NAME, else a stdin line."""
    if sys.stdin.isatty():
        return getpass.getpass(f"password of {name}: ")
    from hmi.secrets import SecretError, get_secret

    try:
        return get_secret(f"user.{name}")
    except SecretError:
        return STDIN.next(f"password of {name}")


def local_owner() -> SessionUser:
    """The database owner acting from this OS account."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return SessionUser(f"local-owner:{who}", LOCAL_OWNER_ROLE)


def command_service(args: argparse.Namespace, engine: Engine) -> CommandService:
    """The CommandService acting as --user (after a login) or --local-owner; CommandError otherwise."""
    from hmi.services.commands import CommandService

    actor = acting_user(args, engine)
    return CommandService(engine, lambda: actor)


def acting_user(args: argparse.Namespace, engine: Engine) -> Principal:
    """The user a command acts as: --user NAME (after a login) or --local-owner; CommandError otherwise."""
    from hmi.services.login import authenticate
    from hmi.domain.users import LoginRefused

    if args.user and args.local_owner:
        raise CommandError("give either --user NAME or --local-owner, not both")
    if args.local_owner:
        actor = local_owner()
    elif args.user:
        password = acting_password(args.user)
        try:
            actor = authenticate(engine, args.user, password)
        except LoginRefused as refused:
            raise CommandError(f"login of {args.user} refused: {refused}") from None
    else:
        raise CommandError(
            "say who acts: --user NAME (password from the prompt, the keyring as user.NAME, or standard input), "
            "or --local-owner for recovery"
        )
    return actor
