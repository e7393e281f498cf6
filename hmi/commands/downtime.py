"""`hmi downtime list|reason|pareto`: the stops of the lines, a reason given afterwards (audited), the Pareto."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from hmi.commands.acting import acting_user, add_actor_options
from hmi.commands.andon import TIME_HELP, andon_service, moment_us, refusals, utc
from hmi.commands.errors import CommandError
from hmi.commands.tabular import add_format_option, emit, plain


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `downtime` and its verbs to the parser."""
    p = sub.add_parser("downtime", parents=[common], help="downtime: list the stops, give a reason, Pareto")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", parents=[common], help="the stops in a period (default: the last 24 hours)")
    _period(listing, "-24h")
    listing.add_argument("--line", metavar="L", help="only this line or shopfloor")
    add_format_option(listing)
    listing.set_defaults(handler=run_list)
    reason = verbs.add_parser("reason", parents=[common], help="give a stop its reason code (shift supervisors)")
    reason.add_argument("downtime_id", metavar="DOWNTIME_ID")
    reason.add_argument("--reason", required=True, metavar="CODE", help="a reason code of [andon.reasons]")
    reason.add_argument("--note", default="")
    add_actor_options(reason)
    reason.set_defaults(handler=run_reason)
    pareto = verbs.add_parser("pareto", parents=[common], help="downtime by reason or by line over a period, most first")
    _period(pareto, None)
    pareto.add_argument("--by", choices=("reason", "line"), default="reason")
    add_format_option(pareto)
    pareto.set_defaults(handler=run_pareto)


def _period(p: argparse.ArgumentParser, since: str | None) -> None:
    if since is None:
        p.add_argument("--from", dest="start", metavar="T", required=True, help=TIME_HELP)
    else:
        p.add_argument("--from", dest="start", metavar="T", default=since, help=f"from T (default {since}): {TIME_HELP}")
    p.add_argument("--to", dest="end", metavar="T", default="now", help="until T (default now)")


def time_range(args: argparse.Namespace) -> tuple[int, int]:
    """--from and --to as UTC microseconds; CommandError unless --to is after --from."""
    start, end = moment_us(args.start, "--from"), moment_us(args.end, "--to")
    if end <= start:
        raise CommandError(f"--to ({args.end[:40]}) is not after --from ({args.start[:40]})")
    return start, end


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def run_list(args: argparse.Namespace) -> int:
    start, end = time_range(args)
    andon = andon_service(args)
    with refusals():
        stops = andon.downtime(start, end, args.line)
    now = round(time.time() * 1e6)
    head = ("id", "line", "origin", "start", "end", "minutes", "reason", "planned", "micro", "call", "note")
    rows = [(str(s.downtime_id), s.line, s.origin.value, utc(s.start_us), utc(s.end_us) or "(lasting)",
             _minutes(s.duration_us(now) / 1e6), s.reason_code or "", "yes" if s.planned else "no",
             "yes" if s.micro else "no", "" if s.call_id is None else str(s.call_id), s.note) for s in stops]  # fmt: skip
    records = [{k: plain(v) for k, v in asdict(s).items()} for s in stops]
    emit(args.format, head, rows, records)
    return 0


def run_reason(args: argparse.Namespace) -> int:
    andon = andon_service(args)
    with refusals():
        stop = andon.set_downtime_reason(acting_user(args, andon.engine), args.downtime_id, args.reason, args.note)
    print(f"downtime {stop.downtime_id} on {stop.line}: reason {stop.reason_code} "
          f"({'planned' if stop.planned else 'unplanned'})")  # fmt: skip
    return 0


def run_pareto(args: argparse.Namespace) -> int:
    start, end = time_range(args)
    andon = andon_service(args)
    with refusals():
        bars = andon.pareto(start, end, args.by)
    head = (args.by, "label", "minutes", "stops", "share %", "cumulative %")
    rows = [(b.key, b.label, _minutes(b.seconds), str(b.count), f"{100 * b.share:.1f}", f"{100 * b.cumulative:.1f}")
            for b in bars]  # fmt: skip
    emit(args.format, head, rows, [asdict(b) for b in bars])
    return 0
