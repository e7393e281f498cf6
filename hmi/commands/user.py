"""`hmi user add|list|disable|enable|reset-password|set-role`: the users of the HMI."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hmi.commands.errors import CommandError
from hmi.config import load_config
from hmi.domain.passwords import PasswordRejected
from hmi.domain.permissions import PermissionDenied, UnknownRole, role_names


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `user` and its verbs to the parser."""
    p = sub.add_parser("user", parents=[common], help="users and their roles")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        v = verbs.add_parser(name, parents=[common], help=help_)
        v.set_defaults(handler=handler)
        return v

    add = verb("add", "add a user", run_add)
    add.add_argument("name")
    add.add_argument("--role", required=True, help="one of: " + ", ".join(role_names()))
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    verb("list", "list the users", run_list)
    verb("disable", "stop a user from logging in", run_disable).add_argument("name")
    verb("enable", "let a disabled user log in again", run_enable).add_argument("name")
    reset = verb("reset-password", "set a new password and clear a lockout", run_reset_password)
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    role = verb("set-role", "give a user another role", run_set_role)
    role.add_argument("name")
    role.add_argument("role", help="one of: " + ", ".join(role_names()))


def _engine(args: argparse.Namespace):  # noqa: ANN202 - sqlalchemy is imported only when a command runs
    if not args.verbose:  # alembic announces every step (and its plugins, on import) at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from hmi.store.db import make_engine
    from hmi.store.migrate import upgrade

    url = args.db or load_config(args.config).database_url
    upgrade(url)
    return make_engine(url)


@contextmanager
def _user_errors() -> Iterator[None]:
    """The store's and the domain's refusals as one-line CommandErrors."""
    from hmi.store.users import UserError

    try:
        yield
    except (UserError, PasswordRejected, UnknownRole, PermissionDenied) as exc:
        raise CommandError(str(exc)) from None


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the two passwords differ")
    else:
        raise CommandError("no password: pass --password-stdin and write it to standard input")
    if not password:
        raise CommandError("empty password on standard input")
    return password


def run_add(args: argparse.Namespace) -> int:
    from hmi.store import users

    password = _read_password(args)
    with _user_errors():
        user = users.add_user(_engine(args), args.name, args.role, password)
    print(f"added {user.name} ({user.role})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from hmi.store import users

    now = time.time()
    with _user_errors():
        rows = users.list_users(_engine(args))
    if not rows:
        print("no users; add the first admin with: hmi user add NAME --role admin --password-stdin", file=sys.stderr)
        return 0
    width = max(len(u.name) for u in rows)
    print(f"{'name':<{width}}  {'role':<19}  {'state':<8}  failed  locked")
    for u in rows:
        locked = f"{u.locked_until - now:.0f} s" if u.locked_until and u.locked_until > now else "-"
        state = "enabled" if u.enabled else "disabled"
        print(f"{u.name:<{width}}  {u.role:<19}  {state:<8}  {u.failed_logins:>6}  {locked}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    from hmi.store import users

    with _user_errors():
        users.disable(_engine(args), args.name)
    print(f"disabled {args.name}")
    return 0


def run_enable(args: argparse.Namespace) -> int:
    from hmi.store import users

    with _user_errors():
        users.enable(_engine(args), args.name)
    print(f"enabled {args.name}")
    return 0


def run_reset_password(args: argparse.Namespace) -> int:
    from hmi.store import users

    password = _read_password(args)
    with _user_errors():
        users.reset_password(_engine(args), args.name, password)
    print(f"password of {args.name} reset; failed logins cleared")
    return 0


def run_set_role(args: argparse.Namespace) -> int:
    from hmi.store import users

    with _user_errors():
        user = users.set_role(_engine(args), args.name, args.role)
    print(f"{user.name} is now {user.role}")
    return 0
