"""`hmi audit verify|list|export` as a user runs them: subprocesses on SQLite and PostgreSQL files changed by hand."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from hmi.domain.audit import AuditEntry
from hmi.domain.session import SessionUser
from hmi.services import login, user_admin
from hmi.services.commands import CommandService
from hmi.store import audit
from hmi.store.audit import AuditQuery
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from tests.test_audit_export import unwritable  # noqa: F401 - a fixture

PW = "Control room 42"
TZ = "Europe/Berlin"
T0_US = 1_763_964_000_000_000  # 2025-11-24T06:00:00Z, 07:00 in Berlin: long before any test runs
MIN_US = 60_000_000


def hmi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TZ": TZ, "HMI_WORKSTATION": "ws-cli"}
    return subprocess.run([sys.executable, "-m", "hmi.cli", *args], capture_output=True, text=True, input=stdin,
                          timeout=120, env=env)  # fmt: skip


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr


def entry(user: str, role: str, action: str, target: str, result: str = "ok", **kw) -> AuditEntry:
    return AuditEntry(user=user, role=role, workstation="ws-1", action=action, target=target, result=result, **kw)


def seed(engine) -> None:
    """Users (anna admin, sue supervisor, olaf operator, vic viewer) and six records at known times."""
    login.create_first_admin(engine, "anna", PW, workstation="ws-1")
    admin = CommandService(engine, lambda: SessionUser("anna", "admin"), "ws-1")
    for name, role in (("sue", "shift_supervisor"), ("olaf", "operator"), ("vic", "viewer")):
        user_admin.add_user(admin, name, role, PW)
    plan = [
        entry("olaf", "operator", "ack_alarm", "TI-101 high"),
        entry("olaf", "operator", "write_setpoint", "drillrig1.setpoint", "denied", detail="olaf (operator) may not write setpoint"),
        entry("anna", "admin", "write_setpoint", "drillrig1.setpoint", old_value="10", new_value="12.5"),
        entry("sue", "shift_supervisor", "shelve_alarm", "PI-202 low", detail="maintenance on pump 2"),
        entry("anna", "admin", "write_setpoint", "press3.setpoint", "failed", old_value="4", new_value="5", detail="the PLC said no"),
        entry("sue", "shift_supervisor", "resolve_andon", "line 2 call 7"),
    ]  # fmt: skip
    for i, e in enumerate(plan):
        audit.record(engine, e, clock=lambda i=i: T0_US + i * 10 * MIN_US)


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'hmi.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed(engine)
    yield url, engine
    engine.dispose()


def tamper_sqlite(engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text(sql))


def seq_of(engine, target: str) -> int:
    (rec,) = audit.query(engine, AuditQuery(text=target))
    return rec.seq


# --- verify ----------------------------------------------------------------------------------------


def test_verify_intact_then_names_the_row_changed_by_hand(db):
    url, engine = db
    r = hmi("audit", "verify", "--db", url)  # no login: it only reads and checks
    total = audit.last_seq(engine)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"audit trail intact: {total} records, last #{total}"

    changed = seq_of(engine, "12.5")
    tamper_sqlite(engine, f"UPDATE audit_log SET new_value = '99' WHERE seq = {changed}")
    r = hmi("audit", "verify", "--db", url)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [f"record {changed}: changed after it was written (its hash does not match)"]
    err = one_line_error(r)
    assert "NOT intact: 1 problem in" in err


def test_verify_names_deleted_rows(db):
    url, engine = db
    gone = seq_of(engine, "PI-202")
    tamper_sqlite(engine, f"DELETE FROM audit_log WHERE seq = {gone}")
    r = hmi("audit", "verify", "--db", url)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [f"record {gone + 1}: record(s) {gone} missing before record {gone + 1} (deleted)"]


def test_verify_on_a_database_without_a_trail_says_so(tmp_path):
    missing = tmp_path / "empty.db"
    r = hmi("audit", "verify", "--db", f"sqlite:///{missing}")
    assert f"no database at {missing}; create it with hmi db upgrade" in one_line_error(r)
    assert not missing.exists()  # a read creates nothing (issue 12)
    upgrade(f"sqlite:///{missing}", "0002")  # users, no audit trail yet
    r = hmi("audit", "verify", "--db", f"sqlite:///{missing}")
    assert "has schema revision 0002" in one_line_error(r) and "upgrade it with hmi db upgrade" in r.stderr


@pytest.mark.postgres
def test_verify_on_postgresql(pg_url):
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        seed(engine)
        total = audit.last_seq(engine)
        r = hmi("audit", "verify", "--db", pg_url)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"audit trail intact: {total} records, last #{total}"
        changed = seq_of(engine, "maintenance on pump 2")
        with engine.begin() as conn:
            with pytest.raises(Exception, match="append-only"):
                conn.execute(text(f"UPDATE audit_log SET detail = 'nothing' WHERE seq = {changed}"))
        with engine.begin() as conn:  # what the database owner can do: switch the guard off
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(f"UPDATE audit_log SET detail = 'nothing' WHERE seq = {changed}"))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        r = hmi("audit", "verify", "--db", pg_url)
        assert r.returncode == 1
        assert r.stdout.splitlines() == [f"record {changed}: changed after it was written (its hash does not match)"]
        assert "NOT intact" in one_line_error(r)

        r = hmi("audit", "list", "--user", "sue", "--db", pg_url, "--search", "nothing", stdin=PW + "\n")
        assert r.returncode == 0, r.stderr
        assert [line.split()[0] for line in r.stdout.splitlines()[1:]] == [str(changed)]
    finally:
        engine.dispose()


# --- list ------------------------------------------------------------------------------------------


def listed(r: subprocess.CompletedProcess[str]) -> list[list[str]]:
    """The rows of `hmi audit list` split on runs of two spaces (cells may contain single spaces)."""
    import re

    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "time", "(local)"]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


def test_list_filters_and_shows_local_time(db):
    url, engine = db
    sue = ("--user", "sue", "--db", url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return hmi("audit", "list", *sue, *args, stdin=PW + "\n")

    rows = listed(run("--since", "2025-11-24T06:00:00Z", "--until", "2025-11-24T07:00:00Z"))
    assert [row[6] for row in rows] == ["TI-101 high", "drillrig1.setpoint", "drillrig1.setpoint", "PI-202 low",
                                        "press3.setpoint", "line 2 call 7"]  # oldest first  # fmt: skip
    berlin = datetime.fromtimestamp(T0_US / 1e6, ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M:%S")
    assert rows[0][1] == berlin == "2025-11-24 07:00:00"
    assert rows[2][7:] == ["ok", "10 → 12.5"]
    assert rows[4][7:] == ["FAILED", "4 → 5", "the PLC said no"]
    assert [row[6] for row in listed(run("--since", "2025-11-24T06:15:00Z", "--until", "2025-11-24T06:35:00Z"))] == [
        "drillrig1.setpoint", "PI-202 low"]  # fmt: skip
    in_local = listed(run("--since", "2025-11-24T07:45", "--until", "2025-11-24T08:00"))  # Berlin time: 06:45Z on
    assert [row[6] for row in in_local] == ["line 2 call 7"]
    assert [row[6] for row in listed(run("--by", "olaf"))] == ["TI-101 high", "drillrig1.setpoint"]
    denied = listed(run("--result", "denied"))
    assert [(row[2], row[6], row[7]) for row in denied] == [("olaf", "drillrig1.setpoint", "DENIED")]
    assert [row[6] for row in listed(run("--action", "write_setpoint", "--result", "failed"))] == ["press3.setpoint"]
    assert [row[6] for row in listed(run("--search", "PUMP 2"))] == ["PI-202 low"]
    newest = run("--limit", "2")
    assert [row[5] for row in listed(newest)] == ["login", "login"]  # the newest two: sue's logins to list
    assert "the newest 2 records; --limit N shows more" in newest.stderr
    recent = listed(run("--since", "-1h"))  # a value with a dash: only what the seeding and the logins wrote now
    assert {row[5] for row in recent} == {"create_first_admin", "manage_users", "login"}


def test_list_refuses_bad_filters_in_one_line(db):
    url, _ = db
    assert "cannot read the time 'yesterday'" in one_line_error(hmi("audit", "list", "--since", "yesterday", "--db", url))
    assert "unknown action 'fly'" in one_line_error(hmi("audit", "list", "--action", "fly", "--db", url))
    assert "unknown result 'maybe'; results are: ok, denied" in one_line_error(hmi("audit", "list", "--result", "maybe", "--db", url))
    assert "is not after --since" in one_line_error(hmi("audit", "list", "--since", "-1h", "--until", "-2h", "--db", url))
    assert "say who acts" in one_line_error(hmi("audit", "list", "--db", url))


@pytest.mark.parametrize(("who", "role"), [("olaf", "operator"), ("vic", "viewer")])
def test_operators_and_viewers_may_not_view_and_the_denial_is_on_record(db, tmp_path, who, role):
    url, engine = db
    err = one_line_error(hmi("audit", "list", "--user", who, "--db", url, stdin=PW + "\n"))
    assert f"{who} ({role}) may not view audit" in err and "admins and shift supervisors" in err
    out = tmp_path / "taken.xlsx"
    err = one_line_error(hmi("audit", "export", str(out), "--user", who, "--db", url, stdin=PW + "\n"))
    assert "may not view audit" in err
    assert not out.exists()
    denied = audit.query(engine, AuditQuery(user=who, action="view_audit", newest_first=False))
    assert [(r.entry.role, r.entry.result) for r in denied] == [(role, "denied")] * 2
    assert audit.verify(engine).intact


# --- export ----------------------------------------------------------------------------------------


def test_export_csv_and_xlsx_with_filters_read_back(db, tmp_path):
    from openpyxl import load_workbook

    url, engine = db
    expected = audit.query(engine, AuditQuery(action="write_setpoint", newest_first=False))
    assert len(expected) == 3
    out_csv = tmp_path / "setpoints.csv"
    r = hmi("audit", "export", str(out_csv), "--action", "write_setpoint", "--user", "anna", "--db", url, stdin=PW + "\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"exported 3 records to {out_csv}"
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [(int(row["seq"]), row["target"], row["result"], row["hash"]) for row in rows] == [
        (rec.seq, rec.entry.target, rec.entry.result, rec.hash) for rec in expected
    ]
    assert rows[1]["time (UTC)"] == "2025-11-24T06:20:00.000000Z"
    assert rows[1]["time (local)"] == "2025-11-24T07:20:00.000+01:00"

    out_xlsx = tmp_path / "sue.xlsx"
    r = hmi("audit", "export", str(out_xlsx), "--by", "sue", "--since", "2025-11-24T06:00Z", "--until",
            "2025-11-24T07:00Z", "--user", "sue", "--db", url, stdin=PW + "\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    ws = load_workbook(out_xlsx).active
    values = list(ws.iter_rows(min_row=2, values_only=True))
    assert [(v[3], v[7]) for v in values] == [("sue", "PI-202 low"), ("sue", "line 2 call 7")]
    assert values[0][1] == datetime(2025, 11, 24, 6, 30)  # UTC, as the header says
    assert ws["B1"].value == "time (UTC)"

    exports = audit.query(engine, AuditQuery(action="view_audit", newest_first=False))
    assert [(r.entry.user, r.entry.target, r.entry.result) for r in exports] == [
        ("anna", str(out_csv), "requested"), ("anna", str(out_csv), "ok"),
        ("sue", str(out_xlsx), "requested"), ("sue", str(out_xlsx), "ok"),
    ]  # fmt: skip
    assert exports[1].entry.detail == "exported 3 records as csv (action=write_setpoint)"
    assert audit.verify(engine).intact


def test_export_refuses_an_unknown_suffix_before_the_login(db, tmp_path):
    url, engine = db
    before = audit.last_seq(engine)
    err = one_line_error(hmi("audit", "export", str(tmp_path / "trail.pdf"), "--user", "anna", "--db", url, stdin=PW + "\n"))
    assert "name the file .csv or .xlsx" in err
    assert audit.last_seq(engine) == before
    assert list(tmp_path.glob("trail*")) == []


def test_export_to_an_unwritable_folder_says_so_and_leaves_nothing(db, unwritable):  # noqa: F811 - the fixture
    url, engine = db
    target = unwritable / "trail.xlsx"
    err = one_line_error(hmi("audit", "export", str(target), "--user", "anna", "--db", url, stdin=PW + "\n"))
    assert f"cannot write {target}" in err and "not writable" in err
    assert list(unwritable.iterdir()) == []
    failed = audit.query(engine, AuditQuery(action="view_audit", result="failed"))
    assert len(failed) == 1 and failed[0].entry.target == str(target)
