"""`hmi secret set|delete|check`: passwords of the database, the PLCs and the brokers, in the OS keyring.

A value is read from the terminal without echo (or one line of standard input with --stdin) and
goes to the keyring; it is never printed or logged. Names and the HMI_SECRET_<NAME> environment
variables that stand in where there is no keyring: see hmi.secrets.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

from hmi.commands.errors import CommandError, as_command_errors


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `secret` and its verbs to the parser."""
    p = sub.add_parser("secret", parents=[common], help="passwords of the database, PLCs and brokers (OS keyring)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_: str, handler: Callable[[argparse.Namespace], int], **kw: object) -> argparse.ArgumentParser:
        v = verbs.add_parser(name, parents=[common], help=help_, **kw)
        v.set_defaults(handler=handler)
        return v

    put = verb("set", "store a secret in the OS keyring (read without echo)", run_set)
    put.add_argument("name", help="database, opcua.<endpoint> or mqtt.<broker>")
    put.add_argument("--stdin", action="store_true", help="read the value as one line of standard input")
    verb("delete", "remove a secret from the OS keyring", run_delete).add_argument("name")
    verb("check", "list the secrets the config needs and where each is found (never the value)", run_check,
         aliases=["list"])


def _secret_errors() -> AbstractContextManager[None]:
    """hmi.secrets' refusals as one-line CommandErrors."""
    from hmi.secrets import SecretError

    return as_command_errors(SecretError)


def _read_value(args: argparse.Namespace) -> str:
    if args.stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        value = getpass.getpass(f"{args.name}: ")
        if getpass.getpass("again: ") != value:
            raise CommandError("the two values differ; nothing stored")
    else:
        raise CommandError("no value: pass --stdin and write it to standard input, or run on a terminal")
    if not value:
        raise CommandError(f"empty value for secret {args.name!r}; nothing stored")
    return value


def run_set(args: argparse.Namespace) -> int:
    """Store a secret in the keyring."""
    from hmi.secrets import ensure_keyring, env_var, set_secret

    with _secret_errors():
        ensure_keyring(args.name)  # before asking for the value
        value = _read_value(args)
        backend = set_secret(args.name, value)
    print(f"secret {args.name} stored in the keyring ({backend})")
    if os.environ.get(env_var(args.name)):
        print(f"note: {env_var(args.name)} is set in this environment and takes precedence over the keyring",
              file=sys.stderr)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """Remove a secret from the keyring."""
    from hmi.secrets import SecretMissing, check_name, delete_secret, env_var

    with _secret_errors():
        check_name(args.name)
        try:
            delete_secret(args.name)
        except SecretMissing as exc:
            if os.environ.get(env_var(args.name)):
                raise CommandError(f"{exc}; it comes from the environment variable {env_var(args.name)}: "
                                   "unset it where it is set") from None
            raise
    print(f"secret {args.name} deleted from the keyring")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """List the secrets the configuration needs and where each is found; exit 1 if a required one is missing."""
    from hmi.config import load_config
    from hmi.secrets import backend_name, env_var, locate_secret

    config = load_config(args.config)
    needed = config.required_secrets(args.db)
    with _secret_errors():
        backend = backend_name()
        print(f"keyring: {backend}" if backend else
              "keyring: none on this machine (NoKeyringError); secrets come from HMI_SECRET_* environment variables")
        if not needed:
            print("this configuration needs no secrets")
            return 0
        width = max(len(name) for name, _, _ in needed)
        missing: list[str] = []
        for name, purpose, required in needed:
            _, where = locate_secret(name)
            if where.startswith("missing") and required:
                missing.append(name)
            print(f"{name:<{width}}  {where:<32}  {purpose}")
    if missing:
        fixes = "; ".join(f"hmi secret set {n} (or set {env_var(n)})" for n in missing)
        raise CommandError(f"{len(missing)} required secret(s) missing: {fixes}")
    return 0
