"""A shared acknowledgement between two app instances on one PostgreSQL (issue 5: within 2 s).

Workstation ws-b is `hmi collect` in its own process (it starts first, so it holds the journal); its
status line shows its alarm counts. Workstation ws-a is a Runtime in the test, acknowledging through
the same service call the window makes. Both read one plc_sim, which the test forces out of band. The
shelving is given at ws-b's terminal with `hmi alarm shelve` (the collector itself takes no commands)
and must show in ws-a's engine.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from hmi.config import parse_config
from hmi.domain.alarm_engine import AlarmState
from hmi.runtime import Runtime
from hmi.services.alarm_commands import AlarmCommand
from hmi.services.login import authenticate
from hmi.store import alarm_journal
from hmi.store.alarm_journal import JournalQuery
from hmi.store.audit import AuditQuery
from hmi.store.audit import query as audit_query
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from plc_sim.force import force
from tests.collector_proc import CollectorProcess
from tests.test_alarm_e2e import LIFE, PW, add_users, alarm_counts, alarm_config

pytestmark = pytest.mark.postgres

TAG = LIFE.rsplit(".", 1)[0]
SHARE_WITHIN_S = 2.0  # the figure


async def until(predicate, timeout: float, what: str) -> float:
    """Wait on the loop until predicate() holds; the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def test_an_acknowledgement_and_a_shelving_are_shared_between_two_workstations_on_postgresql(
    tmp_path, plc_sim_factory, pg_url
):
    sim = plc_sim_factory(seed=1, rate=10)
    config_path = tmp_path / "plant.toml"
    config_path.write_text(alarm_config(sim.config_text, {LIFE: (0.5, 0.0, 1.0)}, comm_on_delay_s=5.0))
    upgrade(pg_url)
    engine = make_engine(pg_url)
    add_users(engine)

    b = CollectorProcess(config_path, pg_url, status_interval=0.1)
    with pytest.MonkeyPatch.context() as mp:  # ws-b's environment, not the test's
        mp.setenv("HMI_DATA_DIR", str(tmp_path / "ws-b-data"))
        mp.setenv("HMI_WORKSTATION", "ws-b")
        b.start()
    try:
        b.wait_for(lambda s: s.bad == 0 and s.waiting == 0 and "journal holder" in s.text, 30, "ws-b holding the journal")
        figures = asyncio.run(scenario(config_path, pg_url, sim.url, b, tmp_path))
    finally:
        if b.proc and b.proc.poll() is None:
            b.stop()
    ack_s, shelve_s = figures
    print(f"\nshared through PostgreSQL: ack on ws-a seen on ws-b after {ack_s:.2f} s; "
          f"shelving at ws-b seen on ws-a after {shelve_s:.2f} s")
    assert ack_s < SHARE_WITHIN_S and shelve_s < SHARE_WITHIN_S

    rows = alarm_journal.query(engine, JournalQuery(alarm_id=LIFE))
    shapes = [(r.what, r.from_state, r.to_state, r.user, r.workstation) for r in rows]
    assert shapes[:3] == [
        ("activate", AlarmState.NORMAL, AlarmState.UNACK, "", "ws-b"),  # once: only the holder writes it
        ("ack", AlarmState.UNACK, AlarmState.ACKED, "olga", "ws-a"),
        ("shelve", AlarmState.ACKED, AlarmState.SHELVED, "sam", "ws-b"),
    ]
    # the force released at the end: the return while shelved, if it came before ws-b stopped, once
    assert shapes[3:] in ([], [("return", AlarmState.SHELVED, AlarmState.SHELVED, "", "ws-b")])
    assert rows[1].comment == "seen on ws-a" and rows[2].comment == "valve maintenance"
    audit = [r.entry for r in audit_query(engine, AuditQuery(newest_first=False)) if r.entry.action.endswith("_alarm")]
    assert [(a.action, a.user, a.workstation, a.target, a.result) for a in audit] == [
        ("ack_alarm", "olga", "ws-a", LIFE, "ok"),
        ("shelve_alarm", "sam", "ws-b", LIFE, "ok"),
    ]
    engine.dispose()


async def scenario(config_path, pg_url: str, sim_url: str, b: CollectorProcess, tmp_path) -> tuple[float, float]:
    """Run ws-a, force the alarm, ack on ws-a, shelve at ws-b; the seconds each took to show on the other."""
    loop = asyncio.get_running_loop()
    a = Runtime(parse_config(config_path.read_text()), pg_url, "ws-a")
    await a.start()
    try:
        await until(lambda: a.bus.snapshot().get(TAG) is not None, 20, "ws-a reading the plant")
        assert not a.alarms.holder  # ws-b holds the journal

        def counts(i: int) -> int | None:
            last = b.statuses[-1] if b.statuses else None
            c = alarm_counts(last) if last else None
            return None if c is None else c[i]

        await force(sim_url, TAG, 65.0)
        await until(lambda: a.alarms.engine.status(LIFE).state is AlarmState.UNACK, 10, "the alarm on ws-a")
        await until(lambda: counts(2) == 1, 10, "the alarm on ws-b (P3 1 unacknowledged)")

        # ws-a: olga acknowledges, as the window does (one service call: checked, journaled, applied here)
        olga = await loop.run_in_executor(None, lambda: authenticate(a.db, "olga", PW, workstation="ws-a"))
        entries = await a.alarms.command(olga, AlarmCommand("ack", (LIFE,), "seen on ws-a"))
        assert a.alarms.engine.status(LIFE).state is AlarmState.ACKED
        acked_at = entries[0].ts
        seen = len(b.statuses)
        await until(lambda: any(alarm_counts(s)[2] == 0 for s in b.statuses[seen:]), 10, "the ack on ws-b")
        on_b = next(s for s in b.statuses[seen:] if alarm_counts(s)[2] == 0)
        ack_s = on_b.wall - acked_at  # the collector's own clock when it printed the line

        # ws-b: sam shelves it at that workstation's terminal; ws-a's engine must show it
        env = {**os.environ, "HMI_WORKSTATION": "ws-b", "HMI_SECRET_USER_SAM": PW,
               "HMI_DATA_DIR": str(tmp_path / "cli-data")}  # fmt: skip
        async def shelved_on_a() -> float:
            await until(lambda: a.alarms.engine.status(LIFE).state is AlarmState.SHELVED, 20, "the shelving on ws-a")
            return time.time()

        watch = asyncio.ensure_future(shelved_on_a())  # watching while the command runs
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hmi.cli", "alarm", "shelve", LIFE, "--for", "10m", "--reason", "valve maintenance",
            "--user", "sam", "--config", str(config_path), "--db", pg_url, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert f"{LIFE}: acknowledged -> shelved for 10 min" in out.decode()
        shelve = alarm_journal.query(a.db, JournalQuery(alarm_id=LIFE, what=["shelve"]))[0]
        shelve_s = await watch - shelve.ts
        status = a.alarms.engine.status(LIFE)
        assert status.user == "sam" and status.reason == "valve maintenance"
        assert status.shelved_until == pytest.approx(shelve.until, abs=1e-3)
        await until(lambda: counts(4) == 1, 10, "the shelving on ws-b")
        await force(sim_url, TAG, None)
    finally:
        await a.stop()
    return ack_s, shelve_s
