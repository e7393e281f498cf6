"""Andon on the real PostgreSQL: a cause seen by several workstations at once raises one call and one stop,
and two acknowledging one call at once: one wins, the other is told who."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from hmi.domain.andon import CallTaken, LineKind, Origin
from hmi.store.audit import AuditQuery, query
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.store.schema import andon_calls, downtime
from tests.andon_support import BOB, OLGA, T0, Clock, add_users, andon_config, service

pytestmark = pytest.mark.postgres
ROUNDS = 20


def test_workstations_starting_and_ending_causes_at_once_make_one_call_and_one_stop_each(pg_url):
    upgrade(pg_url)
    config, clock = andon_config(), Clock()
    services = [service(make_engine(pg_url), config, clock, f"ws-{i}") for i in range(3)]
    barrier = threading.Barrier(3)
    ids: list[list[int]] = [[], [], []]

    def work(i: int) -> None:
        for k in range(ROUNDS):
            at = T0 + k * 600_000_000
            barrier.wait()
            ids[i].append(services[i].cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam", at).call_id)
            barrier.wait()
            services[i].cause_ended("sf1", Origin.MACHINE, at + 120_000_000)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ids[0] == ids[1] == ids[2] and len(set(ids[0])) == 1  # the call waits to be resolved: each start recurs
    with services[0].engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(andon_calls)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(downtime)).scalar() == ROUNDS
        assert conn.execute(select(func.count()).select_from(downtime).where(downtime.c.end_us.is_(None))).scalar() == 0
    for s in services:
        s.engine.dispose()


def test_two_workstations_acknowledging_at_once_one_wins(pg_url):
    upgrade(pg_url)
    config, clock = andon_config(), Clock()
    setup = make_engine(pg_url)
    add_users(setup)
    ws = [service(make_engine(pg_url), config, clock, f"ws-{i}") for i in range(2)]
    calls = [ws[0].cause_started(f"sf{1 + k % 2}", LineKind.SHOPFLOOR, Origin(o), "x", T0)
             for k, o in enumerate(("machine", "offline"))]  # fmt: skip
    for call in calls:
        barrier = threading.Barrier(2)
        results: list[object] = []

        def ack(s, who, call=call, barrier=barrier, results=results):  # noqa: ANN001, ANN202
            barrier.wait()
            try:
                results.append(s.acknowledge(who, call.call_id))
            except CallTaken as taken:
                results.append(taken)

        threads = [threading.Thread(target=ack, args=(s, w)) for s, w in zip(ws, (OLGA, BOB))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        [lost] = [r for r in results if isinstance(r, CallTaken)]
        [won] = [r for r in results if not isinstance(r, CallTaken)]
        assert str(lost) == f"call {call.call_id} was already acknowledged by {won.acked_by} at 00:53 UTC"
    assert sorted(r.entry.result for r in query(setup, AuditQuery(action="ack_andon"))) == ["ok", "ok", "refused",
                                                                                            "refused"]  # fmt: skip
    for e in (setup, *(s.engine for s in ws)):
        e.dispose()
