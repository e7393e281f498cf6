"""The alarm journal as CSV or Excel, and the alarm-health report as an Excel workbook, written whole or not at all.

No database and no Qt: callers hand in journal entries or an AlarmHealth. Times are stored in UTC and
written twice, in the workstation's time zone and in UTC; in Excel they are real date-times (without a
zone: the header says which). Files are written beside the target and moved into place, as the audit
export does (hmi.reports.audit_export), so a failed export leaves the old file, or none.
"""

from __future__ import annotations

import csv
from contextlib import suppress
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from hmi.domain.alarm_health import AlarmHealth, Finding
from hmi.domain.alarm_journal import JournalEntry
from hmi.reports.audit_export import (
    ExportError, csv_safe, excel_text, export_format, local_datetime, local_text, replacing, utc_datetime, utc_text,
)  # fmt: skip

US = 1_000_000
EXCEL_MAX_ROWS = 1_048_576  # a sheet's limit, header included
STAMP = "yyyy-mm-dd hh:mm:ss.000"
PERCENT = "0.0%"
JOURNAL_HEADER = (
    "time (local)", "time (UTC)", "alarm", "twin", "tag", "priority", "kind", "from", "to", "what", "value",
    "user", "comment", "shelved until (local)", "workstation", "message",
)  # fmt: skip
# Excel column widths (characters), in JOURNAL_HEADER order.
JOURNAL_WIDTHS = (24, 24, 30, 14, 30, 8, 10, 14, 14, 18, 12, 14, 36, 24, 16, 44)
_TIME_COLUMNS = frozenset({0, 1, 13})


def _us(ts: float) -> int:
    return round(ts * US)


def _local(ts: float, tz: tzinfo | None) -> datetime:
    """A naive date-time in ``tz`` (default: the workstation's), as Excel takes it."""
    return local_datetime(_us(ts), tz).replace(tzinfo=None)


def _utc(ts: float) -> datetime:
    return utc_datetime(_us(ts)).replace(tzinfo=None)


def zone_name(tz: tzinfo | None, at: float) -> str:
    """The zone's name for a header or a summary: Europe/Berlin, or the local abbreviation (CET)."""
    return getattr(tz, "key", None) or local_datetime(_us(at), tz).tzname() or "local"


# ----- the journal -----------------------------------------------------------------------------------


def _journal_fields(e: JournalEntry) -> tuple[Any, ...]:
    """The columns from 'alarm' to 'comment' (the ones between the times and 'shelved until')."""
    return (e.alarm_id, e.twin, e.tag, e.priority, e.kind.value, e.from_state.value, e.to_state.value, e.what,
            e.value, e.user, e.comment)  # fmt: skip


def export_journal(entries: Iterable[JournalEntry], path: str | Path, tz: tzinfo | None = None) -> int:
    """Write journal entries, in the order given, to FILE.csv or FILE.xlsx (by the suffix); returns how many."""
    fmt = export_format(path)
    target = Path(path)
    with replacing(target) as tmp:
        return _journal_csv(entries, tmp, tz) if fmt == "csv" else _journal_xlsx(entries, tmp, tz)


def _journal_csv(entries: Iterable[JournalEntry], tmp: Path, tz: tzinfo | None) -> int:
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(JOURNAL_HEADER)
        for e in entries:
            fields = [csv_safe(v) if isinstance(v, str) else "" if v is None else v for v in _journal_fields(e)]
            until = "" if e.until is None else local_text(_us(e.until), tz)
            writer.writerow([local_text(_us(e.ts), tz), utc_text(_us(e.ts)), *fields, until,
                             csv_safe(e.workstation), csv_safe(e.message)])  # fmt: skip
            n += 1
    return n


def _journal_xlsx(entries: Iterable[JournalEntry], tmp: Path, tz: tzinfo | None) -> int:
    """A streamed (write-only) workbook: a month of journal does not have to fit in memory twice."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Alarm journal")
    for i, width in enumerate(JOURNAL_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.append(_bold_row(ws, JOURNAL_HEADER))

    def stamp(moment: datetime | None) -> Any:
        if moment is None:
            return None
        cell = WriteOnlyCell(ws, value=moment)
        cell.number_format = STAMP
        return cell

    def text(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = excel_text(value)
        if not value.startswith("="):
            return value
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # openpyxl takes '=...' for a formula; a journal field is text
        return cell

    n = 0
    try:
        for e in entries:
            if n + 1 >= EXCEL_MAX_ROWS:
                raise ExportError(f"more than {EXCEL_MAX_ROWS - 1:,} entries do not fit in one Excel sheet: export as .csv")
            until = None if e.until is None else _local(e.until, tz)
            ws.append([stamp(_local(e.ts, tz)), stamp(_utc(e.ts)), *(text(v) for v in _journal_fields(e)),
                       stamp(until), text(e.workstation), text(e.message)])  # fmt: skip
            n += 1
    except BaseException:
        # Saving is the public way to close openpyxl's own temporary sheet file; the caller drops tmp.
        with suppress(Exception):
            wb.save(tmp)
        raise
    ws.auto_filter.ref = f"A1:{get_column_letter(len(JOURNAL_HEADER))}{n + 1}"
    wb.save(tmp)
    return n


def _bold_row(ws: Any, header: Sequence[str]) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cells = []
    for title in header:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


# ----- the health report -----------------------------------------------------------------------------

# A column of a health sheet: (header, width, kind); kind "time" (a date-time), "pct" (a share given in
# percent, written as a fraction with a % format), "num" (two decimals) or "" (as it is).
Column = tuple[str, int, str]


def export_health(health: AlarmHealth, path: str | Path, tz: tzinfo | None = None) -> None:
    """Write the alarm-health report to FILE.xlsx: Summary, Per 10 min, Floods, Chattering, Stale, Top 10, Priority mix."""
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise ExportError(
            f"cannot write {target}: the alarm health report is an Excel workbook with several sheets; "
            "name the file .xlsx"
        )
    from openpyxl import Workbook

    with replacing(target) as tmp:
        wb = Workbook()
        wb.remove(wb.active)
        _summary(wb, health, tz)
        for title, columns, rows in _tables(health, tz):
            _table(wb, title, columns, rows)
        wb.save(tmp)


def _tables(h: AlarmHealth, tz: tzinfo | None) -> list[tuple[str, list[Column], list[tuple[Any, ...]]]]:
    """Every sheet after the summary: its title, columns and rows."""
    alarm_cols: list[Column] = [("alarm", 30, ""), ("twin", 14, ""), ("tag", 30, ""), ("priority", 8, ""),
                                ("message", 44, "")]  # fmt: skip

    def alarm(ref: Any) -> tuple[Any, ...]:
        return (ref.alarm_id, ref.twin, ref.tag, ref.priority, ref.message)

    return [
        ("Per 10 min", [("start (local)", 22, "time"), ("start (UTC)", 22, "time"), ("alarms", 8, ""),
                        ("over 10", 9, "")],
         [(_local(b.start, tz), _utc(b.start), b.count, "yes" if b.count > 10 else "") for b in h.buckets]),
        ("Floods", [("start (local)", 22, "time"), ("end (local)", 22, "time"), ("start (UTC)", 22, "time"),
                    ("end (UTC)", 22, "time"), ("minutes", 9, "num"), ("alarms", 8, ""),
                    ("still on at the end", 10, ""), ("alarms that made most of it", 60, "")],
         [(_local(f.start, tz), _local(f.end, tz), _utc(f.start), _utc(f.end), f.duration / 60, f.count,
           "yes" if f.ongoing else "", ", ".join(f"{aid} ({n})" for aid, n in f.top)) for f in h.floods]),
        ("Chattering", [*alarm_cols, ("annunciations", 14, ""), ("bursts", 8, ""), ("most in 60 s", 13, "")],
         [(*alarm(c.alarm), c.count, c.bursts, c.max_in_60s) for c in h.chattering]),
        ("Stale", [*alarm_cols, ("active since (local)", 22, "time"), ("active since (UTC)", 22, "time"),
                   ("hours active", 12, "num"), ("state at the end", 16, "")],
         [(*alarm(s.alarm), _local(s.since, tz), _utc(s.since), s.active_for / 3600, s.state.value)
          for s in h.stale]),
        ("Top 10", [("rank", 6, ""), *alarm_cols, ("alarms", 8, ""), ("share", 8, "pct")],
         [(i, *alarm(t.alarm), t.count, t.share) for i, t in enumerate(h.top, start=1)]),
        ("Priority mix", [("priority", 8, ""), ("band", 8, ""), ("alarms", 8, ""), ("share", 8, "pct"),
                          ("band share", 11, "pct"), ("EEMUA 191 guidance (band)", 26, "pct")],
         [(p.priority, p.band, p.count, p.share, p.band_share, p.guidance) for p in h.priority_mix]),
    ]  # fmt: skip


def _table(wb: Any, title: str, columns: Sequence[Column], rows: Iterable[tuple[Any, ...]]) -> None:
    """One sheet: a bold, frozen header with an autofilter, then the rows, formatted by column kind."""
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    ws.append([c[0] for c in columns])
    for col, (_, width, kind) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    n = 1
    for row in rows:
        n += 1
        for col, (value, (_, _, kind)) in enumerate(zip(row, columns), start=1):
            _put(ws.cell(n, col), value, kind)
    _head(ws)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n}"


def _put(cell: Any, value: Any, kind: str) -> None:
    """Set a cell's value and number format by kind; text stays text, never a formula."""
    if kind == "pct" and value is not None:
        value = value / 100
        cell.number_format = PERCENT
    elif kind == "time":
        cell.number_format = STAMP
    elif kind == "num":
        cell.number_format = "0.00"
    if isinstance(value, str):
        value = excel_text(value)
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"


def _head(ws: Any) -> None:
    from openpyxl.styles import Font

    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"


def _verdict(f: Finding) -> str:
    return "" if f.ok is None else "ok" if f.ok else "NOT OK"


def _summary(wb: Any, h: AlarmHealth, tz: tzinfo | None) -> None:
    """The first sheet: the period, the findings in words, then the figures."""
    from openpyxl.styles import Font

    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 110
    ws.append(["item", "value"])
    rows: list[tuple[str, Any, str]] = [
        ("period from (local)", _local(h.start, tz), "time"), ("period to (local)", _local(h.until, tz), "time"),
        ("period from (UTC)", _utc(h.start), "time"), ("period to (UTC)", _utc(h.until), "time"),
        ("time zone (local)", zone_name(tz, h.start), ""), ("hours", h.duration / 3600, "num"),
        ("", None, ""), ("findings", None, ""),
        *((_verdict(f), f.text, "") for f in h.findings),
        ("", None, ""), ("figures", None, ""),
        ("alarms annunciated", h.annunciations, ""), ("average per 10 min", h.per_10min, "num"),
        ("average per hour", h.per_hour, "num"), ("most in one 10 min", h.peak_10min, ""),
        ("10-min periods over 10", h.over_10_share, "pct"), ("floods", len(h.floods), ""),
        ("time in flood", h.flood_share, "pct"), ("chattering alarms", len(h.chattering), ""),
        ("stale alarms (active > 24 h)", len(h.stale), ""), ("top 10 share of all alarms", h.top_share, "pct"),
        ("acknowledged", h.acked, ""), ("not acknowledged by the end", h.not_acked, ""),
        ("acknowledged after, median (s)", h.ack_median, "num"), ("acknowledged after, 90% within (s)", h.ack_p90, "num"),
        ("standing at the end", h.standing, ""), ("shelved at the end", h.shelved, ""),
        ("suppressed at the end", h.suppressed, ""), ("out of service at the end", h.out_of_service, ""),
    ]  # fmt: skip
    for r, (item, value, kind) in enumerate(rows, start=2):
        ws.cell(r, 1, item)
        _put(ws.cell(r, 2), value, kind)
        if item in ("findings", "figures"):
            ws.cell(r, 1).font = Font(bold=True)
    _head(ws)
