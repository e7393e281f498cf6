"""The alarm system of one workstation (or `hmi collect`): engine, journal, shared commands.

Every workstation evaluates the alarms itself, from its own PLC connections, so its alarm list works
when the database or another workstation is away. The database is shared through the journal:

- **Process events** (activate, return, persistent, shelve_ended) are written by the *journal holder*:
  every workstation queues its events, and at each sync the one that holds the lease ``journal``
  (renewed at each sync, taken over by another when it lapses) writes them while the others drop
  theirs. The lease is held by a process, not by a workstation's name (``lease_name``): the collector
  on the plant server and a window beside it, or a window started twice, run under one name, and
  only one of them may be the holder; the records still carry the workstation's name. So each event
  is in the journal once, however many workstations run, and a workstation that starts while the
  database is away keeps its events until it can ask. A follower keeps what it did not write a
  little longer than the lease lives: if the holder goes away without a word, the one that takes over
  writes the events of the gap that the journal lacks. The holder is also the one that tells the
  e-mail notifier (on_journaled), so a mail goes out once.
- **Commands** (ack, shelve, ...) are one call, ``await center.command(actor, cmd)``, for the window
  and `hmi alarm` alike: checked (role, the alarms' states), written by whoever gave them with their
  audit record in one transaction (hmi.services.alarm_commands), and applied here. Each workstation
  reads the journal every ``sync_every_s`` and applies the commands given elsewhere to its own
  engine: an acknowledgement on one screen shows on the others within about a second.
- At start-up the journal's last word on each alarm is restored: shelving (with its end), suppression,
  out of service, latched alarms, and acknowledgements of alarms still active.

Runs on the event loop's thread (the engine's owner); database work goes to an executor.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import exc
from sqlalchemy.engine import Engine

from hmi.domain.alarm_defs import AlarmDefinition
from hmi.domain.alarm_engine import AlarmEngine, AlarmError, AlarmEvent, AlarmState, AlarmStatus
from hmi.domain.alarm_journal import PROCESS, JournalEntry, journal_entry, twin_of
from hmi.domain.permissions import Principal
from hmi.domain.tags import TagValue
from hmi.io.link import LinkState, LinkStatus
from hmi.services.alarm_commands import AlarmCommand, AlarmSnapshot, carry_out, snapshot_from_journal
from hmi.services.commands import CommandService
from hmi.store import alarm_journal
from hmi.store.alarm_journal import JournalQuery
from hmi.store.db import one_line
from hmi.store.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

# A command read back from another workstation for an alarm that is not (yet) in a state it applies
# to here (this engine saw the activation a moment later) is retried for this long.
PENDING_S = 10.0
# At start-up, an acknowledgement the journal holds for an alarm still active is applied when this
# engine activates the alarm within this long.
STARTUP_ACK_S = 30.0
# A remote acknowledgement does not apply to an activation this much newer than it.
ACK_SLACK_S = 2.0
JOURNAL_QUEUE_LIMIT = 200_000
# A follower keeps the events it did not write this long (beyond the lease's time to live): when the
# holder went away without a word, the one that takes the lease over writes those the journal lacks.
KEEP_MARGIN_S = 5.0
# Two workstations' records of one event differ this much at most (a link change is seen at each
# one's own poll); within it a kept event counts as already journaled.
SAME_EVENT_S = 2.0


def lease_name(workstation: str) -> str:
    """This process's name on the journal lease: the workstation, the host, the process id and a nonce
    drawn now, so two processes (or two alarm centers in one) under one workstation name never share it."""
    return f"{workstation} (pid {os.getpid()} on {socket.gethostname() or 'unknown'}, {secrets.token_hex(4)})"


Detector = Callable[[Sequence[TagValue]], Iterable[tuple[str, bool, float, float]]]
Listener = Callable[[Sequence[JournalEntry]], None]


@dataclass(frozen=True, slots=True)
class AlarmCenterStats:
    """The journal's health for the status bar: holder or not, queued, written, dropped, last error."""

    holder: bool
    queued: int
    written: int
    dropped: int
    db_ok: bool
    last_error: str


class AlarmCenter:
    """One workstation's alarm system: evaluates, journals (as holder), shares and restores commands."""

    def __init__(
        self,
        definitions: Sequence[AlarmDefinition],
        db: Engine | None,
        workstation: str,
        *,
        links: Callable[[], Sequence[LinkStatus]] = tuple,
        detector: Detector | None = None,
        max_shelve_s: float = 8 * 3600.0,
        clock: Callable[[], float] = time.time,
        sync_every_s: float = 0.5,
        lease_ttl_s: float = 5.0,
        judge_by_journal: bool = False,
    ) -> None:
        self.engine = AlarmEngine(definitions, clock)
        self.definitions: dict[str, AlarmDefinition] = {d.alarm_id: d for d in definitions}
        self._twins = {d.alarm_id: twin_of(d) for d in definitions}
        self.db = db
        self.workstation = workstation
        self.lease_name = lease_name(workstation)
        self.max_shelve_s = max_shelve_s
        self._links = links
        self._detector = detector
        self._clock = clock
        self._sync_every_s = sync_every_s
        self._lease_ttl_s = lease_ttl_s
        self._judge_by_journal = judge_by_journal
        self._link_up: dict[str, bool] = {}
        self._queue: collections.deque[JournalEntry] = collections.deque()
        self._kept: collections.deque[JournalEntry] = collections.deque()  # a follower's unwritten events
        self._pending: dict[str, tuple[JournalEntry, float]] = {}  # alarm_id -> (ack to apply, until)
        self._applied: set[int] = set()
        self._last_id = 0
        self._holder = db is None
        self._written = 0
        self._dropped = 0
        self._db_ok = True
        self._last_error = ""
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._journaled: list[Listener] = []
        self.version = 0  # bumped on every change a view would show
        self._active: tuple[int, tuple[AlarmStatus, ...]] = (-1, ())  # (version, active() at that version)

    @classmethod
    def for_commands(
        cls, definitions: Sequence[AlarmDefinition], db: Engine, workstation: str, *, max_shelve_s: float
    ) -> AlarmCenter:
        """An alarm center for commands given where no engine runs (`hmi alarm ack ...`): each command is
        checked against the journal's last word on each alarm instead of a live engine's state."""
        return cls(definitions, db, workstation, max_shelve_s=max_shelve_s, judge_by_journal=True)

    # ----- wiring ---------------------------------------------------------------------------------

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(entries)`` on every change (local, remote or timed), on the loop's thread."""
        self._listeners.append(listener)

    def on_journaled(self, listener: Listener) -> None:
        """Call ``listener(entries)`` with the process events once this workstation wrote them as holder
        (for e-mail: of several workstations, only the holder sends), on the loop's thread."""
        self._journaled.append(listener)

    @property
    def holder(self) -> bool:
        """Whether this workstation writes the process events to the journal."""
        return self._holder

    def consume(self, batch: Sequence[TagValue]) -> None:
        """A tag bus consumer: evaluate the limit (and anomaly) alarms of a batch."""
        events = self.engine.update(batch)
        if self._detector is not None:
            for alarm_id, active, value, ts in self._detector(batch):
                if alarm_id in self.definitions:
                    events.extend(self.engine.set_condition(alarm_id, active, value, ts))
        if events:
            self._handle(events)

    def tick(self, now: float | None = None) -> None:
        """Time-driven transitions and link changes; the periodic task calls it, tests may too."""
        now = self._clock() if now is None else now
        events: list[AlarmEvent] = []
        for link in self._links():
            up = link.state is LinkState.UP
            if self._link_up.get(link.name) != up:
                self._link_up[link.name] = up
                events.extend(self.engine.link(link.name, up, min(link.since, now)))
        events.extend(self.engine.tick(now))
        self._pending = {k: v for k, v in self._pending.items() if v[1] > now}
        if events:
            self._handle(events)

    # ----- views ----------------------------------------------------------------------------------

    def active(self) -> tuple[AlarmStatus, ...]:
        """Every alarm not NORMAL, by priority then newest: one tuple per ``version``, shared by the views.

        Its values are those of the moment the list was first asked for after a change.
        """
        if self._active[0] != self.version:
            self._active = (self.version, tuple(self.engine.active()))
        return self._active[1]

    def snapshot(self) -> dict[str, AlarmSnapshot]:
        """The state of every alarm that is not NORMAL (what a command is checked against)."""
        return {s.alarm_id: AlarmSnapshot(s.state, s.active) for s in self.engine.active()}

    def stats(self) -> AlarmCenterStats:
        """The journal's health."""
        return AlarmCenterStats(self._holder, len(self._queue), self._written, self._dropped, self._db_ok,
                                self._last_error)  # fmt: skip

    # ----- commands -------------------------------------------------------------------------------

    async def command(self, actor: Principal, command: AlarmCommand) -> list[JournalEntry]:
        """Give ``command`` as ``actor``: check the role and the alarms' states now, journal it with its
        audit record in one transaction (in an executor), apply it to this engine; the entries written.

        Raises PermissionDenied (audited as denied), AlarmError (audited as refused), DatabaseUnavailable
        or AuditUnavailable; nothing is written or applied then.
        """
        if self.db is None:
            raise DatabaseUnavailable("this alarm system has no database, so a command cannot be journaled")
        snapshot = None if self._judge_by_journal else self.snapshot()  # on the engine's thread, at the click
        commands = CommandService(self.db, lambda: actor, self.workstation)
        loop = asyncio.get_running_loop()
        entries = await loop.run_in_executor(None, self._carry_out, commands, snapshot, command)
        if not self._judge_by_journal:  # no live engine here; the running workstations apply it
            self._apply(entries)
        return entries

    def _carry_out(
        self, commands: CommandService, snapshot: Mapping[str, AlarmSnapshot] | None, command: AlarmCommand
    ) -> list[JournalEntry]:
        """In the executor: check, journal and audit ``command`` against ``snapshot`` (None: the journal's)."""
        if snapshot is None:
            assert self.db is not None
            snapshot = snapshot_from_journal(alarm_journal.latest_states(self.db), self._clock())
        return carry_out(commands, self.definitions, snapshot, command, max_shelve_s=self.max_shelve_s,
                         clock=self._clock)  # fmt: skip

    def _apply(self, entries: Iterable[JournalEntry]) -> None:
        """Apply command entries (written here or read back from the journal) to this engine."""
        echoes: list[AlarmEvent] = []
        applied: list[JournalEntry] = []
        for entry in entries:
            if entry.entry_id:
                if entry.entry_id in self._applied:
                    continue
                self._applied.add(entry.entry_id)
            if not entry.is_command or entry.alarm_id not in self.definitions:
                continue
            try:
                echoes.extend(self._apply_one(entry))
                applied.append(entry)
            except AlarmError as error:
                # Also one given under this workstation's name: another process on this PC gave it.
                if entry.what == "ack":
                    self._pending[entry.alarm_id] = (entry, self._clock() + PENDING_S)
                log.debug("journal command %s on %s not applied here: %s", entry.what, entry.alarm_id, error)
        if echoes or applied:
            self._changed(applied)

    def _apply_one(self, e: JournalEntry) -> list[AlarmEvent]:
        engine = self.engine
        if e.what == "ack":
            status = engine.status(e.alarm_id)
            if status.activated_at is not None and status.activated_at > e.ts + ACK_SLACK_S and status.active:
                raise AlarmError(f"{e.alarm_id} activated again after the acknowledgement")
            return engine.ack(e.alarm_id, e.user, e.comment)
        if e.what == "shelve":
            now = self._clock()
            remaining = (e.until or now) - now
            if remaining <= 0:
                return []
            return engine.shelve(e.alarm_id, e.user, remaining, e.comment, max_s=math.inf, now=now)
        if e.what == "unshelve":
            return engine.unshelve(e.alarm_id, e.user, e.comment)
        if e.what == "suppress":
            return engine.suppress(e.alarm_id, e.user, e.comment)
        if e.what == "out_of_service":
            return engine.out_of_service(e.alarm_id, e.user, e.comment)
        if e.what == "return_to_service":
            return engine.return_to_service(e.alarm_id, e.user, e.comment)
        return []

    # ----- the machine ----------------------------------------------------------------------------

    def _handle(self, events: list[AlarmEvent]) -> None:
        """Journal (as holder) the engine's own events, apply start-up acks, tell the listeners."""
        entries = [self._entry(e) for e in events]
        for e in events:
            if e.what == "activate" and e.alarm_id in self._pending:
                pending, until = self._pending.pop(e.alarm_id)
                if until > self._clock():
                    try:
                        self.engine.ack(e.alarm_id, pending.user, pending.comment)
                    except AlarmError:
                        pass
        journaled = [x for x in entries if x.what in PROCESS]
        if self.db is not None:
            self._enqueue(journaled)  # written if this workstation holds the lease then, else dropped
        elif journaled:
            for listener in self._journaled:
                listener(journaled)
        self._changed(entries)

    def _entry(self, event: AlarmEvent) -> JournalEntry:
        defn = self.definitions[event.alarm_id]
        until = None
        if event.to_state is AlarmState.SHELVED:
            until = self.engine.status(event.alarm_id).shelved_until
        return journal_entry(event, defn, self._twins[event.alarm_id], self.workstation, until)

    def _changed(self, entries: Sequence[JournalEntry]) -> None:
        self.version += 1
        for listener in self._listeners:
            try:
                listener(entries)
            except Exception:  # a view's bug must not stop the alarm system
                log.exception("an alarm listener failed")

    def _enqueue(self, entries: Sequence[JournalEntry]) -> None:
        self._queue.extend(entries)
        while len(self._queue) > JOURNAL_QUEUE_LIMIT:
            self._queue.popleft()
            self._dropped += 1

    # ----- start, run, stop -----------------------------------------------------------------------

    async def start(self) -> None:
        """Restore the journal's state (if the database answers) and start the periodic work."""
        if self.db is not None:
            loop = asyncio.get_running_loop()
            try:
                states, last, self._holder = await loop.run_in_executor(None, self._read_start)
            except (DatabaseUnavailable, exc.DBAPIError, OSError) as error:
                self._db_error(error)
            else:
                self._restore(states)
                self._last_id = last
        self._task = asyncio.ensure_future(self._run())

    def _read_start(self) -> tuple[dict[str, alarm_journal.LatestState], int, bool]:
        assert self.db is not None
        holder = alarm_journal.hold_lease(self.db, self.lease_name, self._lease_ttl_s)
        last = alarm_journal.last_id(self.db)
        return alarm_journal.latest_states(self.db), last, holder

    def _restore(self, states: Mapping[str, alarm_journal.LatestState]) -> None:
        now = self._clock()
        for alarm_id, s in states.items():
            if alarm_id not in self.definitions:
                continue
            e = s.entry
            try:
                if e.to_state is AlarmState.SHELVED and e.until is not None and e.until > now:
                    self.engine.shelve(alarm_id, e.user, e.until - now, e.comment, max_s=math.inf, now=now)
                elif e.to_state is AlarmState.SUPPRESSED:
                    self.engine.suppress(alarm_id, e.user, e.comment or "restored")
                elif e.to_state is AlarmState.OUT_OF_SERVICE:
                    self.engine.out_of_service(alarm_id, e.user, e.comment or "restored")
                elif e.to_state is AlarmState.RTN_UNACK:
                    self.engine.restore_latched(alarm_id, e.ts, e.value)
                elif e.to_state is AlarmState.ACKED:
                    self._pending[alarm_id] = (e, now + STARTUP_ACK_S)
            except AlarmError as error:
                log.warning("could not restore %s from the journal: %s", alarm_id, error)
        self._changed([])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._sync_every_s)
            self.tick()
            if self.db is None:
                continue
            batch = list(self._queue)
            kept = None if self._holder else list(self._kept)
            try:
                holder, fresh, written = await loop.run_in_executor(None, self._db_round, batch, kept)
            except (DatabaseUnavailable, exc.DBAPIError, OSError) as error:
                self._db_error(error)
                continue
            for _ in range(len(batch)):
                self._queue.popleft()
            if not self._db_ok:
                log.info("alarm journal: the database is back; %d events %s", len(batch),
                         "written" if holder else "left to the journal holder")  # fmt: skip
            self._db_ok, self._last_error = True, ""
            if holder != self._holder:
                log.info("alarm journal: this process (%s) %s the journal holder", self.lease_name,
                         "is now" if holder else "is no longer")  # fmt: skip
                self._holder = holder
            self._keep(batch, holder)
            if written:
                self._written += len(written)
                for listener in self._journaled:
                    listener(written)
            if fresh:
                self._last_id = max(self._last_id, fresh[-1].entry_id)
                self._apply(e for e in fresh if e.is_command)

    def _keep(self, batch: list[JournalEntry], holder: bool) -> None:
        """A follower keeps what it did not write for a while; the holder has written everything."""
        if holder:
            self._kept.clear()
            return
        self._kept.extend(batch)
        horizon = self._clock() - self._lease_ttl_s - KEEP_MARGIN_S
        while self._kept and self._kept[0].ts < horizon:
            self._kept.popleft()

    def _db_round(
        self, batch: list[JournalEntry], kept: list[JournalEntry] | None
    ) -> tuple[bool, list[JournalEntry], list[JournalEntry]]:
        """In the executor: renew the lease; as holder write the queued events; read what others wrote.
        (holder, fresh entries, entries written). ``kept`` is None for the holder of the last round."""
        assert self.db is not None
        holder = alarm_journal.hold_lease(self.db, self.lease_name, self._lease_ttl_s)
        written: list[JournalEntry] = []
        if holder:
            written = self._to_write(batch, kept)
            alarm_journal.append_many(self.db, written)
        return holder, alarm_journal.since(self.db, self._last_id), written

    def _to_write(self, batch: list[JournalEntry], kept: list[JournalEntry] | None) -> list[JournalEntry]:
        """What a holder writes: the queued events; just taken over, the kept and queued ones the journal
        lacks, as the last holder (another process, maybe under this workstation's name) saw them too."""
        if kept is None:
            return batch
        return sorted(self._missing(kept + batch), key=lambda e: e.ts)

    def _missing(self, kept: list[JournalEntry]) -> list[JournalEntry]:
        """Of a follower's events, those the journal does not have (the last holder went away)."""
        if not kept:
            return []
        assert self.db is not None
        start = min(e.ts for e in kept) - SAME_EVENT_S
        there: dict[tuple[str, str], list[float]] = {}
        for e in alarm_journal.query(self.db, JournalQuery(start=start, what=PROCESS, limit=None)):
            there.setdefault((e.alarm_id, e.what), []).append(e.ts)
        return [e for e in kept if not any(abs(t - e.ts) <= SAME_EVENT_S for t in there.get((e.alarm_id, e.what), ()))]

    def _db_error(self, error: BaseException) -> None:
        text = one_line(error) if isinstance(error, exc.DBAPIError) else str(error)
        if self._db_ok:
            log.warning("alarm journal: the database is unavailable (%s); %d events wait", text, len(self._queue))
        self._db_ok, self._last_error = False, text

    async def stop(self) -> None:
        """Stop the periodic work, write what is queued (best effort) and give the lease up."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self.db is None:
            return
        loop = asyncio.get_running_loop()
        batch = list(self._queue)
        kept = None if self._holder else list(self._kept)
        try:
            await loop.run_in_executor(None, self._flush_and_release, batch, kept)
            self._queue.clear()
        except (DatabaseUnavailable, exc.DBAPIError, OSError) as error:
            log.error("alarm journal: %d events could not be written at shutdown: %s", len(batch), error)

    def _flush_and_release(self, batch: list[JournalEntry], kept: list[JournalEntry] | None) -> None:
        assert self.db is not None
        if alarm_journal.hold_lease(self.db, self.lease_name, self._lease_ttl_s):
            alarm_journal.append_many(self.db, self._to_write(batch, kept))
            alarm_journal.release_lease(self.db, self.lease_name)
