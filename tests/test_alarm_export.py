"""Alarm exports: the journal as CSV and Excel, the health report as a workbook, read back as a user would."""

from __future__ import annotations

import csv
import os
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hmi.domain.alarm_defs import AlarmKind
from hmi.domain.alarm_engine import AlarmState as S
from hmi.domain.alarm_health import alarm_health
from hmi.domain.alarm_journal import JournalEntry
from hmi.reports import alarm_export
from hmi.reports.alarm_export import JOURNAL_HEADER, ExportError, export_health, export_journal

BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_795_413_600.25  # 2026-11-23T06:00:00.250Z, 07:00 in Berlin
H = 3600.0


def entry(ts: float, aid: str = "press1.pressure.hi", what: str = "activate", fr: S = S.NORMAL, to: S = S.UNACK,
          **kw) -> JournalEntry:  # fmt: skip
    fields = dict(tag="press1.pressure", twin="press1", kind=AlarmKind.HI, priority=3, value=212.5,
                  workstation="ws-1", message="press 1 pressure high")  # fmt: skip
    fields.update(kw)
    return JournalEntry(ts=ts, alarm_id=aid, from_state=fr, to_state=to, what=what, **fields)


def journal() -> list[JournalEntry]:
    return [
        entry(T0),
        entry(T0 + 60, what="shelve", fr=S.UNACK, to=S.SHELVED, value=None, user="olaf", comment="=cmd|' /C calc'!A0",
              until=T0 + 2 * H),  # fmt: skip
    ]


def test_journal_csv_has_both_times_and_every_field(tmp_path):
    path = tmp_path / "journal.csv"
    assert export_journal(journal(), path, tz=BERLIN) == 2
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert list(rows[0]) == list(JOURNAL_HEADER)
    assert rows[0] == {
        "time (local)": "2026-11-23T07:00:00.250+01:00", "time (UTC)": "2026-11-23T06:00:00.250000Z",
        "alarm": "press1.pressure.hi", "twin": "press1", "tag": "press1.pressure", "priority": "3", "kind": "hi",
        "from": "normal", "to": "unack", "what": "activate", "value": "212.5", "user": "", "comment": "",
        "shelved until (local)": "", "workstation": "ws-1", "message": "press 1 pressure high",
    }  # fmt: skip
    shelve = rows[1]
    assert (shelve["what"], shelve["user"], shelve["value"]) == ("shelve", "olaf", "")
    assert shelve["shelved until (local)"] == "2026-11-23T09:00:00.250+01:00"
    assert shelve["comment"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it, does not run it


def test_journal_xlsx_bold_frozen_header_real_datetimes_and_text_as_text(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "journal.xlsx"
    assert export_journal(journal(), path, tz=BERLIN) == 2
    wb = load_workbook(path)
    assert wb.sheetnames == ["Alarm journal"]
    ws = wb.active
    assert [c.value for c in ws[1]] == list(JOURNAL_HEADER)
    assert all(c.font.bold for c in ws[1]) and ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:P3"
    assert ws.column_dimensions["P"].width == 44
    first, shelve = (list(r) for r in ws.iter_rows(min_row=2, values_only=True))
    assert first[:2] == [datetime(2026, 11, 23, 7, 0, 0, 250000), datetime(2026, 11, 23, 6, 0, 0, 250000)]
    assert ws["A2"].is_date and ws["A2"].number_format == "yyyy-mm-dd hh:mm:ss.000"
    assert first[2:] == ["press1.pressure.hi", "press1", "press1.pressure", 3, "hi", "normal", "unack", "activate",
                         212.5, None, None, None, "ws-1", "press 1 pressure high"]  # fmt: skip
    assert shelve[13] == datetime(2026, 11, 23, 9, 0, 0, 250000)
    assert ws["M3"].value == "=cmd|' /C calc'!A0" and ws["M3"].data_type == "s"


def test_journal_format_follows_the_suffix(tmp_path):
    with pytest.raises(ExportError, match=r"name the file \.csv or \.xlsx"):
        export_journal(journal(), tmp_path / "journal.pdf")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_failure_halfway_keeps_the_earlier_file(tmp_path, suffix):
    path = tmp_path / f"journal{suffix}"
    path.write_bytes(b"the previous export")

    def broken():
        yield from journal()
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        export_journal(broken(), path)
    assert path.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_more_rows_than_excel_holds_is_refused_and_names_csv(tmp_path, monkeypatch):
    monkeypatch.setattr(alarm_export, "EXCEL_MAX_ROWS", 2)
    path = tmp_path / "journal.xlsx"
    with pytest.raises(ExportError, match=r"do not fit in one Excel sheet: export as \.csv"):
        export_journal(journal(), path)
    assert list(tmp_path.iterdir()) == []


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


def test_unwritable_and_missing_folders_are_named(tmp_path, unwritable):
    health = alarm_health(journal(), T0, T0 + H)
    with pytest.raises(ExportError, match="not writable") as err:
        export_health(health, unwritable / "health.xlsx")
    assert str(unwritable / "health.xlsx") in str(err.value)
    with pytest.raises(ExportError, match="not writable"):
        export_journal(journal(), unwritable / "journal.csv")
    with pytest.raises(ExportError, match="does not exist"):
        export_journal(journal(), tmp_path / "nope" / "journal.xlsx")
    assert list(unwritable.iterdir()) == []


# --- the health report -------------------------------------------------------------------------------


def flood_journal() -> list[JournalEntry]:
    """A flood of 12 in the first minutes, a chattering alarm, one stale alarm, and mixed priorities."""
    out = [entry(T0 - 30 * H, aid="tank1.level.lo", priority=1, message="tank 1 level low")]
    for k in range(12):
        aid = "press1.pressure.hi" if k < 6 else f"mill{k}.temp.hi"
        out += [entry(T0 + 120 + 5 * k, aid=aid, priority=2 if k == 0 else 3),
                entry(T0 + 121 + 5 * k, aid=aid, what="return", fr=S.UNACK, to=S.RTN_UNACK)]
    return out


def test_health_workbook_has_every_sheet_with_the_figures_a_user_looks_at(tmp_path):
    from openpyxl import load_workbook

    health = alarm_health(flood_journal(), T0, T0 + H)
    path = tmp_path / "health.xlsx"
    export_health(health, path, tz=BERLIN)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "Per 10 min", "Floods", "Chattering", "Stale", "Top 10", "Priority mix"]
    for ws in wb:
        assert ws.freeze_panes == "A2" and all(c.font.bold for c in ws[1] if c.value), ws.title

    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert summary["period from (local)"] == datetime(2026, 11, 23, 7, 0, 0, 250000)
    assert summary["period to (UTC)"] == datetime(2026, 11, 23, 7, 0, 0, 250000)
    assert summary["time zone (local)"] == "Europe/Berlin"
    assert summary["alarms annunciated"] == 12 and summary["floods"] == 1
    assert summary["stale alarms (active > 24 h)"] == 1
    texts = [row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True) if row[0] == "NOT OK"]
    assert any(t.startswith("1 flood, ") for t in texts)
    assert any(t.startswith("1 chattering alarm") for t in texts)
    flood_share = next(r for r in wb["Summary"].iter_rows(min_row=2) if r[0].value == "time in flood")[1]
    assert flood_share.value == pytest.approx(health.flood_share / 100) and flood_share.number_format == "0.0%"

    per10 = list(wb["Per 10 min"].iter_rows(min_row=2, values_only=True))
    assert per10[0] == (datetime(2026, 11, 23, 7, 0, 0, 250000), datetime(2026, 11, 23, 6, 0, 0, 250000), 12, "yes")
    assert len(per10) == 6 and [r[2] for r in per10[1:]] == [0] * 5

    (flood,) = wb["Floods"].iter_rows(min_row=2, values_only=True)
    assert flood[0] == datetime(2026, 11, 23, 7, 2, 0, 250000) and flood[5] == 12
    assert flood[7] == "press1.pressure.hi (6), mill10.temp.hi (1), mill11.temp.hi (1)"

    (chatter,) = wb["Chattering"].iter_rows(min_row=2, values_only=True)
    assert chatter[:2] == ("press1.pressure.hi", "press1") and chatter[5:] == (6, 1, 6)

    (stale,) = wb["Stale"].iter_rows(min_row=2, values_only=True)
    assert stale[0] == "tank1.level.lo" and stale[4] == "tank 1 level low"
    assert stale[5] == datetime(2026, 11, 22, 1, 0, 0, 250000) and stale[7] == pytest.approx(31.0)
    assert stale[8] == "unack"

    top = list(wb["Top 10"].iter_rows(min_row=2, values_only=True))
    assert [r[:2] for r in top[:2]] == [(1, "press1.pressure.hi"), (2, "mill10.temp.hi")]
    assert top[0][6:] == (6, pytest.approx(0.5))

    mix = wb["Priority mix"]
    assert [c.value for c in mix[1]] == ["priority", "band", "alarms", "share", "band share", "EEMUA 191 guidance (band)"]
    assert [tuple(c.value for c in row[:3]) for row in mix.iter_rows(min_row=2)] == [
        (1, "high", 0), (2, "medium", 1), (3, "low", 11), (4, "low", 0)
    ]  # fmt: skip
    assert mix["F2"].value == pytest.approx(0.05) and mix["F2"].number_format == "0.0%"
    assert mix["E4"].value == pytest.approx(11 / 12)


def test_an_empty_health_report_still_has_every_sheet(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "health.xlsx"
    export_health(alarm_health([], T0, T0 + H), path)
    wb = load_workbook(path)
    assert wb["Floods"].max_row == 1 and wb["Top 10"].max_row == 1
    assert any(r[1] == "no alarm annunciated in 60 min" for r in wb["Summary"].iter_rows(values_only=True))


def test_health_as_csv_is_refused_naming_xlsx(tmp_path):
    with pytest.raises(ExportError, match=r"name the file \.xlsx"):
        export_health(alarm_health([], T0, T0 + H), tmp_path / "health.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_health_write_keeps_the_earlier_file(tmp_path, monkeypatch):
    from openpyxl import Workbook

    path = tmp_path / "health.xlsx"
    path.write_bytes(b"last week's report")

    def disk_full(self, filename):
        with open(filename, "wb") as f:
            f.write(b"half a wor")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", disk_full)
    with pytest.raises(ExportError, match="No space left on device"):
        export_health(alarm_health(flood_journal(), T0, T0 + H), path)
    assert path.read_bytes() == b"last week's report"
    assert [p.name for p in tmp_path.iterdir()] == ["health.xlsx"]
