"""The alarm journal's record: one alarm event with what it is about, as stored and queried.

The journal (table ``alarm_journal``) holds every transition of every alarm. Process transitions
(activate, return, persistent, shelve_ended) are written by one workstation, the journal holder
(hmi.services.alarm_center); operator commands (ack, shelve, ...) by the workstation or CLI that gave
them, in the same transaction as their audit record. Other workstations read the commands back and
apply them to their own engine: that is how an acknowledgement is shared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.alarm_engine import AlarmEvent, AlarmState

# Causes that are operator commands (shared between workstations) and the rest, which the process
# or the clock caused (each workstation's engine works them out for itself).
COMMANDS = frozenset({"ack", "shelve", "unshelve", "suppress", "out_of_service", "return_to_service"})
PROCESS = frozenset({"activate", "return", "persistent", "shelve_ended"})


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One alarm event with its alarm's tag, twin, kind, priority and message, and where it was given.

    ``ts`` is UTC epoch seconds. ``until`` is the end of a shelving (shelve events only). ``entry_id``
    is the journal's row id, 0 before the row is written.
    """

    ts: float
    alarm_id: str
    tag: str
    twin: str
    kind: AlarmKind
    priority: int
    from_state: AlarmState
    to_state: AlarmState
    what: str
    value: float | None = None
    user: str = ""
    comment: str = ""
    until: float | None = None
    workstation: str = ""
    message: str = ""
    entry_id: int = 0

    @property
    def is_command(self) -> bool:
        """True for an operator command (ack, shelve, unshelve, suppress, out_of_service, return_to_service)."""
        return self.what in COMMANDS


@dataclass(frozen=True, slots=True)
class JournalQuery:
    """A filter over the journal: time range (UTC epoch s, end exclusive), twin, priority, user, alarm."""

    start: float | None = None
    end: float | None = None
    twin: str | None = None
    priority: int | None = None
    user: str | None = None
    alarm_id: str | None = None
    what: Iterable[str] | None = None
    limit: int | None = 100_000
    newest_first: bool = False


def journal_entry(
    event: AlarmEvent, defn: AlarmDefinition, twin: str, workstation: str, until: float | None = None
) -> JournalEntry:
    """The journal record of an engine event, with its definition's facts and the workstation's name."""
    return JournalEntry(
        ts=event.ts, alarm_id=event.alarm_id, tag=defn.tag, twin=twin, kind=defn.kind, priority=defn.priority,
        from_state=event.from_state, to_state=event.to_state, what=event.what, value=event.value,
        user=event.user, comment=event.comment, until=until, workstation=workstation, message=defn.message,
    )  # fmt: skip


def twin_of(defn: AlarmDefinition) -> str:
    """The twin an alarm belongs to: the first part of its tag id (``''`` for a communication-loss alarm)."""
    return defn.tag.split(".", 1)[0] if defn.tag else ""
