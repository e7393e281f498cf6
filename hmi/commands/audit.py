"""`hmi audit verify|list|export`: check the audit trail's chain, read it, and take it away as CSV or Excel."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from hmi.commands.acting import add_actor_options, command_service
from hmi.commands.database import open_database
from hmi.commands.errors import CommandError
from hmi.domain.audit import Event, Outcome
from hmi.domain.permissions import Action
from hmi.domain.timespec import parse_time

LIST_LIMIT = 100
KNOWN_ACTIONS = sorted({a.value for a in Action} | {e.value for e in Event})
KNOWN_RESULTS = [o.value for o in Outcome]
TIME_HELP = "ISO 8601 (2026-11-23T06:00, local time unless it ends in Z), 'now', or relative: -8h, -30m, -7d"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `audit` and its verbs to the parser."""
    p = sub.add_parser("audit", parents=[common], help="the audit trail: verify, list, export")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    verify = verbs.add_parser(
        "verify", parents=[common], help="check that no record was changed or deleted (no login needed)"
    )
    verify.set_defaults(handler=run_verify)
    listing = verbs.add_parser("list", parents=[common], help="print the records, newest last (admins, supervisors)")
    _filters(listing, limit_default=LIST_LIMIT)
    add_actor_options(listing)
    listing.set_defaults(handler=run_list)
    export = verbs.add_parser("export", parents=[common], help="write the records to FILE.csv or FILE.xlsx (audited)")
    export.add_argument("file", metavar="FILE", help="FILE.csv or FILE.xlsx: the format follows the suffix")
    _filters(export, limit_default=None)
    add_actor_options(export)
    export.set_defaults(handler=run_export)


def _filters(p: argparse.ArgumentParser, limit_default: int | None) -> None:
    f = p.add_argument_group("filters")
    f.add_argument("--since", metavar="T", help=f"records from T on: {TIME_HELP}")
    f.add_argument("--until", metavar="T", help="records before T (same forms as --since)")
    # --user NAME is the acting user (as in every command that acts), so the filter is --by.
    f.add_argument("--by", dest="who", metavar="U", help="only the records of user U (what U did)")
    f.add_argument("--action", metavar="A", help="only action A, e.g. login, write_setpoint, manage_users")
    f.add_argument("--result", metavar="R", help="only result R: " + ", ".join(KNOWN_RESULTS))
    f.add_argument("--search", metavar="TEXT", help="TEXT anywhere in target, values, detail, user or workstation")
    f.add_argument(
        "--limit", metavar="N", type=int, default=limit_default,
        help=f"at most N records, the newest (default: {limit_default or 'all'})",
    )  # fmt: skip


def _query(args: argparse.Namespace, *, newest_first: bool, limit: int):  # noqa: ANN202 - an AuditQuery
    from hmi.domain.audit import US, AuditQuery

    now = time.time()
    try:
        since = None if args.since is None else int(parse_time(args.since, now) * US)
        until = None if args.until is None else int(parse_time(args.until, now) * US)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if since is not None and until is not None and until <= since:
        raise CommandError(f"--until ({args.until}) is not after --since ({args.since})")
    if args.action and args.action not in KNOWN_ACTIONS:
        raise CommandError(f"unknown action {args.action!r}; actions are: {', '.join(KNOWN_ACTIONS)}")
    if args.result and args.result not in KNOWN_RESULTS:
        raise CommandError(f"unknown result {args.result!r}; results are: {', '.join(KNOWN_RESULTS)}")
    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit must be 1 or more")
    return AuditQuery(
        since_us=since, until_us=until, user=args.who, action=args.action, result=args.result,
        text=args.search or None, limit=limit, newest_first=newest_first,
    )  # fmt: skip


@contextmanager
def _audit_errors() -> Iterator[None]:
    """The services' refusals as one-line CommandErrors."""
    from hmi.domain.audit import AuditUnavailable
    from hmi.domain.permissions import PermissionDenied
    from hmi.reports.audit_export import ExportError

    try:
        yield
    except PermissionDenied as exc:
        raise CommandError(f"{exc}: the audit trail is for admins and shift supervisors") from None
    except (ExportError, AuditUnavailable) as exc:
        raise CommandError(str(exc)) from None


def run_verify(args: argparse.Namespace) -> int:
    """Walk the chain; print 'intact' (exit 0) or each problem on its own line (exit 1)."""
    from hmi.services.audit_view import problem_line, verify_stored_trail
    from hmi.services.db import safe_url

    engine = open_database(args)
    report = verify_stored_trail(engine)
    if report is None:
        raise CommandError(f"{safe_url(engine.url)} has no audit trail; create it with `hmi db upgrade`")
    if report.intact:
        print(f"audit trail intact: {report.records} record{'s' if report.records != 1 else ''}, last #{report.last_seq}")
        return 0
    for problem in report.problems:
        print(problem_line(problem))
    n = len(report.problems)
    raise CommandError(
        f"audit trail NOT intact: {n} problem{'s' if n != 1 else ''} in {report.records} records "
        f"(last #{report.last_seq})"
    )


def _one_line(text: str | None, width: int | None = None) -> str:
    flat = " ".join((text or "").split())
    if width is not None and len(flat) > width:
        return flat[: width - 1] + "…"
    return flat


def run_list(args: argparse.Namespace) -> int:
    """Print the matching records as a table in local time, oldest first, the newest at the bottom."""
    from hmi.reports.audit_export import local_datetime
    from hmi.services.audit_view import list_records

    limit = args.limit or LIST_LIMIT
    query = _query(args, newest_first=True, limit=limit)
    engine = open_database(args)
    with _audit_errors():
        records = list_records(command_service(args, engine), query)
    records.reverse()
    if not records:
        print("no records match", file=sys.stderr)
        return 0
    head = ("#", "time (local)", "user", "role", "workstation", "action", "target", "result", "change", "detail")
    rows = []
    for r in records:
        e = r.entry
        change = "" if e.old_value is None and e.new_value is None else f"{e.old_value or ''} → {e.new_value or ''}"
        rows.append((
            str(r.seq), local_datetime(r.ts_us).strftime("%Y-%m-%d %H:%M:%S"), _one_line(e.user, 24),
            _one_line(e.role, 19), _one_line(e.workstation, 20), _one_line(e.action, 20), _one_line(e.target, 40),
            e.result.upper() if e.result in ("denied", "refused", "failed") else e.result,
            _one_line(change, 40), _one_line(e.detail),
        ))  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    widths[-1] = 0  # the last column is not padded

    def line(cells: tuple[str, ...]) -> str:
        first = f"{cells[0]:>{widths[0]}}"
        return "  ".join([first, *(f"{c:<{w}}" for c, w in zip(cells[1:], widths[1:]))]).rstrip()

    print(line(head))
    for row in rows:
        print(line(row))
    if len(records) == limit:
        print(f"the newest {limit} records; --limit N shows more", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the matching records (oldest first) to FILE.csv or FILE.xlsx; the export is audited."""
    from hmi.reports.audit_export import export_format
    from hmi.services.audit_view import EXPORT_LIMIT, export_records

    with _audit_errors():
        fmt = export_format(args.file)  # an unknown suffix is refused before any login
    query = _query(args, newest_first=True, limit=args.limit or EXPORT_LIMIT)
    engine = open_database(args)
    with _audit_errors():
        n = export_records(command_service(args, engine), query, args.file, fmt)
    print(f"exported {n} records to {args.file}")
    return 0
