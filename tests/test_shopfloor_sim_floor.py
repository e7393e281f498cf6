"""shopfloor_sim.floor without a broker: queue, production, acks, withdraw, hello/resume, the state file."""

from __future__ import annotations

import json
import random

import pytest

from hmi.domain.shopfloor import Ack, Activity, Hello, Instruction, Report, Resume, Withdraw, decode
from shopfloor_sim.floor import Floor, StateError
from shopfloor_sim.state import StateFile

NOW = "2026-12-07T10:00:00.000Z"


def instruction(n: int, quantity: int, sf: str = "sf1") -> Instruction:
    return Instruction(f"JO-20261207-{n:04d}/{sf}/1", f"ORD-20261207-{n:04d}", f"JO-20261207-{n:04d}", "Bottles",
                       quantity, "PET", NOW)  # fmt: skip


def floor(defect_rate: float = 0.1) -> Floor:
    return Floor("sf1", 3600.0, defect_rate, random.Random(7))


def messages(outs) -> list:  # noqa: ANN001
    return [decode(o.payload) for o in outs]


def run(f: Floor, seconds: float, now: float = 0.0, step: float = 0.1) -> tuple[list, float]:
    """Advance in steps of simulated = wall time; (messages out, the time reached)."""
    out = []
    for _ in range(round(seconds / step)):
        now += step
        out += messages(f.advance(step, now))
    return out, now


def test_an_instruction_is_acked_and_made_to_its_good_quantity_with_running_totals():
    f = floor()
    acks = messages(f.receive(instruction(1, 25), 0.0))
    assert acks == [Ack("JO-20261207-0001/sf1/1", "sf1")]
    reports, _ = run(f, 60)
    assert [r.seq for r in reports] == list(range(1, len(reports) + 1))
    final = reports[-1]
    assert (final.produced, final.final, final.withdrawn) == (25, True, False)
    assert final.defective > 0 and all(not r.final for r in reports[:-1])
    assert [r.produced for r in reports] == sorted(r.produced for r in reports)
    assert f.activity() is Activity.IDLE and f.queued() == 0


def test_a_duplicate_instruction_is_acked_again_and_not_made_twice():
    f = floor(0.0)
    f.receive(instruction(1, 5), 0.0)
    run(f, 10)
    again = messages(f.receive(instruction(1, 5), 11.0))
    assert again == [Ack("JO-20261207-0001/sf1/1", "sf1")]
    reports, _ = run(f, 10, now=11.0)
    assert reports == [] and f.queued() == 0


def test_instructions_are_worked_in_arrival_order():
    f = floor(0.0)
    f.receive(instruction(2, 3), 0.0)
    f.receive(instruction(1, 3), 0.0)
    reports, _ = run(f, 10)
    finals = [r.instructionId for r in reports if r.final]
    assert finals == ["JO-20261207-0002/sf1/1", "JO-20261207-0001/sf1/1"]


def test_a_withdraw_stops_the_instruction_with_a_final_withdrawn_report_and_a_resend_is_ignored():
    f = floor(0.0)
    f.receive(instruction(1, 1000), 0.0)
    run(f, 5)
    out = messages(f.receive(Withdraw("W-1", "JO-20261207-0001/sf1/1", "moved", NOW), 5.0))
    assert out[0] == Ack("W-1", "sf1")
    assert isinstance(out[1], Report) and out[1].withdrawn and out[1].final and 0 < out[1].produced < 1000
    assert messages(f.receive(instruction(1, 1000), 6.0)) == [Ack("JO-20261207-0001/sf1/1", "sf1")]
    assert run(f, 5, now=6.0)[0] == [] and f.queued() == 0


def test_a_withdraw_before_its_instruction_arrived_keeps_the_instruction_from_being_made():
    f = floor(0.0)
    assert messages(f.receive(Withdraw("W-2", "JO-20261207-0001/sf1/1", "moved", NOW), 0.0)) == [Ack("W-2", "sf1")]
    f.receive(instruction(1, 5), 1.0)
    assert run(f, 10)[0] == [] and f.queued() == 0


def test_an_ack_ends_the_resending_and_a_newer_report_replaces_older_unacked_ones():
    f = floor(0.0)
    f.receive(instruction(1, 100), 0.0)
    sent, _ = run(f, 3.5)
    assert [r.seq for r in sent] == [1, 2, 3]
    due = [decode(o.payload) for o in f.due(10.0, 3.0)]
    assert due == [sent[-1]]  # seq 1 and 2 are carried by 3
    f.receive(Ack(sent[-1].msgId, "sf1"), 10.0)
    assert f.due(20.0, 3.0) == []


def test_a_restart_pauses_unfinished_work_until_resume_and_finishes_with_exact_totals(tmp_path):
    f = floor()
    f.receive(instruction(1, 40), 0.0)
    before, now = run(f, 20)
    store = StateFile(tmp_path, "sf1")
    store.write(f.to_state())
    g = floor()
    g.load_state(store.read())
    hello = decode(g.hello(123).payload)
    assert hello == Hello("H-sf1-123", "sf1", ("JO-20261207-0001/sf1/1",), hello.timestamp)
    assert run(g, 5)[0] == [] and g.activity() is Activity.IDLE and g.queued() == 1
    assert messages(g.receive(Resume("R-1", "JO-20261207-0001/sf1/1", NOW), 0.0)) == [Ack("R-1", "sf1")]
    after, _ = run(g, 60)
    assert after[0].seq == before[-1].seq + 1 and after[0].produced >= before[-1].produced
    assert after[-1].produced == 40 and after[-1].final


def test_a_state_file_of_another_kind_is_refused_with_its_reason(tmp_path):
    (tmp_path / "sf1.json").write_text(json.dumps({"v": 1, "shopfloorId": "sf1", "jobs": [{"instruction": "{}"}]}))
    with pytest.raises(StateError, match="unknown message type"):
        floor().load_state(StateFile(tmp_path, "sf1").read())
    (tmp_path / "sf1.json").write_text("not json")
    with pytest.raises(StateError, match="not a state file"):
        StateFile(tmp_path, "sf1").read()


def test_the_state_file_is_locked_against_a_second_simulator(tmp_path):
    StateFile(tmp_path, "sf1").lock()
    with pytest.raises(StateError, match="another shopfloor-sim"):
        StateFile(tmp_path, "sf1").lock()


def test_the_process_helper_sees_a_ready_that_comes_in_one_chunk_with_other_lines():
    """A restarted shopfloor prints 'paused ...' and READY together; wait_ready must not miss it."""
    import sys

    from shopfloor_sim.process import ShopfloorProcess

    class Printer(ShopfloorProcess):
        def command(self) -> list[str]:
            script = "import sys, time; sys.stdout.write('sf1: paused until the HMI answers\\nREADY sf1\\n'); sys.stdout.flush(); time.sleep(30)"
            return [sys.executable, "-c", script]

    proc = Printer("mqtt://127.0.0.1:1", ["sf1"])
    try:
        proc.start(timeout=10)
        assert list(proc.output)[:2] == ["sf1: paused until the HMI answers", "READY sf1"]
    finally:
        proc.stop()


def test_the_heartbeat_announces_what_it_makes_per_wall_clock_hour():
    """The HMI plans in wall-clock time: a shopfloor at --speed 60 must say it makes 60 times as much."""
    import random

    from hmi.domain.shopfloor import decode
    from shopfloor_sim.floor import Floor

    assert decode(Floor("sf1", 1200.0, 0.0, random.Random(1), speed=60.0).heartbeat().payload).capacity == 72_000.0
    assert decode(Floor("sf1", 1200.0, 0.0, random.Random(1)).heartbeat().payload).capacity == 1200.0
