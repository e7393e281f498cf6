"""The alarm center: journal holder, commands journaled with their audit record, shared between
workstations through the journal, and restored at start-up (SQLite here; PostgreSQL in the shared test)."""

from __future__ import annotations

import asyncio
import time

import pytest

from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.alarm_engine import AlarmError, AlarmState
from hmi.domain.permissions import PermissionDenied
from hmi.domain.session import SessionUser
from hmi.domain.tags import Quality, TagValue
from hmi.services.alarm_center import AlarmCenter
from hmi.services.alarm_commands import AlarmCommand, parse_duration, snapshot_from_journal
from hmi.store import alarm_journal
from hmi.store.audit import AuditQuery, query
from hmi.store.errors import DatabaseUnavailable

DEFS = [
    AlarmDefinition("reactor.temp.hi", "reactor.temp", AlarmKind.HI, 80.0, 3, deadband=1.0),
    AlarmDefinition("reactor.temp.hihi", "reactor.temp", AlarmKind.HIHI, 90.0, 1, deadband=1.0),
]


def tv(value: float, ts: float | None = None) -> TagValue:
    ts = time.time() if ts is None else ts
    return TagValue("reactor.temp", value, Quality.GOOD, ts, ts)


def give(center: AlarmCenter, command: AlarmCommand, name: str = "olga", role: str = "operator"):
    """``center.command`` as user ``name`` outside a running loop: the journal entries written."""
    return asyncio.run(center.command(SessionUser(name, role), command))


async def until(predicate, timeout: float = 3.0) -> float:
    """Wait until predicate() is true; the seconds it took (fails the test after timeout)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def state(center: AlarmCenter, alarm_id: str) -> AlarmState:
    return center.engine.status(alarm_id).state


def test_holder_journals_activation_and_return_once(engine):
    async def main():
        a = AlarmCenter(DEFS, engine, "ws-a", sync_every_s=0.05)
        b = AlarmCenter(DEFS, engine, "ws-b", sync_every_s=0.05)
        await a.start()
        await b.start()
        assert a.holder and not b.holder
        for c in (a, b):
            c.consume([tv(85.0)])
        await until(lambda: a.stats().written >= 1)
        for c in (a, b):
            c.consume([tv(70.0)])
        await until(lambda: a.stats().written >= 2)
        await a.stop()
        await b.stop()

    asyncio.run(main())
    rows = alarm_journal.query(engine)
    assert [(r.alarm_id, r.what, r.to_state, r.workstation) for r in rows] == [
        ("reactor.temp.hi", "activate", AlarmState.UNACK, "ws-a"),
        ("reactor.temp.hi", "return", AlarmState.RTN_UNACK, "ws-a"),
    ]
    assert rows[0].value == 85.0 and rows[0].priority == 3 and rows[0].twin == "reactor"


def test_two_processes_under_one_workstation_name_hold_the_journal_once(engine):
    """The collector and a window on one PC run under one name: one of them holds the lease, each event is
    journaled once, under the workstation's name (the lease names the process)."""

    async def main():
        a = AlarmCenter(DEFS, engine, "plant-server", sync_every_s=0.05)
        b = AlarmCenter(DEFS, engine, "plant-server", sync_every_s=0.05)
        await a.start()
        await b.start()
        assert (a.holder, b.holder) == (True, False)
        for c in (a, b):
            c.consume([tv(85.0)])
        await until(lambda: a.stats().written >= 1)
        await asyncio.sleep(0.3)  # a few rounds in which b could write it too
        assert (a.holder, b.holder, b.stats().written) == (True, False, 0)
        holder = alarm_journal.lease_holder(engine)
        await b.stop()
        await a.stop()
        return holder

    holder = asyncio.run(main())
    rows = alarm_journal.query(engine)
    assert [(r.alarm_id, r.what, r.workstation) for r in rows] == [("reactor.temp.hi", "activate", "plant-server")]
    assert holder is not None and holder[0].startswith("plant-server (pid ")


def test_a_lease_held_in_a_workstation_s_name_by_an_older_version_is_waited_out(engine):
    """A 0004 database whose lease an older version holds in the bare workstation name: a process under
    that name is not taken for its holder; it follows until the lease lapses, then takes it over."""
    assert alarm_journal.hold_lease(engine, "plant-server", 1.0)

    async def main():
        c = AlarmCenter(DEFS, engine, "plant-server", sync_every_s=0.05, lease_ttl_s=1.0)
        await c.start()
        first = c.holder
        c.consume([tv(85.0)])
        await until(lambda: c.holder, timeout=5.0)
        await until(lambda: c.stats().written == 1)
        await c.stop()
        return first

    assert asyncio.run(main()) is False
    assert [(r.what, r.workstation) for r in alarm_journal.query(engine)] == [("activate", "plant-server")]


def test_a_follower_that_takes_over_at_its_stop_writes_only_what_the_journal_lacks(engine):
    """The holder stops (writes, gives the lease up) just before the follower: the follower's queue holds the
    same event, which it must not write a second time when it takes the lease to flush."""

    async def main():
        a = AlarmCenter(DEFS, engine, "plant-server", sync_every_s=60)
        b = AlarmCenter(DEFS, engine, "plant-server", sync_every_s=60)
        await a.start()
        await b.start()
        for c in (a, b):
            c.consume([tv(85.0)])
        b.consume([tv(95.0, time.time() + 5)])  # seen by b alone (a has stopped): written by b
        await a.stop()
        await b.stop()

    asyncio.run(main())
    rows = [(r.alarm_id, r.what) for r in alarm_journal.query(engine)]
    assert rows == [("reactor.temp.hi", "activate"), ("reactor.temp.hihi", "activate")]


def test_an_acknowledgement_on_one_workstation_shows_on_the_other(engine):
    async def main():
        a = AlarmCenter(DEFS, engine, "ws-a", sync_every_s=0.1)
        b = AlarmCenter(DEFS, engine, "ws-b", sync_every_s=0.1)
        await a.start()
        await b.start()
        for c in (a, b):
            c.consume([tv(95.0)])
        assert state(b, "reactor.temp.hihi") is AlarmState.UNACK
        await a.command(SessionUser("olga", "operator"), AlarmCommand("ack", ("reactor.temp.hihi",), "seen, cooling"))
        assert state(a, "reactor.temp.hihi") is AlarmState.ACKED  # applied here by the one call
        took = await until(lambda: state(b, "reactor.temp.hihi") is AlarmState.ACKED)
        await b.command(SessionUser("sam", "shift_supervisor"),
                        AlarmCommand("shelve", ("reactor.temp.hi",), "sensor check", 600))  # fmt: skip
        assert state(b, "reactor.temp.hi") is AlarmState.SHELVED
        await until(lambda: state(a, "reactor.temp.hi") is AlarmState.SHELVED)
        await a.stop()
        await b.stop()
        return took

    took = asyncio.run(main())
    assert took < 2.0
    acks = alarm_journal.query(engine, alarm_journal.JournalQuery(what=["ack"]))
    assert [(r.user, r.comment, r.workstation, r.from_state, r.to_state) for r in acks] == [
        ("olga", "seen, cooling", "ws-a", AlarmState.UNACK, AlarmState.ACKED)
    ]
    audit = query(engine, AuditQuery(action="ack_alarm"))
    assert [(r.user, r.target, r.result, r.old_value, r.new_value) for r in (x.entry for x in audit)] == [
        ("olga", "reactor.temp.hihi", "ok", "unack", "acked")
    ]
    shelve = alarm_journal.query(engine, alarm_journal.JournalQuery(what=["shelve"]))[0]
    assert shelve.user == "sam" and shelve.comment == "sensor check" and shelve.until == pytest.approx(shelve.ts + 600)


def test_a_command_the_state_does_not_allow_is_refused_and_nothing_is_journaled(engine):
    center = AlarmCenter(DEFS, engine, "ws-a")  # not started: the activation below stays queued
    with pytest.raises(AlarmError, match="not unacknowledged"):
        give(center, AlarmCommand("ack", ("reactor.temp.hi",)))
    with pytest.raises(AlarmError, match="no alarm 'nope'"):
        give(center, AlarmCommand("ack", ("nope",)))
    with pytest.raises(AlarmError, match="a reason is required"):
        give(center, AlarmCommand("shelve", ("reactor.temp.hi",), "", 60), role="engineer")
    center.consume([tv(85.0)])
    with pytest.raises(AlarmError, match="maximum is 28800 s"):
        give(center, AlarmCommand("shelve", ("reactor.temp.hi",), "why", 9 * 3600), role="engineer")
    with pytest.raises(PermissionDenied):
        give(center, AlarmCommand("shelve", ("reactor.temp.hi",), "why", 60), role="operator")
    assert state(center, "reactor.temp.hi") is AlarmState.UNACK
    assert alarm_journal.query(engine) == []
    results = [(r.entry.action, r.entry.result) for r in query(engine, AuditQuery(newest_first=False))]
    assert results == [("ack_alarm", "refused"), ("ack_alarm", "refused"), ("shelve_alarm", "refused"),
                       ("shelve_alarm", "refused"), ("shelve_alarm", "denied")]  # fmt: skip


def test_ack_all_or_none(engine):
    center = AlarmCenter(DEFS, engine, "ws-a")
    center.consume([tv(95.0)])
    with pytest.raises(AlarmError):
        give(center, AlarmCommand("ack", ("reactor.temp.hihi", "reactor.temp.hi", "nope")))
    assert state(center, "reactor.temp.hihi") is AlarmState.UNACK
    entries = give(center, AlarmCommand("ack", ("reactor.temp.hihi", "reactor.temp.hi")))
    assert {state(center, i) for i in ("reactor.temp.hihi", "reactor.temp.hi")} == {AlarmState.ACKED}
    assert [(e.alarm_id, e.user, e.workstation, e.entry_id > 0) for e in entries] == [
        ("reactor.temp.hihi", "olga", "ws-a", True), ("reactor.temp.hi", "olga", "ws-a", True)]
    audit = [r.entry for r in query(engine, AuditQuery(action="ack_alarm", newest_first=False))]
    assert [(a.user, a.workstation, a.result, a.target) for a in audit] == [
        ("olga", "ws-a", "refused", "reactor.temp.hihi, reactor.temp.hi, nope"),
        ("olga", "ws-a", "ok", "reactor.temp.hihi, reactor.temp.hi"),
    ]


def test_the_active_list_is_built_once_per_change_and_new_after_one():
    center = AlarmCenter(DEFS, None, "ws-a")
    assert center.active() == ()
    center.consume([tv(85.0)])
    first = center.active()
    assert [s.alarm_id for s in first] == ["reactor.temp.hi"]
    center.consume([tv(86.0)])  # no alarm changed: the alarm pane and the banner share one list
    assert center.active() is first
    center.consume([tv(95.0)])
    assert [s.alarm_id for s in center.active()] == ["reactor.temp.hihi", "reactor.temp.hi"]
    center.engine.ack("reactor.temp.hi", "olga")
    center.version += 1  # as a change through the center does
    assert [s.state for s in center.active()] == [AlarmState.UNACK, AlarmState.ACKED]


def test_a_command_without_a_database_is_refused_and_not_applied():
    center = AlarmCenter(DEFS, None, "ws-a")
    center.consume([tv(95.0)])
    with pytest.raises(DatabaseUnavailable, match="no database"):
        give(center, AlarmCommand("ack", ("reactor.temp.hihi",)))
    assert state(center, "reactor.temp.hihi") is AlarmState.UNACK


def test_start_up_restores_shelving_service_and_latched_alarms(engine):
    async def first():
        a = AlarmCenter(DEFS, engine, "ws-a", sync_every_s=0.05)
        await a.start()
        a.consume([tv(95.0)])
        a.consume([tv(70.0)])  # both return: RTN_UNACK, latched
        await a.command(SessionUser("olga", "operator"), AlarmCommand("ack", ("reactor.temp.hi",)))
        shelve = AlarmCommand("shelve", ("reactor.temp.hi",), "calibration", 3600)
        await a.command(SessionUser("eric", "engineer"), shelve)
        await a.stop()

    async def second():
        b = AlarmCenter(DEFS, engine, "ws-b", sync_every_s=0.05)
        await b.start()
        try:
            return (state(b, "reactor.temp.hi"), state(b, "reactor.temp.hihi"), b.engine.status("reactor.temp.hi"),
                    b.engine.status("reactor.temp.hihi"))  # fmt: skip
        finally:
            await b.stop()

    asyncio.run(first())
    hi, hihi, status, latched = asyncio.run(second())
    assert hi is AlarmState.SHELVED and status.reason == "calibration"
    assert status.shelved_until == pytest.approx(time.time() + 3600, abs=5)
    assert hihi is AlarmState.RTN_UNACK
    # Since when it is latched, as the banner shows it: the journal's time of the return (was 1970-01-01).
    assert latched.since == pytest.approx(time.time(), abs=30) and latched.value == 70.0


def test_the_journal_waits_for_a_database_that_is_away(tmp_path, engine, db_url):
    import os

    async def main():
        a = AlarmCenter(DEFS, engine, "ws-a", sync_every_s=0.05)
        await a.start()
        path = db_url.removeprefix("sqlite:///")
        os.rename(path, path + ".away")
        engine.dispose()
        a.consume([tv(85.0)])
        await until(lambda: not a.stats().db_ok)
        assert a.stats().queued == 1 and state(a, "reactor.temp.hi") is AlarmState.UNACK
        os.rename(path + ".away", path)
        engine.dispose()  # drop the pooled connection to the empty file SQLite created meanwhile
        await until(lambda: a.stats().written == 1)
        await a.stop()

    asyncio.run(main())
    assert [r.what for r in alarm_journal.query(engine)] == ["activate"]


def test_cli_snapshot_and_durations(engine):
    center = AlarmCenter(DEFS, engine, "ws-a")
    asyncio.run(center.start())
    center.consume([tv(95.0)])
    asyncio.run(center.stop())
    snap = snapshot_from_journal(alarm_journal.latest_states(engine))
    assert snap["reactor.temp.hihi"].state is AlarmState.UNACK and snap["reactor.temp.hihi"].active
    cli = AlarmCenter.for_commands(DEFS, engine, "ws-cli", max_shelve_s=3600)  # no engine runs: the journal judges
    entries = give(cli, AlarmCommand("ack", ("reactor.temp.hihi",)))
    assert [(e.from_state, e.to_state, e.workstation, e.entry_id > 0) for e in entries] == [
        (AlarmState.UNACK, AlarmState.ACKED, "ws-cli", True)]
    with pytest.raises(AlarmError, match="not unacknowledged"):  # the journal now says acknowledged
        give(cli, AlarmCommand("ack", ("reactor.temp.hihi",)))
    assert [parse_duration(t) for t in ("90", "90s", "30m", "2h", "1h30m", "45 min")] == [90, 90, 1800, 7200, 5400, 2700]
    with pytest.raises(AlarmError, match="not a duration"):
        parse_duration("soon")


def test_a_holder_that_dies_loses_no_event(engine):
    """The holder stops without a word (killed); the follower takes the lease over when it lapses and
    writes the events of the gap, once, next to what the holder had written."""

    async def main():
        a = AlarmCenter(DEFS, engine, "ws-a", sync_every_s=0.05, lease_ttl_s=1.0)
        b = AlarmCenter(DEFS, engine, "ws-b", sync_every_s=0.05, lease_ttl_s=1.0)
        await a.start()
        await b.start()
        for c in (a, b):
            c.consume([tv(85.0)])
        await until(lambda: a.stats().written == 1)
        a._task.cancel()  # killed: no flush, no release of the lease
        await asyncio.sleep(0.3)
        b.consume([tv(95.0)])  # high-high while nobody holds the journal
        await until(lambda: b.holder, timeout=5.0)
        await until(lambda: b.stats().written >= 1)
        await b.stop()

    asyncio.run(main())
    rows = [(r.alarm_id, r.what, r.workstation) for r in alarm_journal.query(engine)]
    assert rows == [("reactor.temp.hi", "activate", "ws-a"), ("reactor.temp.hihi", "activate", "ws-b")]


@pytest.mark.parametrize("names", [("ws-a", "ws-b"), ("plant-server", "plant-server")], ids=["two", "one-name"])
def test_the_journal_holder_mails_a_new_top_priority_alarm(engine, smtp_server, names):
    """Two workstations (or two processes under one workstation name) on one journal, each with a mailer:
    the P1 activation is mailed once, by the holder."""
    from hmi.services.alarm_mail import AlarmMailer

    config = smtp_server.mail_config(tls="none", username=None, to=["room@plant.test"], digest_every_s=0)
    mailers = [AlarmMailer(config, lambda: None, poll_s=0.01) for _ in range(2)]

    async def main():
        centers = [AlarmCenter(DEFS, engine, ws, sync_every_s=0.05) for ws in names]
        for center, mailer in zip(centers, mailers):
            center.on_journaled(mailer.notify)
            mailer.start()
            await center.start()
        for center in centers:
            center.consume([tv(95.0)])
        await until(lambda: centers[0].stats().written == 2)
        await asyncio.sleep(0.3)
        for center in centers:
            await center.stop()

    asyncio.run(main())
    for mailer in mailers:
        mailer.stop(5.0)
    received = smtp_server.wait_for(1)
    time.sleep(0.3)
    assert len(smtp_server.received) == 1
    assert received[0].rcpt_tos == ["room@plant.test"] and "[HMI P1]" in received[0].subject
    assert "95" in received[0].body
