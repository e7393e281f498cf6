"""One simulated shopfloor as plain Python: its queue of instructions, production, reports and outbox.

No broker and no clock of its own: the MQTT shell (shopfloor_sim/__main__.py) feeds it the messages
that arrive and the time that passes, publishes what it returns, and saves ``to_state()`` to the
state file *before* publishing whenever ``dirty`` is set, so a kill -9 loses nothing and doubles nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hmi.domain.shopfloor import (
    Ack,
    Activity,
    Channel,
    Heartbeat,
    Hello,
    Instruction,
    Machine,
    MachineState,
    Message,
    Report,
    Resume,
    Withdraw,
    encode,
    report_id,
    utc_now_iso,
)

STATE_VERSION = 1
QUEUED, RUNNING, PAUSED, DONE, WITHDRAWN = "queued", "running", "paused", "done", "withdrawn"
UNFINISHED = frozenset({QUEUED, RUNNING, PAUSED})


class StateError(ValueError):
    """A state file that is not one this simulator wrote (the text names what is wrong)."""


@dataclass(slots=True)
class Outgoing:
    """A message to publish: confirmed ones (with a msg_id) stay in the outbox until the HMI's ack."""

    channel: Channel
    payload: bytes
    kind: str  # report, hello, machine, ack, heartbeat
    msg_id: str | None = None
    qos: int = 1


@dataclass(slots=True)
class Job:
    """One instruction this shopfloor holds, with its running totals."""

    instruction: Instruction
    status: str = QUEUED
    produced: int = 0
    defective: int = 0
    seq: int = 0
    made: float = 0.0  # fraction of the next unit already made (simulated)

    def to_json(self) -> dict[str, Any]:
        """The job as it goes into the state file."""
        return {"instruction": encode(self.instruction).decode(), "status": self.status, "produced": self.produced,
                "defective": self.defective, "seq": self.seq}  # fmt: skip


@dataclass
class Floor:
    """The state machine of one shopfloor (see the module docstring)."""

    shopfloor_id: str
    capacity: float  # good units per hour at full speed, at speed 1
    defect_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    report_every_s: float = 1.0
    speed: float = 1.0  # its clock's factor; the heartbeat announces what it makes per wall-clock hour
    now_iso: Callable[[], str] = utc_now_iso
    jobs: dict[str, Job] = field(default_factory=dict)  # by instruction id, in arrival order
    seen: set[str] = field(default_factory=set)  # msgIds of instructions, withdraws and resumes stored
    withdrawn_unknown: set[str] = field(default_factory=set)  # withdrawn before they ever arrived
    outbox: dict[str, Outgoing] = field(default_factory=dict)  # by msgId, unacked
    sent_at: dict[str, float] = field(default_factory=dict)  # msgId -> wall time last sent (not saved)
    machine_seq: int = 0
    machine_stopped: bool = False
    heartbeat_seq: int = 0
    dirty: bool = False
    events: list[str] = field(default_factory=list)  # lines for the console: started / finished
    _current: str | None = None
    _last_report_at: float = 0.0

    # --- messages from the HMI -------------------------------------------------------------------

    def receive(self, message: Message, now: float) -> list[Outgoing]:
        """Take a message from the instructions topic in; what to publish in answer (after saving)."""
        if isinstance(message, Ack):
            if message.shopfloorId == self.shopfloor_id and self.outbox.pop(message.ackFor, None) is not None:
                self.sent_at.pop(message.ackFor, None)
                self.dirty = True
            return []
        if not isinstance(message, (Instruction, Withdraw, Resume)):
            return []
        if message.msgId in self.seen:
            return [self._ack(message.msgId)]
        self.seen.add(message.msgId)
        self.dirty = True
        out = [self._ack(message.msgId)]
        if isinstance(message, Instruction):
            self._take(message)
        elif isinstance(message, Withdraw):
            out += self._withdraw(message.instructionId, now)
        else:
            job = self.jobs.get(message.instructionId)
            if job is not None and job.status == PAUSED:
                job.status = QUEUED
                self.events.append(f"resumed {job.instruction.msgId}")
        return out

    def _take(self, instruction: Instruction) -> None:
        if instruction.msgId in self.jobs or instruction.msgId in self.withdrawn_unknown:
            return  # sent again with a new msgId? it is the same instruction id: never made twice
        self.jobs[instruction.msgId] = Job(instruction)

    def _withdraw(self, instruction_id: str, now: float) -> list[Outgoing]:
        job = self.jobs.get(instruction_id)
        if job is None:
            self.withdrawn_unknown.add(instruction_id)  # the ack of the withdraw is all there is to say
            return []
        if job.status not in UNFINISHED:
            return []  # already finished: its final report stands
        job.status = WITHDRAWN
        if self._current == instruction_id:
            self._current = None
        self.events.append(f"withdrawn {instruction_id}: produced {job.produced}, defective {job.defective}")
        return [self._report(job, now, final=True, withdrawn=True)]

    def _ack(self, msg_id: str) -> Outgoing:
        return Outgoing(Channel.REPORTS, encode(Ack(ackFor=msg_id, shopfloorId=self.shopfloor_id)), "ack")

    # --- production ------------------------------------------------------------------------------

    def advance(self, sim_seconds: float, now: float) -> list[Outgoing]:
        """Produce for ``sim_seconds`` of simulated time; a report each ``report_every_s`` of wall time, at once when final."""
        if self.machine_stopped:
            return []
        job = self._pick(now)
        if job is None:
            return []
        made_per_s = self.capacity / 3600.0 / (1.0 - self.defect_rate)  # capacity counts good units
        job.made += made_per_s * max(0.0, sim_seconds)
        while job.made >= 1.0 and job.produced < job.instruction.quantity:
            job.made -= 1.0
            if self.defect_rate and self.rng.random() < self.defect_rate:
                job.defective += 1
            else:
                job.produced += 1
        if job.produced >= job.instruction.quantity:
            job.status, self._current = DONE, None
            self.events.append(f"finished {job.instruction.msgId}: produced {job.produced}, defective {job.defective}")
            return [self._report(job, now, final=True)]
        if now - self._last_report_at >= self.report_every_s:
            return [self._report(job, now)]
        return []

    def _pick(self, now: float) -> Job | None:
        if self._current is not None:
            return self.jobs[self._current]
        for job in self.jobs.values():
            if job.status in (QUEUED, RUNNING):
                job.status, self._current = RUNNING, job.instruction.msgId
                self._last_report_at = now
                self.dirty = True
                self.events.append(f"started {job.instruction.msgId}: {job.instruction.quantity} units "
                                   f"of {job.instruction.description!r}")  # fmt: skip
                return job
        return None

    def _report(self, job: Job, now: float, final: bool = False, withdrawn: bool = False) -> Outgoing:
        job.seq += 1
        iid = job.instruction.msgId
        msg_id = report_id(iid, job.seq)
        report = Report(msgId=msg_id, instructionId=iid, orderId=job.instruction.orderId,
                        shopfloorId=self.shopfloor_id, seq=job.seq, produced=job.produced, defective=job.defective,
                        timestamp=self.now_iso(), final=final, withdrawn=withdrawn)  # fmt: skip
        # A report carries the running totals: it makes the unacked earlier ones of its instruction redundant.
        for older in range(job.seq - 1, 0, -1):
            if self.outbox.pop(report_id(iid, older), None) is None:
                break
            self.sent_at.pop(report_id(iid, older), None)
        self._last_report_at = now
        return self._confirmed(Outgoing(Channel.REPORTS, encode(report), "report", msg_id))

    def _confirmed(self, out: Outgoing) -> Outgoing:
        assert out.msg_id is not None
        self.outbox[out.msg_id] = out
        self.dirty = True
        return out

    # --- process start, machine stops, heartbeats ------------------------------------------------

    def hello(self, stamp: int) -> Outgoing:
        """After the process starts: pause every unfinished instruction and say which they are."""
        held = []
        for job in self.jobs.values():
            if job.status in UNFINISHED:
                job.status, job.made = PAUSED, 0.0
                held.append(job.instruction.msgId)
        self._current = None
        msg = Hello(msgId=f"H-{self.shopfloor_id}-{stamp}", shopfloorId=self.shopfloor_id, instructions=tuple(held),
                    timestamp=self.now_iso())  # fmt: skip
        if held:
            self.events.append(f"paused until the HMI answers: {', '.join(held)}")
        return self._confirmed(Outgoing(Channel.REPORTS, encode(msg), "hello", msg.msgId))

    def machine(self, state: MachineState, reason: str, machine: str = "line") -> Outgoing:
        """A machine stopped (production stops) or runs again."""
        self.machine_seq += 1
        self.machine_stopped = state is MachineState.STOPPED
        msg = Machine(msgId=f"M-{self.shopfloor_id}-{self.machine_seq}", shopfloorId=self.shopfloor_id,
                      machine=machine, state=state, reason=reason, timestamp=self.now_iso())  # fmt: skip
        self.events.append(f"machine {machine} {state.value}" + (f": {reason}" if reason else ""))
        return self._confirmed(Outgoing(Channel.REPORTS, encode(msg), "machine", msg.msgId))

    def activity(self) -> Activity:
        """What the heartbeat says it is doing."""
        if self.machine_stopped:
            return Activity.STOPPED
        return Activity.PRODUCING if self._current is not None or self._workable() else Activity.IDLE

    def _workable(self) -> bool:
        return any(job.status in (QUEUED, RUNNING) for job in self.jobs.values())

    def queued(self) -> int:
        """The unfinished instructions it holds (paused ones too)."""
        return sum(job.status in UNFINISHED for job in self.jobs.values())

    def heartbeat(self) -> Outgoing:
        """The next heartbeat (QoS 0, not kept)."""
        self.heartbeat_seq += 1
        hb = Heartbeat(shopfloorId=self.shopfloor_id, capacity=float(self.capacity * self.speed), activity=self.activity(),
                       queued=self.queued(), timestamp=self.now_iso(), seq=self.heartbeat_seq)  # fmt: skip
        return Outgoing(Channel.HEARTBEAT, encode(hb), "heartbeat", qos=0)

    # --- re-sending ------------------------------------------------------------------------------

    def due(self, now: float, resend_s: float) -> list[Outgoing]:
        """The unacked messages not sent within the last ``resend_s`` seconds (all of them after a reconnect)."""
        return [out for msg_id, out in self.outbox.items() if now - self.sent_at.get(msg_id, -1e18) >= resend_s]

    def mark_sent(self, outs: list[Outgoing], now: float) -> None:
        """Remember when the confirmed ones among ``outs`` went out."""
        for out in outs:
            if out.msg_id is not None and out.msg_id in self.outbox:
                self.sent_at[out.msg_id] = now

    def forget_sent(self) -> None:
        """After a reconnect: everything unacked is due at once."""
        self.sent_at.clear()

    # --- the state file --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything a restart needs, as JSON-able data."""
        self.dirty = False
        return {
            "v": STATE_VERSION, "shopfloorId": self.shopfloor_id,
            "jobs": [job.to_json() for job in self.jobs.values()],
            "seen": sorted(self.seen), "withdrawnUnknown": sorted(self.withdrawn_unknown),
            "outbox": [{"msgId": k, "channel": o.channel.value, "kind": o.kind, "payload": o.payload.decode()}
                       for k, o in self.outbox.items()],
            "machineSeq": self.machine_seq,
        }  # fmt: skip

    def load_state(self, state: dict[str, Any]) -> None:
        """Take a state written by to_state in; StateError naming the fault otherwise."""
        from hmi.domain.shopfloor import MessageError, decode

        try:
            if state.get("v") != STATE_VERSION or state.get("shopfloorId") != self.shopfloor_id:
                raise StateError(f"it is not version {STATE_VERSION} state of shopfloor {self.shopfloor_id}")
            jobs = {}
            for raw in state["jobs"]:
                instruction = decode(raw["instruction"].encode(), Channel.INSTRUCTIONS)
                if not isinstance(instruction, Instruction) or raw["status"] not in (*UNFINISHED, DONE, WITHDRAWN):
                    raise StateError("a job in it is not an instruction")
                jobs[instruction.msgId] = Job(instruction, raw["status"], int(raw["produced"]), int(raw["defective"]),
                                              int(raw["seq"]))  # fmt: skip
            outbox = {}
            for raw in state["outbox"]:
                payload = raw["payload"].encode()
                decode(payload, Channel(raw["channel"]))
                outbox[str(raw["msgId"])] = Outgoing(Channel(raw["channel"]), payload, str(raw["kind"]), str(raw["msgId"]))
            seen, unknown = {str(s) for s in state["seen"]}, {str(s) for s in state["withdrawnUnknown"]}
            machine_seq = int(state["machineSeq"])
        except (KeyError, TypeError, ValueError, AttributeError, MessageError) as error:
            if isinstance(error, StateError):
                raise
            if isinstance(error, KeyError):
                raise StateError(f"it lacks {error.args[0]!r}") from None
            raise StateError(f"{type(error).__name__}: {error}") from None
        self.jobs, self.outbox, self.seen, self.withdrawn_unknown = jobs, outbox, seen, unknown
        self.machine_seq = machine_seq
