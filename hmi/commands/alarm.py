"""`hmi alarm list|ack|shelve|unshelve|suppress|out-of-service|return|journal|health|mail-test`.

The commands act on the shared journal (the database): `list` shows each alarm's state as the journal
last recorded it; a command (ack, shelve, ...) is checked against that state, journaled and audited as
`--user NAME` through the same service as the GUI, and every running workstation applies it within a
second or so. `journal` and `health` read (and export, audited) the journal.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AbstractContextManager

from hmi.commands.acting import acting_user, add_actor_options, command_service
from hmi.commands.database import open_database
from hmi.commands.errors import CommandError, as_command_errors
from hmi.config import load_config
from hmi.domain.timespec import parse_time

TIME_HELP = "ISO 8601 (2026-11-23T06:00, local time unless it ends in Z), 'now', or relative: -8h, -30m, -7d"
STATE_WORDS = {
    "unack": "UNACKNOWLEDGED",
    "acked": "acknowledged",
    "rtn_unack": "returned, UNACKNOWLEDGED",
    "shelved": "shelved",
    "suppressed": "suppressed",
    "out_of_service": "out of service",
    "normal": "normal",
}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `alarm` and its verbs to the parser."""
    p = sub.add_parser("alarm", parents=[common], help="alarms: list, acknowledge, shelve, journal, health")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    listing = verbs.add_parser("list", parents=[common], help="the alarms that are not normal (no login needed)")
    listing.add_argument("--all", action="store_true", help="every configured alarm, normal ones too")
    listing.add_argument("--twin", metavar="T", help="only the alarms of twin T")
    listing.add_argument("--priority", metavar="N", type=int, choices=range(1, 5), help="only priority N (1-4)")
    listing.set_defaults(handler=run_list)

    ack = verbs.add_parser("ack", parents=[common], help="acknowledge alarms (operators and up; audited)")
    ack.add_argument("alarms", metavar="ALARM", nargs="*", help="alarm ids, e.g. drillrig1.pressure.hi")
    ack.add_argument("--all-unacked", action="store_true", help="every unacknowledged alarm")
    ack.add_argument("--comment", default="", help="a comment for the journal")
    add_actor_options(ack)
    ack.set_defaults(handler=run_ack)

    shelve = verbs.add_parser("shelve", parents=[common], help="shelve an alarm for a while (supervisors, engineers)")
    shelve.add_argument("alarms", metavar="ALARM", nargs="+")
    shelve.add_argument("--for", dest="duration", metavar="TIME", required=True, help="e.g. 30m, 2h, 1h30m")
    shelve.add_argument("--reason", required=True, help="why (required)")
    add_actor_options(shelve)
    shelve.set_defaults(handler=run_simple, what="shelve")

    for verb, what, needs_reason, text in (
        ("unshelve", "unshelve", False, "end a shelving early"),
        ("suppress", "suppress", True, "suppress an alarm by design (engineers, admins)"),
        ("out-of-service", "out_of_service", True, "take an alarm out of service (engineers, admins)"),
        ("return", "return_to_service", False, "return a suppressed or out-of-service alarm to service"),
    ):
        v = verbs.add_parser(verb, parents=[common], help=text)
        v.add_argument("alarms", metavar="ALARM", nargs="+")
        if needs_reason:
            v.add_argument("--reason", required=True, help="why (required)")
        else:
            v.add_argument("--comment", dest="reason", default="", help="a comment for the journal")
        add_actor_options(v)
        v.set_defaults(handler=run_simple, what=what)

    journal = verbs.add_parser("journal", parents=[common], help="every alarm event; --export FILE (audited)")
    _period(journal, "-24h")
    journal.add_argument("--twin", metavar="T", help="only twin T")
    journal.add_argument("--priority", metavar="N", type=int, choices=range(1, 5), help="only priority N (1-4)")
    journal.add_argument("--by", dest="who", metavar="U", help="only what user U did")
    journal.add_argument("--alarm", metavar="ID", help="only alarm ID")
    journal.add_argument("--limit", metavar="N", type=int, default=200, help="print at most the newest N (default 200)")
    journal.add_argument("--export", metavar="FILE", help="write FILE.csv or FILE.xlsx instead (needs --user)")
    add_actor_options(journal)
    journal.set_defaults(handler=run_journal)

    health = verbs.add_parser("health", parents=[common], help="alarm rates, floods, chattering, stale, top 10")
    _period(health, "-24h")
    health.add_argument("--export", metavar="FILE", help="write the report to FILE.xlsx (needs --user)")
    add_actor_options(health)
    health.set_defaults(handler=run_health)

    mail = verbs.add_parser("mail-test", parents=[common], help="send a test e-mail with the config's [alarms.mail]")
    mail.set_defaults(handler=run_mail_test)


def _period(p: argparse.ArgumentParser, since: str) -> None:
    p.add_argument("--since", metavar="T", default=since, help=f"from T (default {since}): {TIME_HELP}")
    p.add_argument("--until", metavar="T", default="now", help="until T (default now)")


def _refusals() -> AbstractContextManager[None]:
    """The services' refusals as one-line CommandErrors."""
    from hmi.domain.alarm_engine import AlarmError
    from hmi.domain.audit import AuditUnavailable
    from hmi.domain.permissions import PermissionDenied
    from hmi.reports.audit_export import ExportError

    return as_command_errors(AlarmError, PermissionDenied, AuditUnavailable, ExportError)


def _period_of(args: argparse.Namespace) -> tuple[float, float]:
    now = time.time()
    try:
        start, end = parse_time(args.since, now), parse_time(args.until, now)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if end <= start:
        raise CommandError(f"--until ({args.until}) is not after --since ({args.since})")
    return start, end


def _local(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    widths[-1] = 0
    for cells in (head, *rows):
        print("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip())


def _value(v: float | None) -> str:
    return "" if v is None else f"{v:.4g}"


def run_list(args: argparse.Namespace) -> int:
    """Print each alarm's state as the journal last recorded it, highest priority and newest first."""
    from hmi.services.alarm_commands import journal_state
    from hmi.services.alarm_reports import latest_states

    config = load_config(args.config)
    definitions = config.alarm_definitions()
    engine = open_database(args, config)
    states = latest_states(engine)
    now = time.time()
    rows: list[tuple[int, float, tuple[str, ...]]] = []
    for d in definitions:
        s = states.get(d.alarm_id)
        state = journal_state(s, now).value if s else "normal"
        if state == "normal" and not args.all:
            continue
        if args.twin and d.tag.split(".", 1)[0] != args.twin:
            continue
        if args.priority and d.priority != args.priority:
            continue
        since = s.activated_at if s and s.activated_at else (s.entry.ts if s else None)
        detail = ""
        if s and state in ("shelved", "suppressed", "out_of_service"):
            until = f" until {_local(s.entry.until)}" if s.entry.until else ""
            detail = f"{s.entry.user}{until}: {s.entry.comment}"
        elif s and s.entry.what == "ack":
            detail = f"by {s.entry.user}" + (f": {s.entry.comment}" if s.entry.comment else "")
        cells = (f"P{d.priority}", _local(since), STATE_WORDS[state], d.alarm_id, d.message,
                 _value(s.entry.value) if s else "", detail)  # fmt: skip
        rows.append((d.priority, -(since or 0.0), cells))
    if not rows:
        print("no alarms" + ("" if args.all else " (all normal; --all lists every alarm)"), file=sys.stderr)
        return 0
    rows.sort(key=lambda r: (r[0], r[1]))
    _table(("prio", "since (local)", "state", "alarm", "message", "value", "who / why"), [r[2] for r in rows])
    return 0


def _carry_out(args: argparse.Namespace, what: str, ids: list[str], comment: str, duration: float | None) -> int:
    import asyncio

    from hmi.services.alarm_center import AlarmCenter
    from hmi.services.alarm_commands import AlarmCommand, format_duration
    from hmi.services.commands import workstation_name

    config = load_config(args.config)
    engine = open_database(args, config)
    center = AlarmCenter.for_commands(config.alarm_definitions(), engine, workstation_name(),
                                      max_shelve_s=config.alarms.max_shelve_s)  # fmt: skip
    with _refusals():
        command = AlarmCommand(what, tuple(ids), comment, duration)
        entries = asyncio.run(center.command(acting_user(args, engine), command))
    for e in entries:
        until = f" for {format_duration(duration)}" if duration else ""
        print(f"{e.alarm_id}: {STATE_WORDS[e.from_state.value]} -> {STATE_WORDS[e.to_state.value]}{until}")
    return 0


def run_ack(args: argparse.Namespace) -> int:
    """Acknowledge the given alarms, or every unacknowledged one."""
    ids = list(args.alarms)
    if args.all_unacked:
        from hmi.domain.alarm_engine import AlarmState
        from hmi.services.alarm_commands import ids_in, snapshot_from_journal
        from hmi.services.alarm_reports import latest_states

        config = load_config(args.config)
        snapshot = snapshot_from_journal(latest_states(open_database(args, config)))
        ids += [i for i in ids_in(snapshot, [AlarmState.UNACK, AlarmState.RTN_UNACK]) if i not in ids]
        if not ids:
            print("no unacknowledged alarms", file=sys.stderr)
            return 0
    if not ids:
        raise CommandError("give the alarm ids to acknowledge, or --all-unacked")
    return _carry_out(args, "ack", ids, args.comment, None)


def run_simple(args: argparse.Namespace) -> int:
    """Shelve, unshelve, suppress, take out of service or return to service."""
    duration = None
    if args.what == "shelve":
        from hmi.services.alarm_commands import parse_duration

        with _refusals():
            duration = parse_duration(args.duration)
    return _carry_out(args, args.what, list(args.alarms), args.reason, duration)


def run_journal(args: argparse.Namespace) -> int:
    """Print the journal (oldest first, the newest at the bottom) or export it."""
    from hmi.domain.alarm_journal import JournalQuery
    from hmi.services.alarm_reports import journal

    start, end = _period_of(args)
    config = load_config(args.config)
    engine = open_database(args, config)
    exporting = args.export is not None
    if exporting:
        _check_suffix(args.export, (".csv", ".xlsx"))
    q = JournalQuery(start=start, end=end, twin=args.twin, priority=args.priority, user=args.who,
                     alarm_id=args.alarm, limit=None if exporting else args.limit, newest_first=True)  # fmt: skip
    entries = journal(engine, q)
    entries.reverse()
    if exporting:
        from hmi.services.alarm_reports import export_journal

        with _refusals():
            n = export_journal(command_service(args, engine), entries, args.export, f"{args.since} to {args.until}")
        print(f"exported {n} alarm journal entries to {args.export}")
        return 0
    if not entries:
        print("no alarm events match", file=sys.stderr)
        return 0
    rows = [
        (_local(e.ts), f"P{e.priority}", e.alarm_id, e.what, f"{e.from_state.value} -> {e.to_state.value}",
         _value(e.value), e.user, e.workstation, e.comment)
        for e in entries
    ]  # fmt: skip
    _table(("time (local)", "prio", "alarm", "event", "state", "value", "user", "workstation", "comment"), rows)
    if len(entries) == args.limit:
        print(f"the newest {args.limit} events; --limit N shows more", file=sys.stderr)
    return 0


def _check_suffix(path: str, suffixes: tuple[str, ...]) -> None:
    if not path.lower().endswith(suffixes):
        raise CommandError(f"{path}: name the file {' or '.join(suffixes)}; the format follows the suffix")


def run_health(args: argparse.Namespace) -> int:
    """Print the health findings and figures over the period, or export the report."""
    from hmi.services.alarm_reports import export_health, health_report

    start, end = _period_of(args)
    if args.export is not None:
        _check_suffix(args.export, (".xlsx",))
    config = load_config(args.config)
    engine = open_database(args, config)
    health = health_report(engine, start, end)
    if args.export is not None:
        with _refusals():
            export_health(command_service(args, engine), health, args.export)
        print(f"exported the alarm health report to {args.export}")
        return 0
    print(f"alarm health {_local(health.start)} – {_local(health.until)}: {health.annunciations} alarms")
    for f in health.findings:
        mark = {True: "ok  ", False: "BAD ", None: "    "}[f.ok]
        print(f"  {mark}{f.text}")
    if health.floods:
        print("floods:")
        for fl in health.floods:
            print(f"  {_local(fl.start)} – {_local(fl.end)}: {fl.count} alarms" + (" (ongoing)" if fl.ongoing else ""))
    if health.top:
        print("most frequent:")
        for t in health.top:
            print(f"  {t.count:>5}  {t.alarm.alarm_id}  {t.alarm.message}")
    return 0


def run_mail_test(args: argparse.Namespace) -> int:
    """Send one test message with [alarms.mail] and print how it went."""
    from hmi.secrets import SMTP_SECRET, get_secret
    from hmi.services.alarm_mail import MailError, send_test_mail

    config = load_config(args.config)
    mail = config.alarms.mail
    if mail is None:
        raise CommandError("the config has no [alarms.mail] section; see resources/plant.toml for an example")
    try:
        print(send_test_mail(mail, (lambda: get_secret(SMTP_SECRET)) if mail.username else (lambda: None)))
    except MailError as exc:
        raise CommandError(str(exc)) from None
    return 0
