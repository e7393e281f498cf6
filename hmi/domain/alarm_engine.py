"""The alarm engine: the ISA-18.2 life cycle of every alarm as an explicit state machine.

Two things are tracked per alarm and kept apart: the *process condition* (is the alarm active, after
on-delay, off-delay and deadband) and the *operator state* (NORMAL, UNACK, ACKED, RTN_UNACK, or one of
the states that take it off the operator's list: SHELVED, SUPPRESSED, OUT_OF_SERVICE). The condition is
evaluated in every state, so an alarm that comes back from shelving or service lands in the state the
process dictates (UNACK when active, NORMAL otherwise).

Every transition returns an AlarmEvent for the journal. Commands check only that the transition is
valid; who may command it is the service layer's business (hmi.domain.permissions). Not thread-safe:
one owner (the event loop's thread), like the tag bus.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.tags import Quality, TagValue

PERSISTENT_AFTER_S = 5 * 60.0  # active without a break this long: persistent (seed 000)
DEFAULT_MAX_SHELVE_S = 8 * 3600.0  # one shift


class AlarmState(str, Enum):
    """The operator-facing state of an alarm (ISA-18.2)."""

    NORMAL = "normal"
    UNACK = "unack"  # active, unacknowledged
    ACKED = "acked"  # active, acknowledged
    RTN_UNACK = "rtn_unack"  # returned to normal, unacknowledged (latched until acknowledged)
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"  # by design
    OUT_OF_SERVICE = "out_of_service"


_HIDDEN = frozenset({AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE})
_UNACKED = frozenset({AlarmState.UNACK, AlarmState.RTN_UNACK})


class AlarmError(ValueError):
    """A command that is not a valid transition for the alarm's state; the message is one line."""


def command_target(alarm_id: str, what: str, state: AlarmState, active: bool, reason: str = "") -> AlarmState:
    """The state an operator command takes an alarm to from ``state``; AlarmError when it is not a valid command.

    The one rule for the engine and for the services that work out a command from a snapshot (the CLI).
    """
    comes_back = AlarmState.UNACK if active else AlarmState.NORMAL
    if what == "ack":
        if state not in _UNACKED:
            raise AlarmError(f"cannot acknowledge {alarm_id}: it is {state.value}, not unacknowledged")
        return AlarmState.ACKED if state is AlarmState.UNACK else AlarmState.NORMAL
    if what == "shelve":
        if state in _HIDDEN:
            raise AlarmError(f"cannot shelve {alarm_id}: it is {state.value}")
        if not reason.strip():
            raise AlarmError(f"cannot shelve {alarm_id}: a reason is required")
        return AlarmState.SHELVED
    if what == "unshelve":
        if state is not AlarmState.SHELVED:
            raise AlarmError(f"cannot unshelve {alarm_id}: it is {state.value}, not shelved")
        return comes_back
    if what in ("suppress", "out_of_service"):
        words = what.replace("_", " ")
        if state is AlarmState.SUPPRESSED or state is AlarmState.OUT_OF_SERVICE:
            raise AlarmError(f"cannot {words} {alarm_id}: it is {state.value}; return it to service first")
        if not reason.strip():
            raise AlarmError(f"cannot {words} {alarm_id}: a reason is required")
        return AlarmState.SUPPRESSED if what == "suppress" else AlarmState.OUT_OF_SERVICE
    if what == "return_to_service":
        if state is not AlarmState.SUPPRESSED and state is not AlarmState.OUT_OF_SERVICE:
            raise AlarmError(f"cannot return {alarm_id} to service: it is {state.value}")
        return comes_back
    raise AlarmError(f"{what!r} is not an alarm command")


def check_shelve_duration(alarm_id: str, duration_s: float, max_s: float) -> None:
    """AlarmError unless 0 < duration_s <= max_s."""
    if not 0 < duration_s <= max_s:
        raise AlarmError(f"cannot shelve {alarm_id} for {duration_s:g} s: the maximum is {max_s:g} s")


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One transition (or the persistent mark, where from_state == to_state) as the journal stores it.

    ``ts`` is UTC epoch seconds: the sample's source time for process transitions, the clock for
    commands and time-driven transitions. ``what`` names the cause (activate, return, ack, shelve,
    unshelve, shelve_ended, suppress, out_of_service, return_to_service, persistent).
    """

    ts: float
    alarm_id: str
    from_state: AlarmState
    to_state: AlarmState
    what: str
    value: float | None = None
    user: str = ""
    comment: str = ""


@dataclass(frozen=True, slots=True)
class AlarmStatus:
    """A snapshot of one alarm for the pane, the banner and the CLI."""

    alarm_id: str
    tag: str
    kind: AlarmKind
    priority: int
    message: str
    state: AlarmState
    active: bool
    persistent: bool
    activated_at: float | None
    since: float
    value: float | None
    user: str
    reason: str
    shelved_until: float | None

    @property
    def sort_key(self) -> tuple[int, float]:
        """Priority first (1 on top), then the newest activation (or state change) first."""
        return (self.priority, -(self.activated_at if self.activated_at is not None else self.since))


class _Alarm:
    """The mutable record of one alarm (engine-internal)."""

    __slots__ = (
        "defn", "alarm_id", "limit", "high", "clear_at", "on_delay", "off_delay", "state", "active",
        "pending_since", "clear_since", "activated_at", "persistent", "since", "value", "user", "reason",
        "shelved_until",
    )  # fmt: skip

    def __init__(self, defn: AlarmDefinition) -> None:
        self.defn = defn
        self.alarm_id = defn.alarm_id
        self.limit = defn.limit
        self.high = defn.kind.is_high
        self.clear_at = defn.limit - defn.deadband if self.high else defn.limit + defn.deadband
        self.on_delay = defn.on_delay_s
        self.off_delay = defn.off_delay_s
        self.state = AlarmState.NORMAL
        self.active = False
        self.pending_since: float | None = None  # condition true, waiting for the on-delay
        self.clear_since: float | None = None  # condition clear, waiting for the off-delay
        self.activated_at: float | None = None
        self.persistent = False
        self.since = 0.0
        self.value: float | None = None
        self.user = ""
        self.reason = ""
        self.shelved_until: float | None = None


class AlarmEngine:
    """Evaluates tag values and link changes against alarm definitions and carries out operator commands."""

    def __init__(self, definitions: Iterable[AlarmDefinition], clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._alarms: dict[str, _Alarm] = {}
        self._by_tag: dict[str, list[_Alarm]] = {}
        self._by_endpoint: dict[str, list[_Alarm]] = {}
        self._timed: dict[str, _Alarm] = {}  # alarms tick() must look at: delays, shelving, persistence
        for defn in definitions:
            if defn.alarm_id in self._alarms:
                raise ValueError(f"alarm {defn.alarm_id!r} is defined twice")
            alarm = _Alarm(defn)
            self._alarms[defn.alarm_id] = alarm
            if defn.kind.is_limit:
                self._by_tag.setdefault(defn.tag, []).append(alarm)
            elif defn.kind is AlarmKind.COMM_LOSS:
                self._by_endpoint.setdefault(defn.endpoint, []).append(alarm)

    # ----- process inputs -------------------------------------------------------------------------

    def update(self, values: Iterable[TagValue]) -> list[AlarmEvent]:
        """Evaluate a batch of tag values (only the definitions of those tags); the transitions it caused."""
        events: list[AlarmEvent] = []
        by_tag = self._by_tag
        bad = Quality.BAD
        for tv in values:
            group = by_tag.get(tv.tag)
            if group is None:
                continue
            v = tv.value
            if v is None or tv.quality is bad:
                # Hold: a bad value neither raises nor clears; pending delays start over on good data.
                for a in group:
                    a.pending_since = a.clear_since = None
                continue
            ts = tv.source_ts
            for a in group:
                a.value = v
                if a.active:
                    clear = v < a.clear_at if a.high else v > a.clear_at
                    if clear or a.clear_since is not None:
                        self._drive(a, v > a.limit if a.high else v < a.limit, clear, ts, events)
                    elif not a.persistent and a.activated_at is not None and ts - a.activated_at >= PERSISTENT_AFTER_S:
                        self._mark_persistent(a, a.activated_at + PERSISTENT_AFTER_S, events)
                else:
                    trip = v > a.limit if a.high else v < a.limit
                    if trip or a.pending_since is not None:
                        self._drive(a, trip, v < a.clear_at if a.high else v > a.clear_at, ts, events)
        return events

    def link(self, endpoint: str, up: bool, ts: float | None = None) -> list[AlarmEvent]:
        """An endpoint's link went up or down: drives its COMM_LOSS alarms (with their delays)."""
        events: list[AlarmEvent] = []
        now = self._clock() if ts is None else ts
        for a in self._by_endpoint.get(endpoint, ()):
            self._drive(a, not up, up, now, events)
        return events

    def set_condition(
        self, alarm_id: str, active: bool, value: float | None = None, ts: float | None = None
    ) -> list[AlarmEvent]:
        """Set the condition of an alarm decided elsewhere (an ANOMALY detector), with its delays."""
        a = self._get(alarm_id)
        events: list[AlarmEvent] = []
        if value is not None:
            a.value = value
        self._drive(a, active, not active, self._clock() if ts is None else ts, events)
        return events

    def tick(self, now: float | None = None) -> list[AlarmEvent]:
        """Time-driven transitions: elapsed on/off delays, the end of shelving, the persistent mark."""
        now = self._clock() if now is None else now
        events: list[AlarmEvent] = []
        for a in list(self._timed.values()):
            if a.pending_since is not None and now - a.pending_since >= a.on_delay:
                self._activate(a, a.pending_since + a.on_delay, events)
            if a.clear_since is not None and now - a.clear_since >= a.off_delay:
                self._return(a, a.clear_since + a.off_delay, events)
            if a.active and not a.persistent and a.activated_at is not None and now - a.activated_at >= PERSISTENT_AFTER_S:
                self._mark_persistent(a, a.activated_at + PERSISTENT_AFTER_S, events)
            if a.state is AlarmState.SHELVED and a.shelved_until is not None and now >= a.shelved_until:
                self._come_back(a, a.shelved_until, "shelve_ended", "", "shelving ended", events)
            self._watch(a)
        return events

    # ----- operator commands ----------------------------------------------------------------------

    def ack(self, alarm_ids: Iterable[str] | str, user: str, comment: str = "") -> list[AlarmEvent]:
        """Acknowledge alarms (all or none): UNACK -> ACKED, RTN_UNACK -> NORMAL."""
        ids = [alarm_ids] if isinstance(alarm_ids, str) else list(alarm_ids)
        alarms = [self._get(i) for i in ids]
        targets = [command_target(a.alarm_id, "ack", a.state, a.active) for a in alarms]
        now = self._clock()
        events: list[AlarmEvent] = []
        for a, to in zip(alarms, targets):
            self._set(a, to, now, "ack", events, user, comment)
        return events

    def shelve(
        self,
        alarm_id: str,
        user: str,
        duration_s: float,
        reason: str,
        max_s: float = DEFAULT_MAX_SHELVE_S,
        now: float | None = None,
    ) -> list[AlarmEvent]:
        """Shelve an alarm for duration_s (0 < duration_s <= max_s) from ``now`` with a reason; it unshelves itself."""
        a = self._get(alarm_id)
        to = command_target(alarm_id, "shelve", a.state, a.active, reason)
        check_shelve_duration(alarm_id, duration_s, max_s)
        now = self._clock() if now is None else now
        a.shelved_until = now + duration_s
        a.user, a.reason = user, reason
        events: list[AlarmEvent] = []
        self._set(a, to, now, "shelve", events, user, reason)
        self._watch(a)
        return events

    def unshelve(self, alarm_id: str, user: str, comment: str = "") -> list[AlarmEvent]:
        """End a shelving early: back to the state the process dictates."""
        a = self._get(alarm_id)
        command_target(alarm_id, "unshelve", a.state, a.active)
        events: list[AlarmEvent] = []
        self._come_back(a, self._clock(), "unshelve", user, comment, events)
        return events

    def suppress(self, alarm_id: str, user: str, reason: str) -> list[AlarmEvent]:
        """Suppress an alarm by design (plant state), with a reason and who."""
        return self._take_out(alarm_id, "suppress", user, reason)

    def out_of_service(self, alarm_id: str, user: str, reason: str) -> list[AlarmEvent]:
        """Take an alarm out of service (maintenance, broken instrument), with a reason and who."""
        return self._take_out(alarm_id, "out_of_service", user, reason)

    def return_to_service(self, alarm_id: str, user: str, comment: str = "") -> list[AlarmEvent]:
        """End a suppression or out-of-service: back to the state the process dictates."""
        a = self._get(alarm_id)
        command_target(alarm_id, "return_to_service", a.state, a.active)
        events: list[AlarmEvent] = []
        self._come_back(a, self._clock(), "return_to_service", user, comment, events)
        return events

    def restore_latched(self, alarm_id: str, since: float, value: float | None = None) -> None:
        """At start-up: a NORMAL alarm the journal shows returned but unacknowledged becomes RTN_UNACK again,
        since the journal's time of that return (and with its value)."""
        a = self._get(alarm_id)
        if a.state is AlarmState.NORMAL and not a.active:
            a.state, a.since, a.value = AlarmState.RTN_UNACK, since, value

    # ----- views ----------------------------------------------------------------------------------

    def status(self, alarm_id: str) -> AlarmStatus:
        """A snapshot of one alarm; AlarmError names an unknown id."""
        return self._status(self._get(alarm_id))

    def active(self) -> list[AlarmStatus]:
        """Every alarm not NORMAL, by priority (1 first), then newest activation first."""
        rows = [self._status(a) for a in self._alarms.values() if a.state is not AlarmState.NORMAL]
        rows.sort(key=lambda s: s.sort_key)
        return rows

    def unacked_counts(self) -> dict[int, int]:
        """How many alarms are unacknowledged (UNACK or RTN_UNACK), per priority 1-4 (for the banner)."""
        counts = {1: 0, 2: 0, 3: 0, 4: 0}
        for a in self._alarms.values():
            if a.state in _UNACKED:
                counts[a.defn.priority] += 1
        return counts

    @property
    def definitions(self) -> list[AlarmDefinition]:
        """The definitions, in the order given."""
        return [a.defn for a in self._alarms.values()]

    # ----- the machine ----------------------------------------------------------------------------

    def _get(self, alarm_id: str) -> _Alarm:
        try:
            return self._alarms[alarm_id]
        except KeyError:
            raise AlarmError(f"no alarm {alarm_id!r}") from None

    def _drive(self, a: _Alarm, trip: bool, clear: bool, ts: float, events: list[AlarmEvent]) -> None:
        """Apply the condition of one sample: on-delay before activating, off-delay before returning.

        ``trip`` is the condition to activate, ``clear`` the (deadbanded) condition to return; both are
        given, as a delay that ran out before this sample (with no tick in between) changes the state
        the sample is then judged in.
        """
        if a.pending_since is not None and ts - a.pending_since >= a.on_delay:
            self._activate(a, a.pending_since + a.on_delay, events)
        elif a.clear_since is not None and ts - a.clear_since >= a.off_delay:
            self._return(a, a.clear_since + a.off_delay, events)
        if a.active:
            a.pending_since = None
            if not clear:
                a.clear_since = None
            elif a.off_delay <= 0:
                self._return(a, ts, events)
            elif a.clear_since is None:
                a.clear_since = ts
        else:
            a.clear_since = None
            if not trip:
                a.pending_since = None
            elif a.on_delay <= 0:
                self._activate(a, ts, events)
            elif a.pending_since is None:
                a.pending_since = ts
        self._watch(a)

    def _activate(self, a: _Alarm, ts: float, events: list[AlarmEvent]) -> None:
        a.active, a.pending_since, a.clear_since = True, None, None
        a.activated_at, a.persistent = ts, False
        if a.state is AlarmState.NORMAL or a.state is AlarmState.RTN_UNACK:
            self._set(a, AlarmState.UNACK, ts, "activate", events)
        elif a.state in _HIDDEN:  # not annunciated, but the journal keeps the condition (health, restarts)
            self._set(a, a.state, ts, "activate", events)

    def _return(self, a: _Alarm, ts: float, events: list[AlarmEvent]) -> None:
        a.active, a.pending_since, a.clear_since, a.persistent = False, None, None, False
        if a.state is AlarmState.UNACK:
            self._set(a, AlarmState.RTN_UNACK, ts, "return", events)
        elif a.state is AlarmState.ACKED:
            self._set(a, AlarmState.NORMAL, ts, "return", events)
        elif a.state in _HIDDEN:
            self._set(a, a.state, ts, "return", events)

    def _mark_persistent(self, a: _Alarm, ts: float, events: list[AlarmEvent]) -> None:
        a.persistent = True
        if a.state not in _HIDDEN:
            events.append(AlarmEvent(ts, a.alarm_id, a.state, a.state, "persistent", a.value, "", "active for 5 min"))

    def _take_out(self, alarm_id: str, what: str, user: str, reason: str) -> list[AlarmEvent]:
        a = self._get(alarm_id)
        to = command_target(alarm_id, what, a.state, a.active, reason)
        a.user, a.reason, a.shelved_until = user, reason, None
        events: list[AlarmEvent] = []
        self._set(a, to, self._clock(), what, events, user, reason)
        self._watch(a)
        return events

    def _come_back(self, a: _Alarm, ts: float, what: str, user: str, comment: str, events: list[AlarmEvent]) -> None:
        """Leave SHELVED/SUPPRESSED/OUT_OF_SERVICE for UNACK (condition active) or NORMAL."""
        a.user, a.reason, a.shelved_until = "", "", None
        self._set(a, AlarmState.UNACK if a.active else AlarmState.NORMAL, ts, what, events, user, comment)
        self._watch(a)

    def _set(
        self, a: _Alarm, to: AlarmState, ts: float, what: str, events: list[AlarmEvent], user: str = "", comment: str = ""
    ) -> None:
        events.append(AlarmEvent(ts, a.alarm_id, a.state, to, what, a.value, user, comment))
        a.state, a.since = to, ts

    def _watch(self, a: _Alarm) -> None:
        """Keep the alarm on tick()'s list while something about it depends on time."""
        if (
            a.pending_since is not None
            or a.clear_since is not None
            or a.shelved_until is not None
            or (a.active and not a.persistent)
        ):
            self._timed[a.alarm_id] = a
        else:
            self._timed.pop(a.alarm_id, None)

    def _status(self, a: _Alarm) -> AlarmStatus:
        d = a.defn
        return AlarmStatus(
            d.alarm_id, d.tag, d.kind, d.priority, d.message, a.state, a.active, a.persistent,
            a.activated_at, a.since, a.value, a.user, a.reason, a.shelved_until,
        )  # fmt: skip
