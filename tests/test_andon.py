"""Andon calls and downtime on a real SQLite database: causes idempotent across processes, micro-stops, the
life cycle with permissions and audit, the acknowledge race, escalation on a driven clock with real e-mail,
and the Pareto that sums to the downtime of its range."""

from __future__ import annotations

import threading

import pytest

from hmi.domain.andon import (
    MICRO_STOP, CallState, CallTaken, Category, LineKind, Origin, Step, UnknownCall, UnknownDowntime, UnknownLine,
    UnknownReason,
)  # fmt: skip
from hmi.domain.permissions import PermissionDenied
from hmi.store import andon as store
from hmi.store.audit import AuditQuery, query
from hmi.store.db import make_engine
from hmi.store.locking import write_connection
from hmi.store.schema import andon_calls, downtime
from tests.andon_support import BOB, MIN, OLGA, SAM, T0, VIC, Clock, add_users, andon_config, mail_section, service

US = 1_000_000


@pytest.fixture
def config():
    return andon_config()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def andon(engine, config, clock):
    add_users(engine)
    return service(engine, config, clock)


def rows(engine, table):
    with engine.connect() as conn:
        return conn.execute(table.select()).all()


# --- causes -------------------------------------------------------------------------------------------


def test_a_cause_seen_by_two_processes_raises_one_call_and_one_stop(engine, db_url, config, clock):
    other = service(make_engine(db_url), config, clock, "ws-2")
    mine = service(engine, config, clock)
    a = mine.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam at the capper", T0)
    b = other.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam at the capper", T0 + 200_000)
    assert a.call_id == b.call_id and a.state is CallState.OPEN and a.cause_active and a.raised_by == "system"
    assert a.category is Category.MAINTENANCE and a.detail == "jam at the capper"
    assert len(rows(engine, andon_calls)) == 1
    [stop] = rows(engine, downtime)
    assert (stop.line, stop.start_us, stop.end_us, stop.call_id) == ("sf1", T0, None, a.call_id)
    # another cause on the same line is a call of its own
    c = mine.cause_started("sf1", LineKind.SHOPFLOOR, Origin.OFFLINE, "no heartbeat for 10 s", T0 + US)
    assert c.call_id != a.call_id and c.category is Category.OTHER
    # the end seen twice ends the stop once, and clears the call once
    mine.cause_ended("sf1", Origin.MACHINE, T0 + 5 * MIN)
    other.cause_ended("sf1", Origin.MACHINE, T0 + 5 * MIN + 300_000)
    call = mine.call(a.call_id)
    assert call.cleared and call.state is CallState.OPEN and call.cleared_us == T0 + 5 * MIN
    [stop] = mine.downtime(T0, T0 + 60 * MIN, "sf1")[:1]
    assert stop.end_us == T0 + 5 * MIN and not stop.micro
    assert [s.step for s in mine.history(a.call_id)] == [Step.RAISED, Step.CLEARED]
    other.engine.dispose()


def test_two_threads_starting_one_cause_at_once_raise_one_call(engine, db_url, config, clock):
    services = [service(make_engine(db_url), config, clock, f"ws-{i}") for i in range(4)]
    barrier = threading.Barrier(4)
    ids: list[int] = []

    def start(s):
        barrier.wait()
        ids.append(s.cause_started("compressor1", LineKind.TWIN, Origin.TRIP, "status 0", T0).call_id)

    threads = [threading.Thread(target=start, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(ids) == 4
    assert len(rows(engine, andon_calls)) == 1 and len(rows(engine, downtime)) == 1
    for s in services:
        s.engine.dispose()


def test_a_short_stop_is_a_micro_stop_closed_by_itself_and_counted(andon, engine):
    call = andon.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam", T0)
    andon.cause_ended("sf1", Origin.MACHINE, T0 + 12 * US)  # under micro_stop_s = 30
    after = andon.call(call.call_id)
    assert after.state is CallState.RESOLVED and after.micro and after.reason_code == MICRO_STOP
    assert after.resolved_by == "system" and not after.cause_active
    assert andon.board() == []
    [stop] = andon.downtime(T0 - MIN, T0 + MIN)
    assert stop.micro and stop.reason_code == MICRO_STOP and stop.end_us == T0 + 12 * US
    # counted: it is in the Pareto, under micro-stops
    [bar] = andon.pareto(T0 - MIN, T0 + MIN)
    assert (bar.key, bar.label, bar.seconds, bar.count) == (MICRO_STOP, "Micro-stops", 12.0, 1)
    # and it is never escalated
    andon.clock.advance(60)
    assert andon.escalate() == []


def test_a_cleared_call_stays_until_resolved_with_a_reason(andon, engine):
    call = andon.cause_started("compressor1", LineKind.TWIN, Origin.TRIP, "status 0", T0)
    andon.cause_ended("compressor1", Origin.TRIP, T0 + 2 * MIN)  # longer than a micro-stop
    [on_board] = andon.board()
    assert on_board.call_id == call.call_id and on_board.cleared and on_board.state is CallState.OPEN
    # the cause comes back while the call waits: active again, a new stop of the same call
    andon.cause_started("compressor1", LineKind.TWIN, Origin.TRIP, "status 0 again", T0 + 3 * MIN)
    assert andon.call(call.call_id).cause_active
    andon.cause_ended("compressor1", Origin.TRIP, T0 + 4 * MIN)
    stops = andon.downtime(T0, T0 + 10 * MIN, "compressor1")
    assert [(s.start_us, s.end_us, s.call_id, s.micro) for s in stops] == [
        (T0, T0 + 2 * MIN, call.call_id, False), (T0 + 3 * MIN, T0 + 4 * MIN, call.call_id, False)]
    assert andon.call(call.call_id).state is CallState.OPEN  # a brief recurrence does not close it
    assert [s.step for s in andon.history(call.call_id)] == [Step.RAISED, Step.CLEARED, Step.RECURRED, Step.CLEARED]
    done = andon.resolve(SAM, call.call_id, "planned_maintenance", "valve swapped")
    assert done.state is CallState.RESOLVED and done.reason_code == "planned_maintenance"
    assert done.resolved_by == "sam" and done.resolve_note == "valve swapped"
    assert andon.board() == []
    assert all(s.reason_code == "planned_maintenance" and s.planned
               for s in andon.downtime(T0, T0 + 10 * MIN))  # fmt: skip
    # a new trip after the resolve is a new call
    again = andon.cause_started("compressor1", LineKind.TWIN, Origin.TRIP, "status 0", T0 + 20 * MIN)
    assert again.call_id != call.call_id


# --- users --------------------------------------------------------------------------------------------


def test_raise_acknowledge_resolve_are_audited_with_permissions(andon, engine, clock):
    call = andon.raise_call(OLGA, "sf2", Category.MATERIAL, "out of caps")
    assert (call.origin, call.raised_by, call.line_kind, call.detail) == (Origin.MANUAL, "olga", LineKind.SHOPFLOOR,
                                                                          "out of caps")  # fmt: skip
    assert andon.downtime(T0 - MIN, T0 + MIN) == []  # a manual call opens no stop
    clock.advance(1)
    acked = andon.acknowledge(BOB, call.call_id, "on my way")
    assert (acked.state, acked.acked_by, acked.acked_us, acked.ack_note) == (CallState.ACKNOWLEDGED, "bob", T0 + MIN,
                                                                            "on my way")  # fmt: skip
    with pytest.raises(PermissionDenied, match="bob \\(operator\\) may not resolve andon"):
        andon.resolve(BOB, call.call_id, "mechanical")
    with pytest.raises(PermissionDenied, match="vic \\(viewer\\) may not raise andon"):
        andon.raise_call(VIC, "sf1", Category.SAFETY)
    with pytest.raises(UnknownReason, match="unknown reason code 'lunch'; reason codes are: mechanical, changeover"):
        andon.resolve(SAM, call.call_id, "lunch")
    with pytest.raises(UnknownLine, match="no line 'sf9'; lines are: .*compressor1.*, sf1, sf2"):
        andon.raise_call(OLGA, "sf9", Category.OTHER)
    with pytest.raises(UnknownCall, match="no andon call 999"):
        andon.acknowledge(OLGA, 999)
    andon.resolve(SAM, call.call_id, "changeover")
    audit = [(r.entry.user, r.entry.action, r.entry.target, r.entry.result)
             for r in query(engine, AuditQuery(newest_first=False, limit=100)) if "andon" in r.entry.action]  # fmt: skip
    assert audit == [
        ("olga", "raise_andon", "andon line sf2", "ok"),
        ("bob", "ack_andon", f"andon call {call.call_id}", "ok"),
        ("bob", "resolve_andon", f"andon call {call.call_id}", "denied"),
        ("vic", "raise_andon", "andon line sf1", "denied"),
        ("sam", "resolve_andon", f"andon call {call.call_id}", "refused"),
        ("olga", "raise_andon", "andon line sf9", "refused"),
        ("olga", "ack_andon", "andon call 999", "refused"),
        ("sam", "resolve_andon", f"andon call {call.call_id}", "ok"),
    ]
    steps = andon.history(call.call_id)
    assert [(s.step, s.by_user, s.note) for s in steps] == [
        (Step.RAISED, "olga", "out of caps"), (Step.ACKNOWLEDGED, "bob", "on my way"),
        (Step.RESOLVED, "sam", "changeover")]  # fmt: skip


def test_lines_are_twins_with_a_status_tag_then_shopfloors(andon, engine, config):
    with write_connection(engine) as conn, conn.begin():
        from hmi.store.schema import shopfloors

        conn.execute(shopfloors.insert().values(shopfloor_id="sf7", capacity=100.0, capacity_manual=False,
                                                in_dispatch=True, activity="", heartbeat_seq=0, health="unknown"))  # fmt: skip
    twins = [(t, LineKind.TWIN, c.name) for t, c in config.twins.items() if "status" in c.parameters]
    assert ("compressor1", LineKind.TWIN, "Compressor 1") in twins
    assert [(x.line, x.kind, x.name) for x in andon.lines()] == twins + [
        ("sf1", LineKind.SHOPFLOOR, "sf1"), ("sf2", LineKind.SHOPFLOOR, "sf2"), ("sf7", LineKind.SHOPFLOOR, "sf7")]


def test_two_workstations_acknowledging_one_call_one_wins_the_other_is_told_who(engine, db_url, config, clock):
    add_users(engine)
    call = service(engine, config, clock).cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam", T0)
    clock.advance(2)
    ws = [service(make_engine(db_url), config, clock, f"ws-{i}") for i in range(2)]
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def ack(s, who):
        barrier.wait()
        try:
            results[who.name] = s.acknowledge(who, call.call_id)
        except CallTaken as taken:
            results[who.name] = taken

    threads = [threading.Thread(target=ack, args=(s, w)) for s, w in zip(ws, (OLGA, BOB))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lost = [v for v in results.values() if isinstance(v, CallTaken)]
    won = [v for v in results.values() if not isinstance(v, CallTaken)]
    assert len(lost) == 1 and len(won) == 1
    winner = won[0].acked_by
    assert str(lost[0]) == f"call {call.call_id} was already acknowledged by {winner} at 00:55 UTC"
    results_audit = sorted(r.entry.result for r in query(engine, AuditQuery(action="ack_andon")))
    assert results_audit == ["ok", "refused"]
    # resolving twice: the second is told who resolved
    ws[0].resolve(SAM, call.call_id, "mechanical")
    with pytest.raises(CallTaken, match=f"call {call.call_id} was already resolved by sam at "):
        ws[1].resolve(SAM, call.call_id, "mechanical")
    for s in ws:
        s.engine.dispose()


# --- downtime -----------------------------------------------------------------------------------------


def test_a_reason_entered_afterwards_sets_planned_from_its_class(andon, engine):
    andon.cause_started("sf1", LineKind.SHOPFLOOR, Origin.OFFLINE, "no heartbeat", T0)
    andon.cause_ended("sf1", Origin.OFFLINE, T0 + 10 * MIN)
    [stop] = andon.downtime(T0, T0 + MIN)
    assert stop.reason_code is None and not stop.planned
    v = andon.version()
    after = andon.set_downtime_reason(SAM, stop.downtime_id, "planned_maintenance", "weekly PM")
    assert (after.reason_code, after.planned, after.note, after.entered_by) == ("planned_maintenance", True,
                                                                                "weekly PM", "sam")  # fmt: skip
    assert andon.version() != v
    after = andon.set_downtime_reason(SAM, stop.downtime_id, "mechanical")
    assert not after.planned
    with pytest.raises(UnknownDowntime):
        andon.set_downtime_reason(SAM, 12345, "mechanical")
    with pytest.raises(PermissionDenied):
        andon.set_downtime_reason(OLGA, stop.downtime_id, "mechanical")


def test_version_changes_with_every_change(andon):
    seen = {andon.version()}
    call = andon.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam", T0)
    seen.add(andon.version())
    andon.acknowledge(OLGA, call.call_id)
    seen.add(andon.version())
    andon.cause_ended("sf1", Origin.MACHINE, T0 + 5 * MIN)
    seen.add(andon.version())
    assert len(seen) == 4
    assert andon.version() == andon.version()


def test_the_pareto_sums_to_the_downtime_of_its_range_with_stops_clipped(andon, clock):
    def stop(line, origin, start_min, end_min, reason=None):
        call = andon.cause_started(line, LineKind.SHOPFLOOR, origin, "", T0 + start_min * MIN)
        if end_min is not None:
            andon.cause_ended(line, origin, T0 + end_min * MIN)
        if reason:
            andon.resolve(SAM, call.call_id, reason)

    stop("sf1", Origin.MACHINE, -30, 10, "mechanical")  # 10 min inside the range
    stop("sf2", Origin.MACHINE, 20, 50, "changeover")  # 30 min
    stop("sf1", Origin.MACHINE, 60, 75, "mechanical")  # 15 min
    stop("sf2", Origin.OFFLINE, 100, 140)  # 20 min inside, no reason
    stop("sf1", Origin.OFFLINE, 110, None)  # still lasting at the clock: 10 min inside
    stop("sf2", Origin.MACHINE, 200, 210, "mechanical")  # outside
    clock.now = T0 + 130 * MIN
    start, end = T0, T0 + 120 * MIN
    by_reason = andon.pareto(start, end)
    total = sum(min((s.end_us or clock.now), end) - max(s.start_us, start) for s in andon.downtime(start, end)) / US
    assert total == 85 * 60
    assert [(r.key, r.seconds, r.count) for r in by_reason] == [
        ("(none)", 30 * 60, 2), ("changeover", 30 * 60, 1), ("mechanical", 25 * 60, 2)]
    assert sum(r.seconds for r in by_reason) == total
    assert by_reason[-1].cumulative == pytest.approx(1.0)
    assert [r.label for r in by_reason] == ["no reason given", "Setup / changeover", "Mechanical failure"]
    by_line = andon.pareto(start, end, by="line")
    assert [(r.key, r.seconds) for r in by_line] == [("sf2", 50 * 60), ("sf1", 35 * 60)]
    assert sum(r.share for r in by_line) == pytest.approx(1.0)


# --- escalation ---------------------------------------------------------------------------------------


def test_escalation_at_the_configured_times_once_each_with_mail(engine, db_url, clock, smtp_server):
    add_users(engine)
    config = andon_config(mail_section(smtp_server.host, smtp_server.port))
    a, b = service(engine, config, clock, "ws-1"), service(make_engine(db_url), config, clock, "ws-2")
    call = a.cause_started("sf1", LineKind.SHOPFLOOR, Origin.MACHINE, "jam at the capper", T0)
    clock.advance(4.9)
    assert a.escalate() == [] and b.escalate() == []
    clock.advance(0.2)  # 5.1 min unacknowledged: tier 1, once however many processes tick
    both = a.escalate() + b.escalate()
    assert [(c.call_id, c.tier, t.tier, t.name) for c, t in both] == [(call.call_id, 1, 1, "shift supervisor")]
    assert a.escalate() == [] and b.escalate() == []
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["supervisor@plant.example"]
    assert f"call {call.call_id}" in mail.subject and "tier 1 (shift supervisor)" in mail.subject
    assert "unacknowledged for 5 min" in mail.body and "jam at the capper" in mail.body
    a.acknowledge(OLGA, call.call_id)
    clock.advance(9)  # 14.1 min: acknowledged, not yet tier 2
    assert a.escalate() == []
    clock.advance(1)  # 15.1 min unresolved: tier 2
    threads_won: list = []
    barrier = threading.Barrier(2)

    def tick(s):
        barrier.wait()
        threads_won.extend(s.escalate())

    threads = [threading.Thread(target=tick, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(c.tier, t.tier) for c, t in threads_won] == [(2, 2)]
    got = smtp_server.wait_for(2)
    assert len(got) == 2 and got[1].rcpt_tos == ["manager@plant.example"]
    assert "unresolved for 15 min" in got[1].body and "Acknowledged:" in got[1].body and "olga" in got[1].body
    clock.advance(60)
    assert a.escalate() == [] and b.escalate() == []
    assert len(smtp_server.received) == 2
    steps = [(s.step, s.tier) for s in a.history(call.call_id) if s.step is Step.ESCALATED]
    assert steps == [(Step.ESCALATED, 1), (Step.ESCALATED, 2)]
    audit = [(r.entry.user, r.entry.new_value) for r in query(engine, AuditQuery(action="escalate_andon",
                                                                                 newest_first=False))]  # fmt: skip
    assert audit == [("system", "tier 1: shift supervisor"), ("system", "tier 2: production manager")]
    assert (a.mail_stats().sent + b.mail_stats().sent, a.mail_stats().failed + b.mail_stats().failed) == (2, 0)
    b.engine.dispose()


def test_an_acknowledged_call_skips_tier_1_and_a_mail_failure_is_counted_not_raised(engine, clock, silent_port):
    add_users(engine)
    config = andon_config(mail_section("127.0.0.1", silent_port).replace("timeout_s = 5", "timeout_s = 0.5"))
    a = service(engine, config, clock)
    call = a.cause_started("sf2", LineKind.SHOPFLOOR, Origin.MACHINE, "jam", T0)
    clock.advance(1)
    a.acknowledge(OLGA, call.call_id)
    clock.advance(30)  # tier 1 no longer applies (acknowledged), tier 2 does
    [(escalated, tier)] = a.escalate()
    assert tier.tier == 2 and escalated.tier == 2
    stats = a.mail_stats()
    assert (stats.sent, stats.failed) == (0, 1) and "127.0.0.1" in stats.last_error
