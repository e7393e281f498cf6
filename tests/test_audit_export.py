"""Audit exports: CSV and Excel files read back field by field, written whole or not at all; the service audits them."""

from __future__ import annotations

import csv
import os
import subprocess
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from hmi.domain.audit import GENESIS, AuditEntry, next_record
from hmi.domain.permissions import PermissionDenied
from hmi.domain.session import SessionUser
from hmi.reports import audit_export
from hmi.reports.audit_export import ExportError, export_format, write_csv, write_records, write_xlsx
from hmi.services import audit_view
from hmi.services.commands import CommandService
from hmi.store import audit
from hmi.store.audit import AuditQuery

BERLIN = ZoneInfo("Europe/Berlin")
T0_US = 1_795_413_600_123_456  # 2026-11-23T06:00:00.123456Z, 07:00 in Berlin


def records(n: int = 3, **kw) -> list:
    out, seq, h = [], 0, GENESIS
    for i in range(n):
        entry = AuditEntry(user="anna", role="engineer", workstation="ws-1", action="write_setpoint",
                           target=f"drillrig1.setpoint #{i}", result="ok", old_value=str(10 + i),
                           new_value=str(11 + i), detail=f"step {i}", **kw)  # fmt: skip
        rec = next_record(seq, h, T0_US + i * 60_000_000, entry)
        out.append(rec)
        seq, h = rec.seq, rec.hash
    return out


def test_csv_has_every_field_and_both_times(tmp_path):
    recs = records(3)
    path = tmp_path / "trail.csv"
    assert write_csv(recs, path, tz=BERLIN) == 3
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(audit_export.HEADER)
    first = dict(zip(rows[0], rows[1]))
    assert first == {
        "seq": "1", "time (UTC)": "2026-11-23T06:00:00.123456Z", "time (local)": "2026-11-23T07:00:00.123+01:00",
        "user": "anna", "role": "engineer", "workstation": "ws-1", "action": "write_setpoint",
        "target": "drillrig1.setpoint #0", "result": "ok", "old value": "10", "new value": "11", "detail": "step 0",
        "prev_hash": GENESIS, "hash": recs[0].hash,
    }  # fmt: skip
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[3][-2] == recs[1].hash  # the link an auditor follows


def test_csv_keeps_unicode_and_defuses_formulas(tmp_path):
    entry = AuditEntry(user="jörg", role="admin", workstation="ws", action="login", target="user jörg",
                       result="refused", old_value="-5.5", new_value=None, detail='=HYPERLINK("http://x","y")')  # fmt: skip
    rec = next_record(0, GENESIS, T0_US, entry)
    path = tmp_path / "t.csv"
    write_csv([rec], path)
    row = list(csv.DictReader(path.open(encoding="utf-8")))[0]
    assert row["user"] == "jörg"
    assert row["old value"] == "-5.5"  # a number stays a number
    assert row["new value"] == ""
    assert row["detail"] == "'=HYPERLINK(\"http://x\",\"y\")"  # a spreadsheet shows it, does not run it


def test_xlsx_one_sheet_bold_frozen_header_autofilter_and_utc_datetimes(tmp_path):
    from openpyxl import load_workbook

    recs = records(4)
    path = tmp_path / "trail.xlsx"
    assert write_xlsx(recs, path, tz=BERLIN) == 4
    wb = load_workbook(path)
    assert wb.sheetnames == ["Audit trail"]
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header == list(audit_export.HEADER) and "time (UTC)" in header
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:N5"
    assert ws.column_dimensions["L"].width == 48
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert rows[0][1] == datetime(2026, 11, 23, 6, 0, 0, 123000)  # naive UTC, to the millisecond
    assert rows[0][2] == datetime(2026, 11, 23, 7, 0, 0, 123000)  # the same moment in Berlin
    assert rows[1][1] == datetime(2026, 11, 23, 6, 1, 0, 123000)
    assert rows[2][3:12] == ("anna", "engineer", "ws-1", "write_setpoint", "drillrig1.setpoint #2", "ok", "12", "13",
                             "step 2")  # fmt: skip
    assert rows[3][12:] == (recs[2].hash, recs[3].hash)


def test_xlsx_stores_text_as_text_never_as_a_formula(tmp_path):
    from openpyxl import load_workbook

    entry = AuditEntry(user="x", role="", workstation="ws", action="login", target="=1+1", result="refused",
                       detail="bell\x07here")  # fmt: skip
    path = tmp_path / "f.xlsx"
    write_xlsx([next_record(0, GENESIS, T0_US, entry)], path)
    ws = load_workbook(path).active
    assert ws["H2"].value == "=1+1" and ws["H2"].data_type == "s"
    assert ws["L2"].value == "bell\\x07here"


def test_format_from_the_suffix():
    assert export_format("a/b.CSV") == "csv" and export_format("x.xlsx") == "xlsx"
    with pytest.raises(ExportError, match=r"name the file \.csv or \.xlsx"):
        export_format("trail.pdf")


@pytest.fixture
def unwritable(tmp_path):
    """A folder this process cannot write to (chmod, or the immutable flag when running as root)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root without chattr: cannot make a folder unwritable")
        yield folder
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_unwritable_folder_is_named_and_nothing_is_left(unwritable, suffix):
    path = unwritable / f"trail{suffix}"
    with pytest.raises(ExportError) as err:
        write_records(records(2), path)
    assert str(path) in str(err.value) and "not writable" in str(err.value)
    assert list(unwritable.iterdir()) == []


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        write_records(records(1), tmp_path / "nope" / "t.csv")


def test_a_failure_halfway_keeps_the_old_file_and_leaves_no_part(tmp_path):
    path = tmp_path / "trail.csv"
    path.write_text("the previous export\n")

    def broken():
        yield from records(2)
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        write_csv(broken(), path)
    assert path.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["trail.csv"]


# --- the service: permission, audit record ----------------------------------------------------------


def as_(engine, name: str, role: str) -> CommandService:
    return CommandService(engine, lambda: SessionUser(name, role), "ws-test")


def test_the_service_exports_a_query_in_seq_order_and_audits_it(engine, tmp_path):
    for rec in records(5):
        audit.record(engine, rec.entry, clock=lambda rec=rec: rec.ts_us)
    path = tmp_path / "out.csv"
    sue = as_(engine, "sue", "shift_supervisor")
    n = audit_view.export_records(sue, AuditQuery(text="#3", limit=10), path)
    assert n == 1
    assert [r["target"] for r in csv.DictReader(path.open(encoding="utf-8"))] == ["drillrig1.setpoint #3"]
    everything = AuditQuery(newest_first=False, limit=audit_view.EXPORT_LIMIT)
    n = audit_view.export_records(sue, everything, tmp_path / "all.csv")
    assert n == 7  # the five, and the first export's two records
    assert [r["seq"] for r in csv.DictReader((tmp_path / "all.csv").open(encoding="utf-8"))] == [str(i) for i in range(1, 8)]
    mine = audit.query(engine, AuditQuery(user="sue", newest_first=False))
    assert [(r.entry.action, r.entry.target, r.entry.result) for r in mine] == [
        ("view_audit", str(path.resolve()), "requested"), ("view_audit", str(path.resolve()), "ok"),
        ("view_audit", str((tmp_path / "all.csv").resolve()), "requested"),
        ("view_audit", str((tmp_path / "all.csv").resolve()), "ok"),
    ]  # fmt: skip
    assert mine[1].entry.detail == "exported 1 records as csv (text=#3)"
    assert audit.verify(engine).intact


def test_an_operator_may_not_list_or_export_and_the_denial_is_on_record(engine, tmp_path):
    olaf = as_(engine, "olaf", "operator")
    with pytest.raises(PermissionDenied, match="olaf \\(operator\\) may not view audit"):
        audit_view.list_records(olaf)
    with pytest.raises(PermissionDenied):
        audit_view.export_records(olaf, AuditQuery(), tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
    denied = audit.query(engine, AuditQuery(user="olaf"))
    assert [(r.entry.action, r.entry.result) for r in denied] == [("view_audit", "denied")] * 2


def test_a_failed_export_is_on_record_as_failed(engine, unwritable):
    admin = as_(engine, "root", "admin")
    with pytest.raises(ExportError):
        audit_view.export_records(admin, AuditQuery(), unwritable / "t.xlsx")
    results = [r.entry.result for r in audit.query(engine, AuditQuery(user="root", newest_first=False))]
    assert results == ["requested", "failed"]
    assert "not writable" in audit.query(engine, AuditQuery(result="failed"))[0].entry.detail


def test_reading_is_not_audited_and_new_records_come_after_the_last_seen(engine):
    sue = as_(engine, "sue", "shift_supervisor")
    for rec in records(3):
        audit.record(engine, rec.entry)
    page = audit_view.load(sue, AuditQuery(text="setpoint"))
    assert [r.seq for r in page.records] == [3, 2, 1] and page.last_seq == 3
    audit.record(engine, AuditEntry("olaf", "operator", "ws-2", "ack_alarm", "TI-101", "ok"))
    audit.record(engine, AuditEntry("anna", "engineer", "ws-1", "write_setpoint", "setpoint x", "ok"))
    new = audit_view.records_after(sue, page.last_seq, AuditQuery(text="setpoint"))
    assert [r.seq for r in new.records] == [5] and new.last_seq == 5
    assert audit_view.records_after(sue, 5, AuditQuery()).records == []
    assert audit.last_seq(engine) == 5  # no record of the reading itself


def test_problem_lines_start_with_the_record():
    from hmi.domain.audit import ChainProblem

    line = audit_view.problem_line(ChainProblem(17, "record 17 was changed after it was written (its hash does not match)"))
    assert line == "record 17: changed after it was written (its hash does not match)"
    assert audit_view.problem_line(ChainProblem(4, "record(s) 2-3 missing before record 4 (deleted)")) == (
        "record 4: record(s) 2-3 missing before record 4 (deleted)"
    )


def test_times_in_utc_are_exact():
    assert audit_export.utc_datetime(T0_US) == datetime(2026, 11, 23, 6, 0, 0, 123456, tzinfo=timezone.utc)
