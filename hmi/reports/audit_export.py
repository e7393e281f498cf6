"""The audit trail as a file: CSV (stdlib) or Excel (openpyxl), every field, written whole or not at all.

No database and no Qt here: callers hand in the records. Each file has one row per record with its
seq, its time in UTC (exact, to the microsecond) and in the workstation's local time, who did what,
how it ended, and the record's link and hash, so an auditor can check the chain outside the HMI.
The file is written to a temporary file in the same folder and moved into place (`os.replace`), so
a failed export leaves the old file, or none, never half a file.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from hmi.domain.audit import AuditRecord

US = 1_000_000
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
HEADER = (
    "seq", "time (UTC)", "time (local)", "user", "role", "workstation", "action", "target", "result",
    "old value", "new value", "detail", "prev_hash", "hash",
)  # fmt: skip
# Excel column widths (characters), in HEADER order.
WIDTHS = (8, 24, 24, 16, 16, 16, 18, 32, 10, 18, 18, 48, 20, 20)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ExportError(Exception):
    """The export could not be written: an unknown format, a folder that is missing or not writable."""


def export_format(path: str | Path) -> str:
    """'csv' or 'xlsx' from the file name's suffix; ExportError for any other."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise ExportError(
            f"cannot tell the format of {str(path)!r}: name the file .csv or .xlsx"
        ) from None


def utc_datetime(ts_us: int) -> datetime:
    """An aware UTC datetime for epoch microseconds, exact to the microsecond."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=ts_us)


def local_datetime(ts_us: int, tz: tzinfo | None = None) -> datetime:
    """The same moment in ``tz`` (default: the workstation's local time zone), aware."""
    return utc_datetime(ts_us).astimezone(tz)


def utc_text(ts_us: int) -> str:
    """ISO 8601 in UTC with microseconds and a Z, e.g. 2026-11-23T06:00:00.123456Z."""
    return utc_datetime(ts_us).isoformat(timespec="microseconds").replace("+00:00", "Z")


def local_text(ts_us: int, tz: tzinfo | None = None) -> str:
    """ISO 8601 in local time with milliseconds and the offset, e.g. 2026-11-23T07:00:00.123+01:00."""
    return local_datetime(ts_us, tz).isoformat(timespec="milliseconds")


def _fields(rec: AuditRecord) -> tuple[str, str, str, str, str, str, str | None, str | None, str]:
    e = rec.entry
    return (e.user, e.role, e.workstation, e.action, e.target, e.result, e.old_value, e.new_value, e.detail)


def csv_safe(text: str | None) -> str:
    """A cell a spreadsheet will not run as a formula: such text gets a leading apostrophe (numbers stay)."""
    if not text:
        return ""
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; moved onto ``path`` only when the block succeeds."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as error:
        raise ExportError(f"cannot write {path}: the folder {folder} is not writable ({error.strerror})") from None
    os.close(fd)  # mkstemp makes it readable by its owner only; the export keeps that
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(records: Iterable[AuditRecord], path: str | Path, tz: tzinfo | None = None) -> int:
    """Write ``records`` as UTF-8 CSV with a header line; returns the number of records written."""
    target = Path(path)
    n = 0
    with replacing(target) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(HEADER)
            for rec in records:
                cells = [csv_safe(v) for v in _fields(rec)]
                writer.writerow([rec.seq, utc_text(rec.ts_us), local_text(rec.ts_us, tz), *cells, rec.prev_hash, rec.hash])
                n += 1
    return n


def excel_text(text: str | None) -> str | None:
    """Text Excel accepts: control characters it refuses are written as \\xNN."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if text is None:
        return None
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def write_xlsx(records: Iterable[AuditRecord], path: str | Path, tz: tzinfo | None = None) -> int:
    """Write ``records`` to one sheet of an Excel workbook; returns the number of records written.

    Times are Excel date-times without a zone: the UTC column in UTC, the local column in ``tz``
    (default: the workstation's); the header names which. The header is bold and frozen, and has
    an autofilter. Text is always stored as text, never as a formula.
    """
    from openpyxl import Workbook

    with replacing(Path(path)) as tmp:  # a folder that cannot be written fails before any work
        n = _fill_workbook(Workbook(), records, tz, tmp)
    return n


def _fill_workbook(wb, records: Iterable[AuditRecord], tz: tzinfo | None, tmp: Path) -> int:  # noqa: ANN001
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = wb.active
    ws.title = "Audit trail"
    ws.append(HEADER)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    stamp = "yyyy-mm-dd hh:mm:ss.000"
    n = 0
    for rec in records:
        utc = utc_datetime(rec.ts_us).replace(tzinfo=None)
        local = local_datetime(rec.ts_us, tz).replace(tzinfo=None)
        ws.append([rec.seq, utc, local, *(excel_text(v) for v in _fields(rec)), rec.prev_hash, rec.hash])
        row = ws.max_row
        ws.cell(row, 2).number_format = stamp
        ws.cell(row, 3).number_format = stamp
        for col in range(4, len(HEADER) + 1):
            cell = ws.cell(row, col)
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # openpyxl takes '=...' for a formula; an audit field is text
        n += 1
    for i, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(HEADER))}{n + 1}"
    wb.save(tmp)
    return n


WRITERS: dict[str, Callable[..., int]] = {"csv": write_csv, "xlsx": write_xlsx}


def write_records(records: Iterable[AuditRecord], path: str | Path, fmt: str | None = None) -> int:
    """Write ``records`` as ``fmt`` ('csv' or 'xlsx'; default: from the suffix); returns how many."""
    fmt = fmt or export_format(path)
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r}: use csv or xlsx") from None
    return writer(records, path)
