"""Reading the audit trail as a command: list it, check its chain, export it (the GUI and `hmi audit` call these).

Reading needs the view_audit permission (admins and shift supervisors). A refused read is on the
record (the CommandService audits every denial); a permitted read is not, or every look at the
pane would grow the trail. An export is a command of its own: the file leaves the control room, so
it is recorded (requested, then ok or failed) under view_audit, not export_report, so that only
those who may read the trail may take it away. Verifying the chain needs no login: it reads only
hashes and says whether the records were changed, not what they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc, inspect
from sqlalchemy.engine import Engine

from hmi.domain.audit import AuditQuery, AuditRecord, ChainProblem, ChainReport
from hmi.domain.permissions import Action
from hmi.reports.audit_export import ExportError, export_format, write_records
from hmi.services.commands import Change, CommandService
from hmi.store import audit
from hmi.store.db import unavailable

VIEW = Action.VIEW_AUDIT
TRAIL = "audit trail"
EXPORT_LIMIT = 1_000_000  # an Excel sheet holds 1,048,576 rows


def list_records(commands: CommandService, query: AuditQuery = AuditQuery()) -> list[AuditRecord]:
    """The records matching ``query`` for someone who may view the trail; PermissionDenied (audited) otherwise."""
    commands.authorize(VIEW, TRAIL)
    return audit.query(commands.engine, query)


@dataclass(frozen=True)
class NewRecords:
    """Records appended since a seq that match a query (newest first), and the newest seq read."""

    records: list[AuditRecord]
    last_seq: int


def matches(rec: AuditRecord, q: AuditQuery) -> bool:
    """Whether ``rec`` passes ``q``'s filters (as the database applies them; the limit aside)."""
    e = rec.entry
    if q.since_us is not None and rec.ts_us < q.since_us:
        return False
    if q.until_us is not None and rec.ts_us >= q.until_us:
        return False
    if (q.user and e.user != q.user) or (q.action and e.action != q.action) or (q.result and e.result != q.result):
        return False
    if q.text:
        needle = q.text.lower()
        fields = (e.target, e.old_value, e.new_value, e.detail, e.user, e.workstation, e.action)
        return any(needle in f.lower() for f in fields if f)
    return True


def load(commands: CommandService, query: AuditQuery = AuditQuery()) -> NewRecords:
    """The records matching ``query`` (newest first) and the trail's newest seq, to ask `records_after` later."""
    commands.authorize(VIEW, TRAIL)
    head = audit.last_seq(commands.engine)  # read first: a record appended meanwhile is read again, not missed
    records = audit.query(commands.engine, query)
    return NewRecords(records, max([head, *(r.seq for r in records)]))


def records_after(commands: CommandService, after_seq: int, query: AuditQuery = AuditQuery()) -> NewRecords:
    """The records after ``after_seq`` that match ``query``: what a view already showing the trail lacks.

    Cheap when nothing is new: one indexed read of the rows past ``after_seq``.
    """
    commands.authorize(VIEW, TRAIL)
    found: list[AuditRecord] = []
    last = after_seq
    with commands.engine.connect() as conn:
        for rec in audit.iter_records(conn, after_seq):
            last = rec.seq
            if matches(rec, query):
                found.append(rec)
    found.reverse()
    return NewRecords(found[: query.limit], last)


def verify_trail(engine: Engine) -> ChainReport:
    """Walk the whole chain; the report names each record changed, deleted or out of place."""
    return audit.verify(engine)


def verify_stored_trail(engine: Engine) -> ChainReport | None:
    """As ``verify_trail``, on a database that may have no schema yet: None when it has no audit trail.

    DatabaseUnavailable, in words, when the database cannot be read.
    """
    try:
        return verify_trail(engine) if inspect(engine).has_table("audit_log") else None
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None


def problem_line(problem: ChainProblem) -> str:
    """One problem as one line that starts with its record: 'record 17: changed after it was written ...'."""
    message = problem.message
    prefix = f"record {problem.seq} "
    if message.startswith(prefix):
        message = message[len(prefix):]
        for verb in ("was ", "is "):
            if message.startswith(verb):
                message = message[len(verb):]
                break
    return f"record {problem.seq}: {message}"


def describe(q: AuditQuery) -> str:
    """The filters of ``q`` in words for the export's audit record, e.g. 'user=anna, text=setpoint'."""
    from hmi.reports.audit_export import utc_text

    parts = []
    if q.since_us is not None:
        parts.append(f"since {utc_text(q.since_us)}")
    if q.until_us is not None:
        parts.append(f"until {utc_text(q.until_us)}")
    parts += [f"{name}={value}" for name, value in (("user", q.user), ("action", q.action), ("result", q.result),
                                                   ("text", q.text)) if value]  # fmt: skip
    return ", ".join(parts) or "all records"


def export_records(
    commands: CommandService, source: AuditQuery | Sequence[AuditRecord], path: str | Path, fmt: str | None = None
) -> int:
    """Write the records (a query's, or those given) to ``path`` in seq order as CSV or Excel; returns how many.

    Needs view_audit (not export_report): only admins and shift supervisors may take the trail
    away. The export is audited as a command with the file as target: 'requested' before the file is
    written, then 'ok', or 'failed' with the reason (a folder that is not writable). An unknown
    format is refused before anything is read or recorded (ExportError).
    """
    fmt = fmt or export_format(path)
    if fmt not in ("csv", "xlsx"):
        raise ExportError(f"unknown export format {fmt!r}: use csv or xlsx")
    if isinstance(source, AuditQuery):
        records = list_records(commands, source)  # with newest_first and a limit: the newest N
        what = describe(source)
    else:
        commands.authorize(VIEW, TRAIL)
        records = list(source)
        what = "a selection"
    records.sort(key=lambda r: r.seq)  # a file reads in the order things happened
    target = str(Path(path).resolve())
    change = Change(detail=f"exported {len(records)} records as {fmt} ({what})")
    return commands.run_external(VIEW, target, change, lambda: write_records(records, path, fmt))
