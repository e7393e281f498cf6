"""`hmi history tags|export`: what the historian holds, and a tag's samples as CSV."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hmi.commands.database import open_database
from hmi.commands.errors import CommandError, as_command_errors
from hmi.domain.timespec import parse_time


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `history` and its verbs to the parser."""
    p = sub.add_parser("history", parents=[common], help="read the historian")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    tags = verbs.add_parser("tags", parents=[common], help="list the tags that have history")
    tags.set_defaults(handler=run_tags)
    export = verbs.add_parser("export", parents=[common], help="export one tag's samples")
    export.add_argument("--tag", required=True, help="tag id, e.g. drillrig1.torque")
    export.add_argument("--from", dest="t_from", default="-1h", help="start: ISO 8601, 'now' or '-2h' (default -1h)")
    export.add_argument("--to", dest="t_to", default="now", help="end: ISO 8601, 'now' or '-5m' (default now)")
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(handler=run_export)


def run_tags(args: argparse.Namespace) -> int:
    """Print every tag that has samples in the historian, one per line."""
    from hmi.services import history as queries

    engine = open_database(args)
    for name in queries.tag_names(engine):
        print(name)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write one tag's samples between two times as CSV."""
    from hmi.services import history as queries

    now = time.time()
    try:
        t0, t1 = parse_time(args.t_from, now), parse_time(args.t_to, now)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if t1 < t0:
        raise CommandError(f"--from ({args.t_from}) is after --to ({args.t_to})")
    engine = open_database(args)
    known = queries.tag_names(engine)
    if args.tag not in known:
        hint = ", ".join(n for n in known if n.split(".")[0] == args.tag.split(".")[0]) or ", ".join(known[:8])
        raise CommandError(f"no history for tag {args.tag!r}" + (f"; known tags include: {hint}" if hint else ""))
    if args.output:
        from hmi.reports.audit_export import ExportError, replacing

        path = Path(args.output)
        with as_command_errors(ExportError), replacing(path) as tmp:  # no half-written export left behind
            with tmp.open("w", newline="", encoding="utf-8") as out:
                rows = queries.export_csv(engine, args.tag, t0, t1, out)
        print(f"exported {rows} samples of {args.tag} to {path}", file=sys.stderr)
    else:
        queries.export_csv(engine, args.tag, t0, t1, sys.stdout)
    return 0
