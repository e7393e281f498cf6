"""The audit trail: the pure hash chain, and the append-only table on SQLite with records changed by hand."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import exc, text

from hmi.domain.audit import GENESIS, AuditEntry, Outcome, next_record, verify_chain
from hmi.store import audit
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade


def entry(i: int, **kw) -> AuditEntry:
    base = dict(user="anna", role="engineer", workstation="ws-1", action="write_setpoint",
                target=f"drillrig1.setpoint #{i}", result=Outcome.OK.value, old_value="10", new_value=str(10 + i))
    return AuditEntry(**{**base, **kw})


def chain(n: int) -> list:
    recs, seq, h = [], 0, GENESIS
    for i in range(n):
        r = next_record(seq, h, 1_700_000_000_000_000 + i, entry(i))
        recs.append(r)
        seq, h = r.seq, r.hash
    return recs


def test_an_untouched_chain_is_intact():
    recs = chain(5)
    report = verify_chain(recs, (5, recs[-1].hash))
    assert report.intact and report.records == 5


def test_a_changed_field_names_the_record():
    recs = chain(5)
    recs[2] = dataclasses.replace(recs[2], entry=dataclasses.replace(recs[2].entry, new_value="99"))
    report = verify_chain(recs, (5, recs[-1].hash))
    assert [(p.seq, "changed after it was written" in p.message) for p in report.problems] == [(3, True)]


def test_a_rehashed_change_breaks_the_next_link():
    recs = chain(5)
    e = dataclasses.replace(recs[1].entry, user="mallory")
    from hmi.domain.audit import record_hash

    recs[1] = dataclasses.replace(recs[1], entry=e, hash=record_hash(2, recs[1].ts_us, e, recs[1].prev_hash))
    report = verify_chain(recs, (5, recs[-1].hash))
    assert [p.seq for p in report.problems] == [3]
    assert "record 2 was changed and re-hashed" in report.problems[0].message


def test_deleted_records_in_the_middle_and_at_the_end():
    recs = chain(6)
    report = verify_chain([recs[0], recs[3], recs[4]], (6, recs[-1].hash))
    messages = [p.message for p in report.problems]
    assert messages[0] == "record(s) 2-3 missing before record 4 (deleted)"
    assert messages[-1] == "records 6-6 missing at the end (deleted)"


def test_long_texts_are_clipped_not_refused():
    r = next_record(0, GENESIS, 1, entry(1, detail="x" * 10_000))
    assert len(r.entry.detail) == 2000


# --- the table ----------------------------------------------------------------------------------


def test_records_are_stored_in_a_chain_and_queried(engine):
    for i in range(3):
        audit.record(engine, entry(i))
    audit.record(engine, entry(9, user="olaf", role="operator", result="denied", detail="olaf (operator) may not write setpoint"))
    rows = audit.query(engine)
    assert [r.seq for r in rows] == [4, 3, 2, 1]
    assert rows[0].entry.result == "denied" and rows[1].prev_hash == rows[2].hash
    assert [r.seq for r in audit.query(engine, audit.AuditQuery(user="olaf"))] == [4]
    assert [r.seq for r in audit.query(engine, audit.AuditQuery(text="RIG1.SETPOINT #1"))] == [2]
    assert [r.seq for r in audit.query(engine, audit.AuditQuery(result="ok", newest_first=False))] == [1, 2, 3]
    assert audit.verify(engine).intact and audit.last_seq(engine) == 4


def test_the_table_refuses_update_and_delete(engine):
    audit.record(engine, entry(1))
    with engine.begin() as conn, pytest.raises(exc.DatabaseError, match="append-only"):
        conn.execute(text("UPDATE audit_log SET new_value = '0'"))
    with engine.begin() as conn, pytest.raises(exc.DatabaseError, match="append-only"):
        conn.execute(text("DELETE FROM audit_log"))


def tamper(engine, sql: str) -> None:
    """What someone with the database file does: drop the guard, change a row, put the guard back."""
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text(sql))


def test_verify_names_a_row_changed_by_hand_in_sql(engine):
    for i in range(5):
        audit.record(engine, entry(i))
    tamper(engine, "UPDATE audit_log SET new_value = '12.5' WHERE seq = 3")
    report = audit.verify(engine)
    assert [p.seq for p in report.problems] == [3]
    assert report.records == 5


def test_verify_finds_deleted_rows(engine):
    for i in range(5):
        audit.record(engine, entry(i))
    tamper(engine, "DELETE FROM audit_log WHERE seq IN (2, 5)")
    msgs = [p.message for p in audit.verify(engine).problems]
    assert msgs == ["record(s) 2 missing before record 3 (deleted)", "records 5-5 missing at the end (deleted)"]


def test_an_unwritable_trail_raises_audit_unavailable(tmp_path):
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    upgrade(url)
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP TABLE audit_log"))
    with pytest.raises(audit.AuditUnavailable, match="cannot be written: no such table: audit_log"):
        audit.record(eng, entry(1))
    eng.dispose()
