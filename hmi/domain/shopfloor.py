"""The messages between the HMI and its shopfloors over MQTT: topics, types, and the one codec both sides use.

Every message is one JSON object in UTF-8 with ``"type"`` and ``"v"`` (the format version, 1). The
whole protocol, with an example of each message, is in docs/shopfloor-messages.md; change both together.

What must arrive is confirmed by its receiver with an ``ack`` message of ours, never by the broker's
PUBACK alone (a broker killed with SIGKILL forgets what it acknowledged, and amqtt 0.12.1 delivers none
of what it queued for an offline session). Until confirmed it is sent again with the same ``msgId``;
a receiver that already has a ``msgId`` acknowledges it again and does nothing else.

- HMI -> shopfloor on ``shopfloor/{id}/instructions``: instruction, withdraw, resume, ack.
- shopfloor -> HMI on ``shopfloor/{id}/reports``: report, hello, machine, ack.
- shopfloor -> HMI on ``shopfloor/{id}/heartbeat``: heartbeat (not confirmed: the next one follows).

Reports carry running totals per instruction with a sequence number, so a duplicate or a late report
changes nothing: the one with the highest ``seq`` is the truth.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import MISSING, asdict, dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, ClassVar, Union

VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024  # a real message is a few hundred bytes; larger is refused unread
SHOPFLOOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TOPIC_ROOT = "shopfloor"


class Channel(str, Enum):
    """The three topics of each shopfloor."""

    INSTRUCTIONS = "instructions"
    REPORTS = "reports"
    HEARTBEAT = "heartbeat"


def topic(shopfloor_id: str, channel: Channel) -> str:
    """``shopfloor/{id}/{channel}``."""
    return f"{TOPIC_ROOT}/{shopfloor_id}/{channel.value}"


def subscription(channel: Channel) -> str:
    """The wildcard subscription for one channel of every shopfloor: ``shopfloor/+/reports``."""
    return f"{TOPIC_ROOT}/+/{channel.value}"


def parse_topic(name: str) -> tuple[str, Channel]:
    """(shopfloor id, channel) of a topic; MessageError if it is not one of ours."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != TOPIC_ROOT or not SHOPFLOOR_ID.match(parts[1]):
        raise MessageError(f"topic {name[:120]!r} is not shopfloor/<id>/<channel>")
    try:
        return parts[1], Channel(parts[2])
    except ValueError:
        raise MessageError(f"topic {name[:120]!r} has an unknown channel {parts[2][:40]!r}") from None


class MessageError(ValueError):
    """A payload that is not a valid message of ours; the text says what is wrong with it (for the log)."""


def utc_now_iso() -> str:
    """The current time as ISO 8601 UTC with milliseconds and a Z, as messages carry it."""
    return iso(datetime.now(timezone.utc))


def iso(when: datetime) -> str:
    """A timezone-aware time as ISO 8601 UTC with a Z."""
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a zone (Z or +hh:mm) as an aware datetime; MessageError otherwise."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise MessageError(f"{str(text)[:40]!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise MessageError(f"time {text[:40]!r} has no time zone (use Z for UTC)")
    return when


@dataclass(frozen=True, slots=True)
class Instruction:
    """HMI -> shopfloor: produce ``quantity`` good units of an order's share (the instruction)."""

    TYPE: ClassVar[str] = "instruction"
    msgId: str  # the instruction's id; the same on every re-send
    orderId: str
    jobNumber: str
    description: str
    quantity: int  # good units to make
    material: str
    issuedAt: str


@dataclass(frozen=True, slots=True)
class Withdraw:
    """HMI -> shopfloor: stop the instruction ``instructionId`` and report its final totals."""

    TYPE: ClassVar[str] = "withdraw"
    msgId: str
    instructionId: str
    reason: str
    issuedAt: str


@dataclass(frozen=True, slots=True)
class Resume:
    """HMI -> shopfloor: in answer to a hello, go on with ``instructionId`` (it is still yours)."""

    TYPE: ClassVar[str] = "resume"
    msgId: str
    instructionId: str
    issuedAt: str


@dataclass(frozen=True, slots=True)
class Ack:
    """Either way: the message ``ackFor`` has arrived and is stored; stop re-sending it."""

    TYPE: ClassVar[str] = "ack"
    ackFor: str
    shopfloorId: str


@dataclass(frozen=True, slots=True)
class Report:
    """Shopfloor -> HMI: the running totals of one instruction; ``final`` when it is finished or withdrawn."""

    TYPE: ClassVar[str] = "report"
    msgId: str  # "<instructionId>/<seq>"
    instructionId: str
    orderId: str
    shopfloorId: str
    seq: int  # 1, 2, 3 ... per instruction
    produced: int  # good units so far (running total)
    defective: int  # rejected units so far (running total)
    timestamp: str
    final: bool = False
    withdrawn: bool = False  # final because of a withdraw: this confirms the withdrawal


@dataclass(frozen=True, slots=True)
class Hello:
    """Shopfloor -> HMI, once after its process starts: the unfinished instructions it holds, paused
    until the HMI answers each with resume or withdraw."""

    TYPE: ClassVar[str] = "hello"
    msgId: str
    shopfloorId: str
    instructions: tuple[str, ...]
    timestamp: str


class MachineState(str, Enum):
    """A shopfloor machine's state in a machine message (the andon work consumes these)."""

    STOPPED = "stopped"
    RUNNING = "running"


@dataclass(frozen=True, slots=True)
class Machine:
    """Shopfloor -> HMI: a machine stopped (with a reason) or runs again."""

    TYPE: ClassVar[str] = "machine"
    msgId: str
    shopfloorId: str
    machine: str
    state: MachineState
    reason: str
    timestamp: str


class Activity(str, Enum):
    """What a shopfloor says it is doing, in its heartbeat."""

    PRODUCING = "producing"
    IDLE = "idle"
    STOPPED = "stopped"  # a machine stop


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Shopfloor -> HMI every 2 s: alive, its capacity and what it is doing."""

    TYPE: ClassVar[str] = "heartbeat"
    shopfloorId: str
    capacity: float  # good units per hour at full speed
    activity: Activity
    queued: int  # instructions it holds unfinished
    timestamp: str
    seq: int = 0  # counts up from 1 at process start


Message = Union[Instruction, Withdraw, Resume, Ack, Report, Hello, Machine, Heartbeat]
_TYPES: dict[str, type] = {cls.TYPE: cls for cls in (Instruction, Withdraw, Resume, Ack, Report, Hello, Machine, Heartbeat)}
# Which message types may come on which channel.
ALLOWED: dict[Channel, frozenset[str]] = {
    Channel.INSTRUCTIONS: frozenset({"instruction", "withdraw", "resume", "ack"}),
    Channel.REPORTS: frozenset({"report", "hello", "machine", "ack"}),
    Channel.HEARTBEAT: frozenset({"heartbeat"}),
}
_ENUMS: dict[str, type[Enum]] = {"state": MachineState, "activity": Activity}
_TIMES = frozenset({"issuedAt", "timestamp"})


def encode(message: Message) -> bytes:
    """The message as the UTF-8 JSON payload that goes on the wire."""
    body: dict[str, Any] = {"type": message.TYPE, "v": VERSION}
    for key, value in asdict(message).items():
        body[key] = value.value if isinstance(value, Enum) else list(value) if isinstance(value, tuple) else value
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode(payload: bytes, channel: Channel | None = None) -> Message:
    """The message in a payload; MessageError naming the fault for anything that is not a valid one.

    With ``channel`` given, a type that does not belong on that channel is refused too.
    """
    if not payload:
        raise MessageError("empty payload (0 bytes)")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MessageError(f"payload of {len(payload):,} bytes is over the limit of {MAX_MESSAGE_BYTES:,}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MessageError(f"payload is not UTF-8 (byte {error.start})") from None
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise MessageError(f"payload is not JSON ({error.msg} at {error.pos})") from None
    if not isinstance(body, dict):
        raise MessageError(f"payload is a JSON {type(body).__name__}, not an object")
    kind = body.pop("type", None)
    if kind not in _TYPES:
        raise MessageError(f"unknown message type {str(kind)[:40]!r}")
    if channel is not None and kind not in ALLOWED[channel]:
        raise MessageError(f"{_article(kind)} {kind} message does not belong on the {channel.value} topic")
    version = body.pop("v", None)
    if version != VERSION:
        raise MessageError(f"{kind} message of version {str(version)[:20]}; this HMI reads version {VERSION}")
    return _build(_TYPES[kind], body)


def _no_constant(name: str) -> float:
    raise MessageError(f"payload holds {name}, which is not a number")


def _build(cls: type, body: dict[str, Any]) -> Message:
    fields = cls.__dataclass_fields__
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise MessageError(f"{cls.TYPE} message has unknown field {unknown[0][:40]!r}")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in body:
            if _required(spec):
                raise MessageError(f"{cls.TYPE} message lacks {name!r}")
            continue
        values[name] = _check(cls.TYPE, name, spec.type, body[name])
    return cls(**values)


def _required(spec: Any) -> bool:
    return spec.default is MISSING and spec.default_factory is MISSING


def _check(kind: str, name: str, declared: Any, value: Any) -> Any:
    declared = declared if isinstance(declared, str) else getattr(declared, "__name__", str(declared))
    where = f"{kind} message field {name!r}"
    if name in _ENUMS:
        try:
            return _ENUMS[name](value)
        except ValueError:
            choices = ", ".join(m.value for m in _ENUMS[name])
            raise MessageError(f"{where} is {str(value)[:40]!r}; expected one of {choices}") from None
    if declared == "bool":
        if not isinstance(value, bool):
            raise MessageError(f"{where} must be true or false")
        return value
    if declared == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
            raise MessageError(f"{where} must be a whole number from 0, not {str(value)[:40]!r}")
        return value
    if declared == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise MessageError(f"{where} must be a finite number from 0, not {str(value)[:40]!r}")
        return float(value)
    if declared.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value):
            raise MessageError(f"{where} must be a list of ids")
        return tuple(value)
    if not isinstance(value, str):
        raise MessageError(f"{where} must be a string")
    if name == "shopfloorId" and not SHOPFLOOR_ID.match(value):
        raise MessageError(f"{where} {value[:40]!r} is not a shopfloor id (letters, digits, _ and -)")
    if name in _TIMES:
        parse_time(value)
    elif name != "description" and name != "reason" and not 0 < len(value) <= 200:
        raise MessageError(f"{where} must be 1 to 200 characters")
    elif len(value) > 2000:
        raise MessageError(f"{where} is over 2,000 characters")
    return value


def report_id(instruction_id: str, seq: int) -> str:
    """The msgId of a report: ``<instructionId>/<seq>``."""
    return f"{instruction_id}/{seq}"


@dataclass(slots=True)
class Totals:
    """The running totals of one instruction as far as the reports so far tell (highest seq wins)."""

    seq: int = 0
    produced: int = 0
    defective: int = 0
    final: bool = False
    withdrawn: bool = False

    def apply(self, report: Report) -> bool:
        """Take a report in; True if it changed the totals (False for a duplicate or a stale one)."""
        if report.seq <= self.seq:
            return False
        self.seq, self.produced, self.defective = report.seq, report.produced, report.defective
        self.final, self.withdrawn = report.final, report.withdrawn
        return True


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
