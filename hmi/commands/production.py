"""`hmi production report`: produced against planned, defect rate, first-pass yield and throughput."""

from __future__ import annotations

import argparse

from hmi.commands.acting import add_actor_options
from hmi.commands.errors import CommandError
from hmi.commands.order import TIME_HELP, order_service, print_table, refusals, when


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `production` and its verbs to the parser."""
    p = sub.add_parser("production", parents=[common], help="production: report")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    report = verbs.add_parser("report", parents=[common], help="produced against planned over a period")
    report.add_argument("--from", dest="start", metavar="T", required=True, help=TIME_HELP)
    report.add_argument("--to", dest="end", metavar="T", default="now", help="until T (default now)")
    report.add_argument("--by", choices=("shopfloor", "order", "hour"), default="shopfloor")
    add_actor_options(report)
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    start, end = when(args.start, "--from"), when(args.end, "--to")
    if end <= start:
        raise CommandError(f"--to ({args.end}) is not after --from ({args.start})")
    with refusals():
        rows = order_service(args).production_report(start, end, args.by)
    print_table((args.by, "planned", "good", "rejected", "defect %", "FPY %", "good/h"),
                [(r.key, str(r.planned), str(r.produced), str(r.defective), f"{100 * r.defect_rate:.1f}",
                  f"{100 * r.first_pass_yield:.1f}", f"{r.throughput_per_hour:.0f}") for r in rows])  # fmt: skip
    return 0
