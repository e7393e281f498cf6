"""Andon calls and downtime: the types every layer shares (issue 14).

A line is a twin (its status tag trips) or a shopfloor (its machine-stop message, its heartbeat). An andon
call on a line is raised by a cause or by a user and goes open -> acknowledged -> resolved; a cause that
clears by itself (the machine runs again) marks the call cleared, and it stays until someone resolves it
with a reason. Each stop of a line is a downtime record, linked to its call. A stop shorter than the
micro-stop threshold is counted as a micro-stop and not called.

Plain data and rules only; the store fills these from SQL, services/andon.py acts on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from hmi.domain.plant import Plant
from hmi.domain.tags import Quality, TagValue

SYSTEM = "system"  # raised_by / by_user of what a cause did, not a user
MICRO_STOP = "micro-stop"  # the reason code of a call (and stop) closed by itself as a micro-stop


class LineKind(str, Enum):
    """What a line is: a twin of the plant (OPC UA) or a shopfloor (MQTT)."""

    TWIN = "twin"
    SHOPFLOOR = "shopfloor"


class Origin(str, Enum):
    """What raised a call, or started a stop."""

    TRIP = "trip"  # a twin's status tag went to 0
    MACHINE = "machine"  # a shopfloor's machine-stop message
    OFFLINE = "offline"  # a shopfloor stopped sending heartbeats
    MANUAL = "manual"  # a user raised it (board or CLI)
    ENTERED = "entered"  # a stop entered afterwards by a supervisor (downtime only)


AUTOMATIC = frozenset({Origin.TRIP, Origin.MACHINE, Origin.OFFLINE})


class Category(str, Enum):
    """What kind of help a call asks for."""

    MAINTENANCE = "maintenance"
    QUALITY = "quality"
    MATERIAL = "material"
    SAFETY = "safety"
    OTHER = "other"


# The category a cause raises its call in.
ORIGIN_CATEGORY = {Origin.TRIP: Category.MAINTENANCE, Origin.MACHINE: Category.MAINTENANCE,
                   Origin.OFFLINE: Category.OTHER}  # fmt: skip


class CallState(str, Enum):
    """A call's life cycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Step(str, Enum):
    """One step in a call's history (andon_steps)."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLEARED = "cleared"  # the cause went away by itself
    RECURRED = "recurred"  # the cause came back while the call was still not resolved
    ESCALATED = "escalated"


class Loss(str, Enum):
    """Where a stop's time goes in OEE (a reason code's class): the availability losses and planned time."""

    BREAKDOWN = "breakdown"  # equipment failure (six big losses: breakdowns)
    SETUP = "setup"  # setup and adjustments (six big losses: setup)
    PLANNED = "planned"  # a planned stop: outside planned production time, not a loss


def line_key(line: str, origin: Origin) -> str:
    """The open_key of an automatic call or an open stop: one per line and cause at a time."""
    return f"{line}:{origin.value}"


@dataclass(frozen=True, slots=True)
class Reason:
    """A downtime reason code from the config: code, words for the operator, and its OEE class."""

    code: str
    text: str
    loss: Loss


@dataclass(frozen=True, slots=True)
class AndonCall:
    """One andon call as the board and the CLI show it. Times are UTC microseconds."""

    call_id: int
    line: str
    line_kind: LineKind
    origin: Origin
    category: Category
    state: CallState
    cause_active: bool
    detail: str
    raised_us: int
    raised_by: str
    acked_us: int | None = None
    acked_by: str | None = None
    ack_note: str = ""
    cleared_us: int | None = None
    resolved_us: int | None = None
    resolved_by: str | None = None
    resolve_note: str = ""
    reason_code: str | None = None
    tier: int = 0
    micro: bool = False

    @property
    def cleared(self) -> bool:
        """The cause went away by itself, and the call still waits to be resolved."""
        return not self.cause_active and self.state is not CallState.RESOLVED


@dataclass(frozen=True, slots=True)
class CallStep:
    """One step in a call's history."""

    call_id: int
    at_us: int
    step: Step
    by_user: str
    note: str = ""
    tier: int = 0


@dataclass(frozen=True, slots=True)
class Downtime:
    """One stop of a line; end_us is None while it lasts."""

    downtime_id: int
    line: str
    line_kind: LineKind
    origin: Origin
    start_us: int
    end_us: int | None
    reason_code: str | None
    planned: bool
    micro: bool
    call_id: int | None
    note: str = ""
    entered_by: str | None = None

    def duration_us(self, now_us: int) -> int:
        """How long the stop lasted, or has lasted until now."""
        return (self.end_us if self.end_us is not None else now_us) - self.start_us


@dataclass(frozen=True, slots=True)
class EscalationTier:
    """One tier of escalation: after this many seconds unacknowledged (or unresolved), notify these."""

    tier: int  # 1, 2, ...
    after_s: float
    until: CallState  # ACKNOWLEDGED: counts while the call is open; RESOLVED: while it is not resolved
    name: str  # "shift supervisor"
    notify: tuple[str, ...]  # e-mail addresses


def due_tier(call: AndonCall, tiers: tuple[EscalationTier, ...], now_us: int) -> EscalationTier | None:
    """The highest tier this call has reached by now and not yet been escalated to, or None."""
    if call.state is CallState.RESOLVED or call.micro:
        return None
    age_s = (now_us - call.raised_us) / 1e6
    due = None
    for t in sorted(tiers, key=lambda x: x.tier):
        waiting = call.state is CallState.OPEN if t.until is CallState.ACKNOWLEDGED else True
        if waiting and age_s >= t.after_s and t.tier > call.tier:
            due = t
    return due


# --- trips: a twin's status tag ---------------------------------------------------------------------------

STATUS_PARAMETER = "status"  # the parameter of a twin that says it runs (1) or is stopped (0)


@dataclass(frozen=True, slots=True)
class CauseEvent:
    """A cause started (started=True) or ended on a line, at a time (UTC microseconds)."""

    line: str
    origin: Origin
    started: bool
    at_us: int
    detail: str = ""


class TripDetector:
    """Edges of the twins' status tags: a Good 1 -> 0 starts a trip, a Good 1 ends it.

    A value that is not Good says nothing (a lost PLC is not a stopped twin) and leaves the state as it was.
    The first Good value of a tag is an edge of its own: 0 starts a trip (the twin was down when we came),
    1 ends one (a trip left open by an earlier run); the store makes both idempotent.
    """

    def __init__(self, status_tags: Mapping[str, str]) -> None:
        self._lines = dict(status_tags)  # tag id -> twin id
        self._running: dict[str, bool] = {}  # tag id -> the last Good state

    @property
    def tags(self) -> frozenset[str]:
        """The status tags it watches."""
        return frozenset(self._lines)

    def feed(self, batch: Iterable[TagValue]) -> list[CauseEvent]:
        """The trips that started or ended with this batch, in the batch's order."""
        events: list[CauseEvent] = []
        for tv in batch:
            line = self._lines.get(tv.tag)
            if line is None or tv.quality is not Quality.GOOD or tv.value is None:
                continue
            running = tv.value >= 0.5
            if self._running.get(tv.tag) is running:
                continue
            self._running[tv.tag] = running
            at_us = int(round(tv.source_ts * 1_000_000))
            detail = "" if running else f"{tv.tag} = {tv.value:g}: the twin tripped"
            events.append(CauseEvent(line, Origin.TRIP, not running, at_us, detail))
        return events


def status_tags(plant: Plant) -> dict[str, str]:
    """The status tag of each twin that has one, and its twin: {"compressor1.status": "compressor1"}."""
    return {t.tag_id: t.twin for t in plant.tags if t.parameter == STATUS_PARAMETER}


# --- refusals (one line each: what is wrong and what to do) ---------------------------------------------

MAX_NOTE = 500  # characters of a note on a call or a stop


class AndonError(Exception):
    """A request about calls or stops that cannot be done; the message is one line for the user."""


class InvalidAndonValue(AndonError):
    """A value given with a request that cannot be used (a note too long, a range that ends before it starts)."""


class UnknownLine(AndonError):
    """No twin with a status tag and no shopfloor of that id."""

    def __init__(self, line: str, known: list[str]) -> None:
        shown = ", ".join(known[:20]) + (f" (+{len(known) - 20} more)" if len(known) > 20 else "")
        super().__init__(f"no line {line[:64]!r}; lines are: {shown or 'none (no twin has a status tag)'}")
        self.line = line


class UnknownCall(AndonError):
    """No andon call with that id."""

    def __init__(self, call_id: object) -> None:
        super().__init__(f"no andon call {str(call_id)[:40]}; `hmi andon list --all` shows the calls")
        self.call_id = call_id


class UnknownDowntime(AndonError):
    """No downtime record with that id."""

    def __init__(self, downtime_id: object) -> None:
        super().__init__(f"no downtime record {str(downtime_id)[:40]}; `hmi downtime list` shows them")
        self.downtime_id = downtime_id


class UnknownReason(AndonError):
    """A reason code that is not in [andon.reasons]; the message lists the codes."""

    def __init__(self, code: str, codes: list[str]) -> None:
        super().__init__(f"unknown reason code {code[:40]!r}; reason codes are: {', '.join(codes)}")
        self.code = code


class CallTaken(AndonError):
    """The loser of a race: the call was already acknowledged (or resolved) by someone else."""

    def __init__(self, call_id: int, state: CallState, by: str | None, at_us: int | None) -> None:
        when = "" if at_us is None else f" at {hh_mm(at_us)}"
        super().__init__(f"call {call_id} was already {state.value} by {by or 'someone'}{when}")
        self.call_id, self.state, self.by, self.at_us = call_id, state, by, at_us


def hh_mm(at_us: int) -> str:
    """A time of day in UTC for messages: '14:03 UTC'."""
    seconds = (at_us // 1_000_000) % 86_400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d} UTC"


def check_note(note: str, what: str = "the note") -> str:
    """A note as stored: stripped, at most MAX_NOTE characters; InvalidAndonValue otherwise."""
    if not isinstance(note, str):
        raise InvalidAndonValue(f"{what} must be text")
    text = " ".join(note.split())
    if len(text) > MAX_NOTE:
        raise InvalidAndonValue(f"{what} has {len(text)} characters; keep it to {MAX_NOTE}")
    return text
