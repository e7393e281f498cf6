"""The audit chain on PostgreSQL: several workstations append at once and the chain stays one chain;
a row changed by hand is named."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import exc, text

from hmi.domain.audit import AuditEntry
from hmi.store import audit
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade

pytestmark = pytest.mark.postgres


def entry(ws: int, i: int) -> AuditEntry:
    return AuditEntry(user=f"op{ws}", role="operator", workstation=f"ws-{ws}", action="ack_alarm",
                      target=f"alarm {i}", result="ok")


def test_concurrent_workstations_build_one_intact_chain(pg_url):
    upgrade(pg_url)
    engines = [make_engine(pg_url) for _ in range(4)]
    errors: list[BaseException] = []

    def station(ws: int) -> None:
        try:
            for i in range(40):
                audit.record(engines[ws], entry(ws, i))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=station, args=(ws,)) for ws in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    report = audit.verify(engines[0])
    assert report.intact and report.records == 160 and report.last_seq == 160
    per_ws = {ws: len(audit.query(engines[0], audit.AuditQuery(user=f"op{ws}"))) for ws in range(4)}
    assert per_ws == {0: 40, 1: 40, 2: 40, 3: 40}

    with engines[0].begin() as conn, pytest.raises(exc.DatabaseError, match="append-only"):
        conn.execute(text("UPDATE audit_log SET target = 'nothing' WHERE seq = 7"))
    with engines[0].begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_log SET target = 'nothing' WHERE seq = 7"))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    problems = audit.verify(engines[0]).problems
    assert [(p.seq, "changed after it was written" in p.message) for p in problems] == [(7, True)]
    for e in engines:
        e.dispose()
