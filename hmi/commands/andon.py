"""`hmi andon raise|ack|resolve|list`: andon calls from the command line; acting ones as `--user NAME` (audited)."""

from __future__ import annotations

import argparse
import time
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hmi.commands.acting import add_actor_options, acting_user
from hmi.commands.database import open_database
from hmi.commands.errors import CommandError, as_command_errors
from hmi.commands.tabular import add_format_option, emit, plain
from hmi.domain.andon import Category
from hmi.domain.timespec import parse_time

if TYPE_CHECKING:
    from hmi.domain.andon import AndonCall
    from hmi.services.andon import AndonService

TIME_HELP = "ISO 8601 (2026-12-08T14:00, local time unless it ends in Z), 'now', or relative: -8h, -30m"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `andon` and its verbs to the parser."""
    p = sub.add_parser("andon", parents=[common], help="andon calls: raise, ack, resolve, list")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_: str, handler, acting: bool = True) -> argparse.ArgumentParser:  # noqa: ANN001
        v = verbs.add_parser(name, parents=[common], help=help_)
        v.set_defaults(handler=handler)
        if acting:
            add_actor_options(v)
        return v

    raising = verb("raise", "raise a call on a line or shopfloor (operators and up)", run_raise)
    raising.add_argument("--line", required=True, metavar="L", help="a twin with a status tag, or a shopfloor id")
    raising.add_argument("--category", required=True, metavar="C", help=", ".join(c.value for c in Category))
    raising.add_argument("--note", default="", help="what is wrong (shown on the board)")
    ack = verb("ack", "acknowledge an open call", run_ack)
    ack.add_argument("call_id", metavar="CALL_ID")
    ack.add_argument("--note", default="")
    resolve = verb("resolve", "resolve a call with a reason code (shift supervisors)", run_resolve)
    resolve.add_argument("call_id", metavar="CALL_ID")
    resolve.add_argument("--reason", required=True, metavar="CODE", help="a reason code of [andon.reasons]")
    resolve.add_argument("--note", default="")
    listing = verb("list", "the calls not resolved (with --all: every call), oldest first", run_list, acting=False)
    listing.add_argument("--all", action="store_true", help="resolved calls too")
    listing.add_argument("--since", metavar="T", help=f"raised from T on: {TIME_HELP}")
    listing.add_argument("--line", metavar="L", help="only this line or shopfloor")
    add_format_option(listing)


def refusals() -> AbstractContextManager[None]:
    """The service's refusals as one-line CommandErrors."""
    from hmi.domain.andon import AndonError
    from hmi.domain.audit import AuditUnavailable
    from hmi.domain.permissions import PermissionDenied

    return as_command_errors(AndonError, PermissionDenied, AuditUnavailable)


def andon_service(args: argparse.Namespace) -> AndonService:
    """The AndonService on the command's config and database."""
    from hmi.config import load_config
    from hmi.services.andon import AndonService

    config = load_config(args.config)
    return AndonService(open_database(args, config), config)


def moment_us(text: str, option: str) -> int:
    """A time given on the command line as UTC microseconds; CommandError naming the option."""
    try:
        ts = parse_time(text, time.time())
        datetime.fromtimestamp(ts, tz=timezone.utc)  # in range
    except (ValueError, OverflowError, OSError) as error:
        raise CommandError(f"{option}: {error}") from None
    return round(ts * 1_000_000)


def utc(at_us: int | None) -> str:
    """UTC microseconds as the listings show them."""
    if at_us is None:
        return ""
    return datetime.fromtimestamp(at_us / 1e6, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _category(text: str) -> Category:
    try:
        return Category(text.strip().lower())
    except ValueError:
        raise CommandError(f"unknown category {text[:40]!r}; categories are: "
                           + ", ".join(c.value for c in Category)) from None  # fmt: skip


def _summary(call: AndonCall) -> str:
    who = {"acknowledged": call.acked_by, "resolved": call.resolved_by}.get(call.state.value, call.raised_by)
    return f"call {call.call_id} on {call.line}: {call.state.value} by {who}"


def run_raise(args: argparse.Namespace) -> int:
    category = _category(args.category)
    andon = andon_service(args)
    with refusals():
        call = andon.raise_call(acting_user(args, andon.engine), args.line, category, args.note)
    print(f"raised call {call.call_id} on {call.line}: {call.category.value}" + (f" ({call.detail})" if call.detail else ""))
    return 0


def run_ack(args: argparse.Namespace) -> int:
    andon = andon_service(args)
    with refusals():
        call = andon.acknowledge(acting_user(args, andon.engine), args.call_id, args.note)
    print(_summary(call))
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    andon = andon_service(args)
    with refusals():
        call = andon.resolve(acting_user(args, andon.engine), args.call_id, args.reason, args.note)
    print(f"{_summary(call)} ({call.reason_code})")
    return 0


def call_record(call: AndonCall) -> dict[str, Any]:
    """A call as the JSON listing has it: every field, enums as their value."""
    return {k: plain(v) for k, v in asdict(call).items()} | {"cleared": call.cleared}


def run_list(args: argparse.Namespace) -> int:
    since = None if args.since is None else moment_us(args.since, "--since")
    andon = andon_service(args)
    with refusals():
        found = andon.calls(since_us=since, line=args.line, include_resolved=args.all)
    head = ("call", "line", "state", "category", "origin", "raised", "by", "acknowledged", "resolved", "reason",
            "tier", "detail")  # fmt: skip
    rows = [(str(c.call_id), c.line, c.state.value + (" (cleared)" if c.cleared else "") + (" (micro)" if c.micro else ""),
             c.category.value, c.origin.value, utc(c.raised_us), c.raised_by,
             f"{c.acked_by} {utc(c.acked_us)}" if c.acked_by else "",
             f"{c.resolved_by} {utc(c.resolved_us)}" if c.resolved_by else "", c.reason_code or "", str(c.tier),
             c.detail) for c in found]  # fmt: skip
    emit(args.format, head, rows, [call_record(c) for c in found])
    return 0
