"""Alarms end to end: plc_sim forced out of its band and back, `hmi collect` evaluating the alarms into a
SQLite journal, `hmi alarm ...` commands given as users, and the journal, audit and history rows checked.

One simulator and one collector serve the whole module; each test drives its own tags (so the tests do
not see each other's alarms) and leaves its alarms normal. The communication-loss test kills the
simulator and starts a new one on the same port, so it runs last. Delays are shortened through the
test config ([alarms.alarms."<id>"]); every other alarm of the plant is switched off so the counts in
the collector's status line are exact. The persistent mark (5 minutes) runs on a simulated clock.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from hmi.cli import main
from hmi.config import parse_config
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.plant import TagKind
from hmi.domain.session import SessionUser
from hmi.domain.tags import Quality, TagValue
from hmi.resources import resource_text
from hmi.services import login, user_admin
from hmi.services.alarm_center import AlarmCenter
from hmi.services.commands import CommandService
from hmi.sim_process import SimProcess
from hmi.store import alarm_journal
from hmi.store.alarm_journal import JournalEntry, JournalQuery
from hmi.store.audit import AuditQuery
from hmi.store.audit import query as audit_query
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from plc_sim.force import ForceClient, force_sync
from tests.collector_proc import CollectorProcess, Status
from tests.fixtures_plc import plc_sim_args

PW = "Control room 42"
USERS = (("olga", "operator"), ("sam", "shift_supervisor"))
N, U, A, R = AlarmState.NORMAL, AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK

LIFE = "drillrig1.pressure.hi"  # the whole life cycle, latching
SPIKE = "wellhead1.pressure.hi"  # an on-delay swallowing a short spike
BAND = "pipeline1.pressure.hi"  # a deadband stopping chatter ...
CHATTER = "refinery1.pressure.hi"  # ... and the same values on a tag without one, as the control
SHELF = "turbine1.pressure.hi"  # shelving that ends by itself
HELD = "drillrig1.torque.hi"  # held through a communication loss
COMM = "plc1.comm_loss"

# (on_delay_s, off_delay_s, deadband) of the alarms under test; the limits are the band's top (60 bar,
# 150 Nm for the torque).
SETTINGS = {
    LIFE: (1.5, 0.5, 1.0),
    SPIKE: (2.0, 0.0, 1.0),
    BAND: (0.3, 0.0, 5.0),
    CHATTER: (0.3, 0.0, 0.0),
    SHELF: (0.5, 0.0, 1.0),
    HELD: (0.5, 0.5, 2.0),
}
COMM_ON_DELAY_S = 1.5


def alarm_config(sim_text: str, settings: dict[str, tuple[float, float, float]], comm_on_delay_s: float,
                 sampling_ms: int = 100) -> str:
    """The simulator's config with only the HI alarms of ``settings`` (and communication loss) switched on.

    The simulator's own [alarms...] tables are dropped; every other analog tag's alarms are disabled,
    anomaly detection is off, and the tags are sampled every ``sampling_ms`` so a forced value reaches
    the HMI at once.
    """
    kept: list[str] = []
    skipping = False
    for line in sim_text.splitlines():
        if line.startswith("["):
            skipping = line.startswith("[alarms")
        if not skipping:
            kept.append(line)
    body = "\n".join(kept).replace("sampling_ms = 1000", f"sampling_ms = {sampling_ms}")
    alarmed = {alarm_id.rsplit(".", 1)[0] for alarm_id in settings}
    analog = [t.tag_id for t in parse_config(sim_text).plant().tags if t.kind is TagKind.ANALOG]
    block = ["[alarms]", "max_shelve_s = 3600.0", "", "[alarms.anomaly]", "enabled = false", ""]
    for tag in analog:
        if tag not in alarmed:
            block += [f'[alarms.tags."{tag}"]', "enabled = false", ""]
        else:
            block += [f'[alarms.alarms."{tag}.lo"]', "enabled = false", ""]
    for alarm_id, (on, off, deadband) in settings.items():
        block += [f'[alarms.alarms."{alarm_id}"]', f"on_delay_s = {on}", f"off_delay_s = {off}",
                  f"deadband = {deadband}", ""]  # fmt: skip
    block += ['[alarms.alarms."plc1.comm_loss"]', f"on_delay_s = {comm_on_delay_s}", "off_delay_s = 0.0", ""]
    return body + "\n\n" + "\n".join(block)


def add_users(engine: Engine) -> None:
    """anna (admin), olga (operator), sam (shift supervisor), all with PW."""
    login.create_first_admin(engine, "anna", PW, workstation="ws-setup")
    admin = CommandService(engine, lambda: SessionUser("anna", "admin"), "ws-setup")
    for name, role in USERS:
        user_admin.add_user(admin, name, role, PW)


ALARMS = re.compile(r"alarms unacked P1 (\d+) P2 (\d+) P3 (\d+) P4 (\d+) shelved (\d+) \| journal (\w+)")


def alarm_counts(status: Status) -> tuple[int, int, int, int, int] | None:
    """(P1, P2, P3, P4 unacknowledged, shelved) from a collector's status line, None if it has none."""
    m = ALARMS.search(status.text)
    return None if m is None else tuple(int(g) for g in m.groups()[:5])  # type: ignore[return-value]


def wait(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll until predicate() is truthy; its value (fails the test after timeout naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def journal(engine: Engine, alarm_id: str) -> list[JournalEntry]:
    return alarm_journal.query(engine, JournalQuery(alarm_id=alarm_id))


def wait_journal(engine: Engine, alarm_id: str, predicate: Callable[[list[JournalEntry]], bool], what: str,
                 timeout: float = 20.0) -> list[JournalEntry]:
    """The alarm's journal once predicate(entries) holds."""
    return wait(lambda: (lambda rows: rows if predicate(rows) else None)(journal(engine, alarm_id)),  # type: ignore[return-value]
                timeout, f"{alarm_id}: {what}")  # fmt: skip


def history(engine: Engine, tag: str) -> list[tuple[float, float, int]]:
    """The stored samples of a tag: (source time s, value, quality), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT s.ts_us, s.value, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id "
                 "WHERE t.name = :n ORDER BY s.ts_us"), {"n": tag}
        ).all()  # fmt: skip
    return [(ts / 1e6, value, quality) for ts, value, quality in rows]


def shape(entries: list[JournalEntry]) -> list[tuple[str, AlarmState, AlarmState, str, str]]:
    return [(e.what, e.from_state, e.to_state, e.user, e.workstation) for e in entries]


@dataclass
class Plant:
    sim: SimProcess
    config: Path
    db_url: str
    engine: Engine
    collector: CollectorProcess

    def hmi(self, capsys, *args: str) -> tuple[int, str, str]:
        """`hmi alarm VERB ARGS --config ... --db ...` in-process as workstation ws-cli: (exit code, out, err)."""
        capsys.readouterr()
        code = main(["alarm", args[0], "--config", str(self.config), "--db", self.db_url, *args[1:]])
        out, err = capsys.readouterr()
        return code, out, err

    def status(self, predicate: Callable[[tuple[int, int, int, int, int]], bool], what: str,
               timeout: float = 10.0) -> Status:
        """The next status line of the collector whose alarm counts satisfy predicate."""
        return self.collector.wait_for(lambda s: (c := alarm_counts(s)) is not None and predicate(c), timeout, what)

    def samples_over(self, tag: str, limit: float, after: float = 0.0, timeout: float = 10.0) -> float:
        """The source time of the first stored sample of ``tag`` above ``limit`` after ``after``."""
        def first() -> float | None:
            return next((ts for ts, v, q in history(self.engine, tag) if ts > after and v > limit and q == 0), None)
        return wait(first, timeout, f"a stored sample of {tag} above {limit}")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def plant(tmp_path_factory) -> Iterator[Plant]:
    """plc_sim (seed 1, 10 updates/s) and `hmi collect` (workstation ws-collect) on a fresh SQLite file."""
    root = tmp_path_factory.mktemp("alarm-e2e")
    sim = SimProcess(options=plc_sim_args({"seed": 1, "rate": 10}))
    sim.start()
    config = root / "plant.toml"
    config.write_text(alarm_config(sim.config_text, SETTINGS, COMM_ON_DELAY_S))
    db_url = f"sqlite:///{root / 'hmi.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    add_users(engine)
    collector = CollectorProcess(config, db_url, status_interval=0.1)
    with pytest.MonkeyPatch.context() as mp:  # the collector's environment, not the test's
        mp.setenv("HMI_DATA_DIR", str(root / "collector-data"))
        mp.setenv("HMI_WORKSTATION", "ws-collect")
        collector.start()
    try:
        collector.wait_for(lambda s: s.bad == 0 and s.waiting == 0 and "journal holder" in s.text, 30,
                           "every tag good and the journal held")  # fmt: skip
        yield Plant(sim, config, db_url, engine, collector)
    finally:
        if collector.proc and collector.proc.poll() is None:
            collector.stop()
        sim.stop()
        engine.dispose()


@pytest.fixture
def cli(monkeypatch):
    """`hmi alarm` in-process acts as workstation ws-cli; the users' passwords come from the environment."""
    monkeypatch.setenv("HMI_WORKSTATION", "ws-cli")
    for name, _ in USERS:
        monkeypatch.setenv(f"HMI_SECRET_USER_{name.upper()}", PW)


def test_out_of_band_and_back_every_transition_with_latching(plant, cli, capsys):
    tag = LIFE.rsplit(".", 1)[0]
    on_delay = SETTINGS[LIFE][0]
    assert journal(plant.engine, LIFE) == []
    assert plant.status(lambda c: c[:4] == (0, 0, 0, 0), "no unacknowledged alarm at the start")

    # out of band: activation once the value has stayed above 60 bar for the on-delay
    forced = time.time()
    force_sync(plant.sim.url, tag, 65.0)
    first = wait_journal(plant.engine, LIFE, lambda r: len(r) >= 1, "activation")[0]
    over = plant.samples_over(tag, 60.0, after=forced - 0.2)
    assert (first.what, first.from_state, first.to_state, first.value) == ("activate", N, U, 65.0)
    assert first.ts == pytest.approx(over + on_delay, abs=0.002)  # the on-delay, on the samples' own clock
    assert (first.workstation, first.priority, first.twin) == ("ws-collect", 3, "drillrig1")
    plant.status(lambda c: c[2] == 1, "P3 1 unacknowledged in the collector")

    # an operator acknowledges it from the command line; the collector applies it
    code, out, err = plant.hmi(capsys, "ack", LIFE, "--comment", "pressure seen", "--user", "olga")
    assert code == 0, err
    assert f"{LIFE}: UNACKNOWLEDGED -> acknowledged" in out
    plant.status(lambda c: c[2] == 0, "the acknowledgement applied in the collector")

    # back in band: an acknowledged alarm returns straight to normal
    force_sync(plant.sim.url, tag, None)
    wait_journal(plant.engine, LIFE, lambda r: r[-1].what == "return", "return after the ack")

    # out and back again without an acknowledgement: latched as returned-unacknowledged
    force_sync(plant.sim.url, tag, 66.0)
    wait_journal(plant.engine, LIFE, lambda r: r[-1].what == "activate", "second activation")
    force_sync(plant.sim.url, tag, None)
    returned = wait_journal(plant.engine, LIFE, lambda r: r[-1].what == "return", "second return")[-1]
    assert returned.to_state is R and returned.value is not None and returned.value < 59.0
    # still latched well after the value is back (status lines printed 1 s after the return)
    late = plant.status(lambda c: True, "a status line", timeout=5)
    while late.wall < returned.ts + 1.0:
        late = plant.status(lambda c: True, "a later status line", timeout=5)
    assert alarm_counts(late)[2] == 1, late.text
    code, out, _ = plant.hmi(capsys, "list")
    assert code == 0 and re.search(rf"P3 .*returned, UNACKNOWLEDGED\s+{re.escape(LIFE)}", out), out

    code, out, err = plant.hmi(capsys, "ack", LIFE, "--user", "olga")
    assert code == 0, err
    assert f"{LIFE}: returned, UNACKNOWLEDGED -> normal" in out
    plant.status(lambda c: c[2] == 0, "the latched alarm cleared by the ack in the collector")

    rows = journal(plant.engine, LIFE)
    assert shape(rows) == [
        ("activate", N, U, "", "ws-collect"),
        ("ack", U, A, "olga", "ws-cli"),
        ("return", A, N, "", "ws-collect"),
        ("activate", N, U, "", "ws-collect"),
        ("return", U, R, "", "ws-collect"),
        ("ack", R, N, "olga", "ws-cli"),
    ]
    assert rows[1].comment == "pressure seen"
    audit = [r.entry for r in audit_query(plant.engine, AuditQuery(action="ack_alarm", newest_first=False))]
    assert [(a.user, a.target, a.result, a.old_value, a.new_value, a.workstation) for a in audit] == [
        ("olga", LIFE, "ok", "unack", "acked", "ws-cli"),
        ("olga", LIFE, "ok", "rtn_unack", "normal", "ws-cli"),
    ]


def test_an_on_delay_swallows_a_spike_shorter_than_it(plant, cli, capsys):
    tag = SPIKE.rsplit(".", 1)[0]
    on_delay = SETTINGS[SPIKE][0]
    start = time.time()

    async def spike_() -> None:  # one session, so the spike lasts 0.5 s and not a connection longer
        async with ForceClient(plant.sim.url) as client:
            await client.force(tag, 70.0)
            await asyncio.sleep(0.5)
            await client.force(tag, None)

    asyncio.run(spike_())
    spike = plant.samples_over(tag, 60.0, after=start - 0.2)  # the spike did reach the HMI and its history
    time.sleep(1.0)
    # then an excursion longer than the on-delay: the only activation is this one's
    force_sync(plant.sim.url, tag, 70.0)
    rows = wait_journal(plant.engine, SPIKE, lambda r: len(r) >= 1, "the long excursion's activation")
    force_sync(plant.sim.url, tag, None)
    held = plant.samples_over(tag, 60.0, after=spike + 1.0)
    assert [(r.what, r.ts) for r in rows] == [("activate", pytest.approx(held + on_delay, abs=0.002))]
    rows = wait_journal(plant.engine, SPIKE, lambda r: r[-1].what == "return", "the return")
    assert [r.what for r in rows] == ["activate", "return"]
    assert plant.hmi(capsys, "ack", SPIKE, "--user", "olga")[0] == 0


def test_a_deadband_stops_chatter_around_the_limit(plant, cli, capsys):
    band_tag, control_tag = BAND.rsplit(".", 1)[0], CHATTER.rsplit(".", 1)[0]
    assert SETTINGS[BAND][2] == 5.0 and SETTINGS[CHATTER][2] == 0.0  # the same values, with and without

    async def oscillate() -> float:
        async with ForceClient(plant.sim.url) as client:
            # 62 / 58 bar: across the 60 bar limit, never below 55 (limit - deadband); ends above it. Each
            # value is held longer than the on-delay plus the alarm center's tick (0.3 + 0.5 s).
            for value in [62.0, 58.0] * 4 + [62.0]:
                await client.force(band_tag, value)
                await client.force(control_tag, value)
                await asyncio.sleep(1.0)
            await asyncio.sleep(0.5)  # the last activation has a tick to spare
            released = time.time()
            await client.force(band_tag, None)
            await client.force(control_tag, None)
            return released

    released = asyncio.run(oscillate())
    band = wait_journal(plant.engine, BAND, lambda r: r and r[-1].what == "return", "the return after the release")
    assert band[-1].ts >= released - 0.1 and band[-1].value is not None and band[-1].value < 55.0
    assert [r.what for r in band] == ["activate", "return"]  # with the deadband: one activation, one return
    wait_journal(plant.engine, CHATTER, lambda r: r and r[-1].what == "return" and r[-1].ts >= released - 0.1,
                 "the control's return after the release")  # fmt: skip
    control = journal(plant.engine, CHATTER)
    # the same values without a deadband: an activation and a return each time the limit is crossed
    assert sum(r.what == "activate" for r in control) >= 4, shape(control)
    assert sum(r.what == "return" for r in control) == sum(r.what == "activate" for r in control)
    code, _, err = plant.hmi(capsys, "ack", BAND, CHATTER, "--user", "olga")
    assert code == 0, err


def test_shelving_from_the_command_line_ends_by_itself(plant, cli, capsys):
    tag = SHELF.rsplit(".", 1)[0]
    code, out, err = plant.hmi(capsys, "shelve", SHELF, "--for", "3s", "--reason", "transmitter check",
                               "--user", "sam")  # fmt: skip
    assert code == 0, err
    assert f"{SHELF}: normal -> shelved for 3 s" in out
    plant.status(lambda c: c[4] == 1, "the shelving applied in the collector")

    # out of band while shelved: no annunciation; when the shelving ends the alarm comes back active
    shelve = journal(plant.engine, SHELF)[0]
    force_sync(plant.sim.url, tag, 70.0)
    over = plant.samples_over(tag, 60.0, after=shelve.ts)
    assert over < shelve.until, "the value must go out of band while the alarm is shelved"
    rows = wait_journal(plant.engine, SHELF, lambda r: r[-1].what == "shelve_ended", "the end of the shelving")
    # the activation while shelved is journaled (not annunciated: the state stays shelved)
    assert shape(rows) == [("shelve", N, AlarmState.SHELVED, "sam", "ws-cli"),
                           ("activate", AlarmState.SHELVED, AlarmState.SHELVED, "", "ws-collect"),
                           ("shelve_ended", AlarmState.SHELVED, U, "", "ws-collect")]  # fmt: skip
    assert shelve.comment == "transmitter check" and shelve.until == pytest.approx(shelve.ts + 3.0, abs=1e-3)
    assert rows[1].ts < shelve.until and rows[1].value == 70.0
    assert rows[2].ts == pytest.approx(shelve.until, abs=1e-3) and rows[2].value == 70.0
    plant.status(lambda c: c[4] == 0 and c[2] == 1, "the alarm back on the list, unacknowledged")
    audit = [r.entry for r in audit_query(plant.engine, AuditQuery(action="shelve_alarm"))]
    assert [(a.user, a.target, a.result, a.detail) for a in audit] == [
        ("sam", SHELF, "ok", "for 3 s; reason: transmitter check")
    ]
    code, out, _ = plant.hmi(capsys, "list")
    assert re.search(rf"UNACKNOWLEDGED\s+{re.escape(SHELF)}", out), out

    force_sync(plant.sim.url, tag, None)
    wait_journal(plant.engine, SHELF, lambda r: r[-1].what == "return", "the return")
    assert plant.hmi(capsys, "ack", SHELF, "--user", "olga")[0] == 0
    plant.status(lambda c: c[:4] == (0, 0, 0, 0), "nothing unacknowledged")


@pytest.mark.slow
def test_communication_loss_holds_the_limit_alarms_and_returns_with_a_new_simulator(plant, cli, capsys):
    tag = HELD.rsplit(".", 1)[0]
    force_sync(plant.sim.url, tag, 170.0)
    wait_journal(plant.engine, HELD, lambda r: r and r[-1].what == "activate", "the torque alarm")

    killed = time.time()
    plant.sim.kill()
    comm = wait_journal(plant.engine, COMM, lambda r: len(r) >= 1, "communication loss")[0]
    assert (comm.what, comm.to_state, comm.priority) == ("activate", U, 2)
    assert comm.ts >= killed + COMM_ON_DELAY_S  # not before its on-delay after the link went down
    down = plant.status(lambda c: c[1] == 1, "P2 1 (communication loss) in the collector")
    assert "plc1=down" in down.text
    # the torque's values are now bad: they neither raise nor clear it, though its off-delay passes many times
    wait(lambda: any(q != 0 for ts, _, q in history(plant.engine, tag) if ts > killed), 10, "bad samples stored")
    while plant.status(lambda c: True, "a status line").wall < comm.ts + 2.0:
        pass
    assert [r.what for r in journal(plant.engine, HELD)] == ["activate"]

    restarted = time.time()
    plant.sim.restart()  # a new simulator on the same port: the force is gone, the torque back in band
    comm_rows = wait_journal(plant.engine, COMM, lambda r: r[-1].what == "return", "the link back", timeout=30)
    held_rows = wait_journal(plant.engine, HELD, lambda r: r[-1].what == "return", "the torque back", timeout=30)
    assert shape(comm_rows) == [("activate", N, U, "", "ws-collect"), ("return", U, R, "", "ws-collect")]
    assert comm_rows[-1].ts >= restarted and held_rows[-1].ts >= restarted
    assert shape(held_rows)[-1] == ("return", U, R, "", "ws-collect") and held_rows[-1].value < 150.0
    code, out, err = plant.hmi(capsys, "ack", COMM, HELD, "--user", "olga")
    assert code == 0, err
    plant.status(lambda c: c[:4] == (0, 0, 0, 0), "nothing unacknowledged after the ack")


def test_persistent_after_five_minutes_without_a_break_on_a_simulated_clock(tmp_path, engine, db_url, capsys):
    """An AlarmCenter on the test config's alarms and a SQLite journal, its clock simulated: the periodic
    task ticks and journals as in the collector, tag values arrive every 10 simulated seconds."""
    config = tmp_path / "plant.toml"
    config.write_text(alarm_config(resource_text("plant.toml"), SETTINGS, COMM_ON_DELAY_S))
    definitions = parse_config(config.read_text()).alarm_definitions()
    steady, broken = LIFE.rsplit(".", 1)[0], SHELF.rsplit(".", 1)[0]
    t0 = time.time() - 1000.0
    clock = {"now": t0}

    async def main_() -> tuple[float, float]:
        center = AlarmCenter(definitions, engine, "ws-sim", clock=lambda: clock["now"], sync_every_s=0.01)
        await center.start()

        async def settle() -> None:  # the periodic task ticks (and journals) at this simulated time
            await asyncio.sleep(0.05)
            assert center.stats().db_ok, center.stats().last_error

        for second in range(0, 501):
            clock["now"] = t0 + second
            if second % 10 == 0:
                value = 65.0 + (second % 30) / 10  # a slowly varying value, always above the limit
                dropped = 40.0 if 140 <= second < 150 else value  # one break on the other tag
                center.consume([TagValue(steady, value, Quality.GOOD, clock["now"], clock["now"]),
                                TagValue(broken, dropped, Quality.GOOD, clock["now"], clock["now"])])  # fmt: skip
            if second % 25 == 0 or second in (2, 151, 301, 302, 450, 451):
                await settle()
            if second == 301:  # 299.5 s after the activation
                assert not center.engine.status(LIFE).persistent
            if second == 302:  # the periodic task marks it at its next tick (later on a loaded machine)
                deadline = time.monotonic() + 10
                while not center.engine.status(LIFE).persistent and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert center.engine.status(LIFE).persistent
        await settle()
        await center.stop()
        return center.engine.status(LIFE).activated_at or 0.0, center.engine.status(SHELF).activated_at or 0.0

    steady_at, broken_at = asyncio.run(main_())
    rows = alarm_journal.query(engine, JournalQuery(what=["persistent"]))
    by_alarm = {r.alarm_id: r for r in rows}
    assert sorted(by_alarm) == [LIFE, SHELF] and len(rows) == 2
    # activated after the on-delay; marked persistent 300 s after that
    assert steady_at == pytest.approx(t0 + SETTINGS[LIFE][0])
    assert by_alarm[LIFE].ts == pytest.approx(steady_at + 300.0)
    assert (by_alarm[LIFE].from_state, by_alarm[LIFE].to_state, by_alarm[LIFE].workstation) == (U, U, "ws-sim")
    # the other tag's break (returned at 140 s, active again from 150 s) started its 5 minutes over
    assert broken_at == pytest.approx(t0 + 150 + SETTINGS[SHELF][0])
    assert by_alarm[SHELF].ts == pytest.approx(broken_at + 300.0)
    assert [r.what for r in journal(engine, SHELF)] == ["activate", "return", "activate", "persistent"]
    # the journal as an operator reads it
    assert main(["alarm", "journal", "--config", str(config), "--db", db_url, "--alarm", LIFE, "--since", "-1h"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{re.escape(LIFE)}\s+persistent\s+unack -> unack", out), out
