"""`hmi user add|list|disable|enable|reset-password|set-role`: the users of the HMI."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from hmi.commands.acting import STDIN, add_actor_options, command_service
from hmi.commands.database import database_exists, open_database
from hmi.commands.errors import CommandError, as_command_errors
from hmi.domain.passwords import PasswordRejected
from hmi.domain.permissions import PermissionDenied, Role, UnknownRole, parse_role, role_names


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `user` and its verbs to the parser."""
    p = sub.add_parser("user", parents=[common], help="users and their roles")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        v = verbs.add_parser(name, parents=[common], help=help_)
        v.set_defaults(handler=handler)
        add_actor_options(v)
        return v

    add = verb("add", "add a user (the first one, an admin, needs no --user)", run_add)
    add.add_argument("name")
    add.add_argument("--role", required=True, help="one of: " + ", ".join(role_names()))
    add.add_argument("--password-stdin", action="store_true", help=NEW_PASSWORD_HELP)
    verb("list", "list the users", run_list)
    verb("disable", "stop a user from logging in", run_disable).add_argument("name")
    verb("enable", "let a disabled user log in again", run_enable).add_argument("name")
    reset = verb("reset-password", "set a new password and clear a lockout", run_reset_password)
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help=NEW_PASSWORD_HELP)
    role = verb("set-role", "give a user another role", run_set_role)
    role.add_argument("name")
    role.add_argument("role", help="one of: " + ", ".join(role_names()))


NEW_PASSWORD_HELP = (
    "read the new password from standard input (the line after the acting user's password, if that is read there too)"
)


def _user_errors() -> AbstractContextManager[None]:
    """The store's, the services' and the domain's refusals as one-line CommandErrors."""
    from hmi.domain.audit import AuditUnavailable
    from hmi.domain.users import UserError

    return as_command_errors(UserError, PasswordRejected, UnknownRole, PermissionDenied, AuditUnavailable)


def _new_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return STDIN.next("new password")
    if sys.stdin.isatty():
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the two passwords differ")
        if not password:
            raise CommandError("empty password")
        return password
    raise CommandError("no password: pass --password-stdin and write it to standard input")


FIRST_ADMIN = "the first user must be an admin: --role admin"


def run_add(args: argparse.Namespace) -> int:
    from hmi.domain.passwords import check_password
    from hmi.services import login, user_admin

    first = not (args.user or args.local_owner)
    admin = False
    if first:  # the first admin may create the database: check what can be checked before it exists
        with _user_errors():
            password = _new_password(args)
            check_password(password, args.name)
            admin = parse_role(args.role) is Role.ADMIN
        if not admin and not database_exists(args):
            raise CommandError(FIRST_ADMIN)
    engine = open_database(args, create=first and admin)  # only the first admin makes a new database
    with _user_errors():
        if first and login.needs_first_admin(engine):
            if not admin:
                raise CommandError(FIRST_ADMIN)
            user = login.create_first_admin(engine, args.name, password)
        else:
            commands = command_service(args, engine)
            user = user_admin.add_user(commands, args.name, args.role, _new_password(args))
    print(f"added {user.name} ({user.role})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from hmi.services import login, user_admin

    engine = open_database(args)
    now = time.time()
    with _user_errors():
        if login.needs_first_admin(engine):
            print("no users; add the first admin with: hmi user add NAME --role admin --password-stdin", file=sys.stderr)
            return 0
        rows = user_admin.list_users(command_service(args, engine))
    width = max(len(u.name) for u in rows)
    print(f"{'name':<{width}}  {'role':<19}  {'state':<8}  failed  locked")
    for u in rows:
        locked = f"{u.locked_until - now:.0f} s" if u.locked_until and u.locked_until > now else "-"
        state = "enabled" if u.enabled else "disabled"
        print(f"{u.name:<{width}}  {u.role:<19}  {state:<8}  {u.failed_logins:>6}  {locked}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    from hmi.services import user_admin

    engine = open_database(args)
    with _user_errors():
        user_admin.disable(command_service(args, engine), args.name)
    print(f"disabled {args.name}")
    return 0


def run_enable(args: argparse.Namespace) -> int:
    from hmi.services import user_admin

    engine = open_database(args)
    with _user_errors():
        user_admin.enable(command_service(args, engine), args.name)
    print(f"enabled {args.name}")
    return 0


def run_reset_password(args: argparse.Namespace) -> int:
    from hmi.services import user_admin

    engine = open_database(args)
    with _user_errors():
        commands = command_service(args, engine)
        user_admin.reset_password(commands, args.name, _new_password(args))
    print(f"password of {args.name} reset; failed logins cleared")
    return 0


def run_set_role(args: argparse.Namespace) -> int:
    from hmi.services import user_admin

    engine = open_database(args)
    with _user_errors():
        user = user_admin.set_role(command_service(args, engine), args.name, args.role)
    print(f"{user.name} is now {user.role}")
    return 0
