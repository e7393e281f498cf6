"""Alarm commands as a user gives them (acknowledge, shelve, suppress, ...): checked, journaled, audited.

The GUI and `hmi alarm` give a command with one call, ``AlarmCenter.command(actor, cmd)``, which runs
``carry_out`` in an executor with a snapshot of the alarms' states (the live engine's on a workstation,
the journal's on the command line). It works out each alarm's transition by the engine's own rule
(``command_target``), then writes the journal entries and the audit record in one transaction: both
or neither. The alarm center applies the written entries to its engine (the other workstations read
them back from the journal and apply them to theirs).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from hmi.domain.alarm_defs import AlarmDefinition
from hmi.domain.alarm_engine import AlarmError, AlarmState, check_shelve_duration, command_target
from hmi.domain.alarm_journal import COMMANDS, JournalEntry, twin_of
from hmi.domain.permissions import Action
from hmi.services.commands import Change, CommandService
from hmi.store import alarm_journal

ACTIONS: Mapping[str, Action] = {
    "ack": Action.ACK_ALARM,
    "shelve": Action.SHELVE_ALARM,
    "unshelve": Action.SHELVE_ALARM,
    "suppress": Action.SUPPRESS_ALARM,
    "out_of_service": Action.SUPPRESS_ALARM,
    "return_to_service": Action.SUPPRESS_ALARM,
}
NEEDS_REASON = frozenset({"shelve", "suppress", "out_of_service"})


@dataclass(frozen=True, slots=True)
class AlarmCommand:
    """What the user asked: a command, the alarms, a comment (the reason where one is needed), a shelving time."""

    what: str
    alarm_ids: tuple[str, ...]
    comment: str = ""
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.what not in COMMANDS:
            raise AlarmError(f"{self.what!r} is not an alarm command; commands are: {', '.join(sorted(COMMANDS))}")
        if not self.alarm_ids:
            raise AlarmError(f"{self.what}: no alarm given")


@dataclass(frozen=True, slots=True)
class AlarmSnapshot:
    """What a command needs to know of one alarm: its state and whether its condition is active."""

    state: AlarmState
    active: bool


def carry_out(
    commands: CommandService,
    definitions: Mapping[str, AlarmDefinition],
    snapshot: Mapping[str, AlarmSnapshot],
    command: AlarmCommand,
    *,
    max_shelve_s: float,
    clock: Callable[[], float] = time.time,
) -> list[JournalEntry]:
    """Check, journal and audit one command over its alarms (all or none); the journal entries written.

    Raises PermissionDenied (audited as denied), AlarmError when an alarm is unknown or not in a state
    the command applies to (audited as refused; nothing is written), DatabaseUnavailable or
    AuditUnavailable (nothing is written).
    """
    action = ACTIONS[command.what]
    target = ", ".join(command.alarm_ids) if len(command.alarm_ids) <= 5 else f"{len(command.alarm_ids)} alarms"
    request = Change(new=command.what, detail=_detail(command))
    actor = commands.authorize(action, target, request)
    now = clock()
    try:
        entries = [_entry(definitions, snapshot, command, alarm_id, actor.name, commands.workstation, now,
                          max_shelve_s) for alarm_id in command.alarm_ids]  # fmt: skip
    except AlarmError as error:
        commands.refuse(action, target, request, error)
        raise

    def do(conn: Connection, change: Change) -> list[JournalEntry]:
        change.old = ", ".join(sorted({e.from_state.value for e in entries}))
        change.new = ", ".join(sorted({e.to_state.value for e in entries}))
        change.detail = _detail(command)
        return alarm_journal.append(conn, entries)

    return commands.run(action, target, do)


def _detail(command: AlarmCommand) -> str:
    parts = []
    if command.duration_s is not None:
        parts.append(f"for {format_duration(command.duration_s)}")
    if command.comment:
        parts.append(f"{'reason' if command.what in NEEDS_REASON else 'comment'}: {command.comment}")
    return "; ".join(parts)


def _entry(
    definitions: Mapping[str, AlarmDefinition],
    snapshot: Mapping[str, AlarmSnapshot],
    command: AlarmCommand,
    alarm_id: str,
    user: str,
    workstation: str,
    now: float,
    max_shelve_s: float,
) -> JournalEntry:
    defn = definitions.get(alarm_id)
    if defn is None:
        raise AlarmError(f"there is no alarm {alarm_id!r}; `hmi alarm list --all` shows the alarm ids")
    current = snapshot.get(alarm_id, AlarmSnapshot(AlarmState.NORMAL, False))
    to = command_target(alarm_id, command.what, current.state, current.active, command.comment)
    until = None
    if command.what == "shelve":
        if command.duration_s is None:
            raise AlarmError(f"cannot shelve {alarm_id}: give how long")
        check_shelve_duration(alarm_id, command.duration_s, max_shelve_s)
        until = now + command.duration_s
    return JournalEntry(
        ts=now, alarm_id=alarm_id, tag=defn.tag, twin=twin_of(defn), kind=defn.kind, priority=defn.priority,
        from_state=current.state, to_state=to, what=command.what, user=user, comment=command.comment,
        until=until, workstation=workstation, message=defn.message,
    )  # fmt: skip


def format_duration(seconds: float) -> str:
    """A shelving time in words: '45 min', '2 h', '1 h 30 min', '20 s'."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    h, m = divmod(s // 60, 60)
    if h and m:
        return f"{h} h {m} min"
    return f"{h} h" if h else f"{m} min"


def parse_duration(text: str) -> float:
    """A shelving time typed as '90s', '30m', '30 min', '2h', '1h30m' or plain seconds; AlarmError otherwise."""
    t = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)(?:m|min))?(?:(\d+)s)?", t)
    if not t or m is None or not any(m.groups()):
        raise AlarmError(f"{text!r} is not a duration; write e.g. 30m, 2h, 1h30m or 90s")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


def snapshot_from_journal(
    states: Mapping[str, alarm_journal.LatestState], now: float | None = None
) -> dict[str, AlarmSnapshot]:
    """The alarms' states as the journal last recorded them (for a command given where no engine runs).

    A shelving whose time is up counts as ended even when no workstation was running to journal it.
    """
    now = time.time() if now is None else now
    return {alarm_id: AlarmSnapshot(journal_state(s, now), s.active) for alarm_id, s in states.items()}


def journal_state(state: alarm_journal.LatestState, now: float) -> AlarmState:
    """An alarm's state by the journal's last entry, with an expired shelving taken as ended."""
    e = state.entry
    if e.to_state is AlarmState.SHELVED and e.until is not None and e.until <= now:
        return AlarmState.UNACK if state.active else AlarmState.NORMAL
    return e.to_state


def ids_in(snapshot: Mapping[str, AlarmSnapshot], states: Sequence[AlarmState]) -> list[str]:
    """The alarm ids whose state is one of ``states`` (e.g. every unacknowledged alarm)."""
    return sorted(a for a, s in snapshot.items() if s.state in states)
