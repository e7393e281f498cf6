"""The dispatcher: the glue between the broker link and the orders in the database, on an asyncio loop.

Every workstation (and `hmi collect`) that has an ``[mqtt]`` url runs one. Each message from a
shopfloor is decoded on the loop (an invalid one is logged with the reason and counted, never
raised) and queued; a drain task applies the queue in batches in an executor, each batch one
transaction (each report in a savepoint of its own), and only once that has committed does it send
our ``ack`` for the reports in it. So a report is confirmed once it is stored, and a crash before the
commit leaves it unconfirmed: the shopfloor sends it again, and the receipts table makes the second
copy change nothing.

Only one process dispatches: the holder of the lease ``dispatch`` (the alarm journal's lease
mechanism, another name). Every second it judges the heartbeats (hmi.domain.dispatch), moves the
unfinished work of a shopfloor gone offline to the healthy ones, sends queued shares within
``[shopfloors] ahead``, and sends what the outbox holds that is due, marking as sent what the broker
took. The outbox row stays until the shopfloor's own ack (or final withdrawn report) arrives; the
broker's PUBACK proves nothing. The other processes apply reports and acks (idempotent) and
leave hellos, which the dispatcher answers, alone.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from hmi.domain.andon import LineKind, Origin
from hmi.domain.dispatch import DispatchStats, judge_health, silence_s
from hmi.domain.links import LinkState, LinkStatus
from hmi.domain.orders import OrderError, Reassignment, ShopfloorHealth
from hmi.domain.shopfloor import (
    SHOPFLOOR_ID,
    TOPIC_ROOT,
    Ack,
    Channel,
    Heartbeat,
    Hello,
    Machine,
    MachineState,
    Message,
    MessageError,
    Report,
    decode,
    encode,
    parse_time,
    parse_topic,
    subscription,
    topic,
)
from hmi.services.alarm_center import lease_name
from hmi.store import andon as andon_store
from hmi.store.alarm_journal import hold_lease, release_lease
from hmi.store.db import one_line
from hmi.store.errors import DatabaseUnavailable
from hmi.store.locking import write_connection

log = logging.getLogger(__name__)

DISPATCH_LEASE = "dispatch"
# The topics the dispatcher needs the link to subscribe to.
SUBSCRIPTIONS = (subscription(Channel.REPORTS), subscription(Channel.HEARTBEAT))
BATCH = 500  # messages per transaction: 150 msg/s arrive in well under one batch per second
INBOX_LIMIT = 100_000  # beyond this the oldest are dropped: a shopfloor re-sends what it was not confirmed
PUBLISH_TIMEOUT_S = 5.0
# A flood of invalid messages is logged as at most INVALID_LOG_LINES lines per shopfloor per
# INVALID_LOG_EVERY_S, then summed up in the next line.
INVALID_LOG_EVERY_S = 10.0
INVALID_LOG_LINES = 10
DB_ERRORS = (DatabaseUnavailable, exc.DBAPIError, OSError)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class Link(Protocol):
    """What the dispatcher needs of the broker link (hmi.io.mqtt.MqttLink)."""

    @property
    def status(self) -> LinkStatus:
        """The link's state for the status bar."""
        ...

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Publish; True once the broker took it (PUBACK), False when it was not sent or not confirmed."""
        ...


class Outgoing(Protocol):
    """One outbox message (hmi.store.orders.OutboxMessage)."""

    msg_id: str
    shopfloor_id: str
    payload: bytes


class OrderEngine(Protocol):
    """The engine side of the orders store (hmi.store.dispatch); each call runs in the caller's transaction."""

    def record_heartbeat(self, conn: Connection, hb: Heartbeat, received_at: datetime) -> None: ...
    def apply_report(self, conn: Connection, r: Report, received_at: datetime) -> bool: ...
    def apply_ack(self, conn: Connection, ack: Ack, now: datetime | None = None) -> bool: ...
    def answer_hello(self, conn: Connection, hello: Hello, now: datetime) -> Any: ...
    def outbox_due(self, conn: Connection, now: datetime, resend_s: float) -> Sequence[Outgoing]: ...
    def mark_sent(self, conn: Connection, ids: Collection[str], now: datetime) -> None: ...
    def dispatch_queued(self, conn: Connection, now: datetime, ahead: int) -> Any: ...
    def reassign_offline(self, conn: Connection, shopfloor_id: str, reason: str, now: datetime,
                         workstation: str = ...) -> Sequence[Reassignment]: ...  # fmt: skip
    def count_invalid(self, conn: Connection, shopfloor_id: str | None, reason: str, now: datetime | None = None) -> None: ...
    def last_heartbeats(self, conn: Connection) -> Mapping[str, datetime | None]: ...
    def save_health(self, conn: Connection, health: Mapping[str, ShopfloorHealth]) -> Sequence[tuple[str, ShopfloorHealth]]: ...
    def outbox_pending(self, conn: Connection) -> int: ...
    def ensure_shopfloors(self, conn: Connection, known: Sequence[tuple[str, float]]) -> None: ...


class Settings(Protocol):
    """The ``[shopfloors]`` settings the dispatcher uses (hmi.config's ShopfloorsConfig)."""

    late_after_s: float
    offline_after_s: float
    resend_s: float
    ahead: int
    known: Sequence[Any]  # [[shopfloors.known]]: each with .id and .capacity


# Errors by which the store refuses one message (a report naming no instruction of ours, or not
# matching it): counted as invalid, the rest of the batch goes on.
REFUSED: tuple[type[Exception], ...] = (OrderError,)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message from a shopfloor, decoded on the loop, waiting for the next batch (or why it is invalid)."""

    shopfloor_id: str | None
    message: Message | None
    received_at: datetime
    invalid: str = ""


@dataclass(slots=True)
class BatchResult:
    """What one batch did: the reports to acknowledge and the counts."""

    acks: list[tuple[str, str]]  # (shopfloor id, msgId)
    applied: int = 0
    duplicates: int = 0
    invalid: int = 0
    outbox_written: bool = False  # a hello answered: the next round has messages to send


def _sender(name: str) -> str | None:
    """The shopfloor a topic that is not quite ours names (``shopfloor/sf1/other``), to count it against."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == TOPIC_ROOT and SHOPFLOOR_ID.match(parts[1]):
        return parts[1]
    return None


def _us(when: datetime) -> int:
    """A timezone-aware time as UTC epoch microseconds."""
    return int(round(when.timestamp() * 1_000_000))


def _message_time(text: str, fallback: datetime) -> datetime:
    """The time a message carries, or ``fallback`` if it carries none we can read."""
    try:
        return parse_time(text)
    except MessageError:
        return fallback


def _lock_order(item: Incoming) -> tuple[str, str, int]:
    """Reports by order, instruction and seq: two workstations applying one batch lock the orders in one
    order (no deadlock on PostgreSQL), and the highest seq wins whatever the order they came in."""
    m = item.message
    if isinstance(m, Report):
        return (m.orderId, m.instructionId, m.seq)
    return ("", "", 0)  # everything else first, in the order it came (the sort is stable)


class Dispatcher:
    """Link <-> orders: applies what shopfloors send, and (as lease holder) judges, reassigns and sends."""

    def __init__(
        self,
        link: Link,
        engine: Engine,
        settings: Settings,
        store: OrderEngine,
        workstation: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        tick_s: float = 1.0,
        lease_ttl_s: float = 5.0,
        micro_stop_s: float = 60.0,
    ) -> None:
        self.link = link
        self.engine = engine
        self.settings = settings
        self.store = store
        self.workstation = workstation
        self.lease_name = lease_name(workstation)
        self._clock = clock
        self._tick_s = tick_s
        self._lease_ttl_s = lease_ttl_s
        self._micro_stop_s = micro_stop_s  # [andon] micro_stop_s: a machine stop or an outage shorter is not called
        self._inbox: collections.deque[Incoming] = collections.deque()
        self._wake = asyncio.Event()
        self._heard: dict[str, datetime] = {}  # shopfloor -> when this process last got its heartbeat
        self._link_up_since: datetime | None = None
        self.health: dict[str, ShopfloorHealth] = {}
        self._holder = False
        self._received = self._applied = self._duplicates = self._invalid = self._dropped = 0
        self._pending = 0
        self._db_ok, self._last_error = True, ""
        self._invalid_logged: dict[str | None, tuple[float, int, int]] = {}  # shopfloor -> (window start, lines, suppressed)
        self._tasks: list[asyncio.Task[None]] = []
        self._publishing: set[asyncio.Task[Any]] = set()
        self._round_soon = asyncio.Event()

    # ----- views ----------------------------------------------------------------------------------

    @property
    def holder(self) -> bool:
        """Whether this process dispatches (holds the lease)."""
        return self._holder

    def stats(self) -> DispatchStats:
        """The counters for the status line."""
        return DispatchStats(self._received, self._applied, self._duplicates, self._invalid, self._pending,
                             self._holder, self._db_ok, self._last_error)  # fmt: skip

    # ----- messages in ----------------------------------------------------------------------------

    def on_message(self, name: str, payload: bytes) -> None:
        """The link's callback, on the loop: decode and queue; an invalid message is logged and counted."""
        self._received += 1
        now = self._clock()
        try:
            shopfloor_id, channel = parse_topic(name)
        except MessageError as error:
            self._queue(Incoming(_sender(name), None, now, str(error)))
            return
        if channel is Channel.INSTRUCTIONS:
            return  # our own direction; not subscribed, but a broker may echo
        try:
            message = decode(payload, channel)
        except MessageError as error:
            self._queue(Incoming(shopfloor_id, None, now, str(error)))
            return
        claimed = getattr(message, "shopfloorId", shopfloor_id)
        if claimed != shopfloor_id:
            self._queue(Incoming(shopfloor_id, None, now,
                                 f"{message.TYPE} message of {claimed} on the topic of {shopfloor_id}"))
            return
        if isinstance(message, Heartbeat):
            self._heard[shopfloor_id] = now
        self._queue(Incoming(shopfloor_id, message, now))

    def _queue(self, item: Incoming) -> None:
        if item.invalid:
            self._invalid += 1
            self._log_invalid(item.shopfloor_id, item.invalid)
        self._inbox.append(item)
        while len(self._inbox) > INBOX_LIMIT:
            self._inbox.popleft()
            self._dropped += 1
        self._wake.set()

    def _log_invalid(self, shopfloor_id: str | None, reason: str) -> None:
        """Log an invalid message with its reason; a flood is summed up (see INVALID_LOG_LINES)."""
        now = time.monotonic()
        start, lines, suppressed = self._invalid_logged.get(shopfloor_id, (now, 0, 0))
        if now - start >= INVALID_LOG_EVERY_S:
            start, lines = now, 0
        if lines >= INVALID_LOG_LINES:
            self._invalid_logged[shopfloor_id] = (start, lines, suppressed + 1)
            return
        more = f" ({suppressed} more invalid messages not logged before this one)" if suppressed else ""
        log.warning("invalid message from %s, ignored: %s%s", shopfloor_id or "an unknown sender", reason, more)
        self._invalid_logged[shopfloor_id] = (start, lines + 1, 0)

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox:
                try:
                    await self._apply_next()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug on one batch must not end the applying: it is dropped, unconfirmed
                    log.exception("dispatch: a batch of shopfloor messages could not be applied")

    async def _apply_next(self) -> None:
        """Apply the next batch in an executor, then acknowledge its reports (after the commit)."""
        batch = [self._inbox.popleft() for _ in range(min(BATCH, len(self._inbox)))]
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, self._apply_batch, batch, self._holder)
        except DB_ERRORS as error:
            # Nothing of the batch is confirmed: the shopfloors send the reports again.
            self._db_error(error)
            await asyncio.sleep(min(1.0, self._tick_s))
            return
        self._db_back()
        self._applied += result.applied
        self._duplicates += result.duplicates
        self._invalid += result.invalid
        for shopfloor_id, msg_id in result.acks:
            self._spawn(self._publish(topic(shopfloor_id, Channel.INSTRUCTIONS),
                                      encode(Ack(ackFor=msg_id, shopfloorId=shopfloor_id))))
        if result.outbox_written:
            self._round_soon.set()

    def _apply_batch(self, batch: Sequence[Incoming], holder: bool) -> BatchResult:
        """In the executor: one transaction for the batch, each message in a savepoint of its own (one that
        cannot be applied is counted as invalid and undone alone); heartbeats coalesced, newest per shopfloor."""
        result = BatchResult(acks=[])
        heartbeats: dict[str, Incoming] = {}
        with write_connection(self.engine) as conn, conn.begin():
            for item in sorted(batch, key=_lock_order):
                message = item.message
                if message is None:
                    self.store.count_invalid(conn, item.shopfloor_id, item.invalid, item.received_at)
                elif isinstance(message, Heartbeat):
                    heartbeats[message.shopfloorId] = item
                else:
                    self._apply_one(conn, item, message, holder, result)
            for item in heartbeats.values():
                assert isinstance(item.message, Heartbeat)
                self.store.record_heartbeat(conn, item.message, item.received_at)
        return result

    def _apply_one(self, conn: Connection, item: Incoming, message: Message, holder: bool, result: BatchResult) -> None:
        sender = item.shopfloor_id or ""
        try:
            with conn.begin_nested():
                ack = self._effect(conn, item, message, holder, result)
        except DB_ERRORS:
            raise  # the whole batch waits: nothing of it is confirmed
        except REFUSED as error:
            reason = str(error)
            # Refused for good (it names no instruction of ours, or contradicts it): acknowledged all the
            # same, or the shopfloor would send it again every few seconds for ever, counted each time.
            if isinstance(message, Report):
                result.acks.append((sender, message.msgId))
        except Exception as error:  # a bug must not undo the batch's other messages
            log.exception("dispatch: a %s message from %s could not be applied", message.TYPE, sender)
            reason = f"{message.TYPE} message could not be applied ({type(error).__name__})"
        else:
            if ack is not None:
                result.acks.append((sender, ack))
            return
        # Counted by the reason alone (the counters are per shopfloor and reason); the log has the id.
        self.store.count_invalid(conn, item.shopfloor_id, reason, item.received_at)
        result.invalid += 1
        log.warning("%s %s from %s not applied: %s", message.TYPE, getattr(message, "msgId", ""), sender, reason)

    def _effect(self, conn: Connection, item: Incoming, message: Message, holder: bool, result: BatchResult) -> str | None:
        """Apply one message; the msgId to acknowledge once the batch is committed, or None."""
        if isinstance(message, Report):
            if self.store.apply_report(conn, message, item.received_at):
                result.applied += 1
            else:
                result.duplicates += 1
            return message.msgId
        if isinstance(message, Ack):
            self.store.apply_ack(conn, message, item.received_at)
            return None
        if not holder:  # hello, machine: the dispatcher answers and acknowledges; the others leave them to it
            return None
        if isinstance(message, Hello):
            self.store.answer_hello(conn, message, item.received_at)
            result.outbox_written = True
            return message.msgId
        if isinstance(message, Machine):
            self._machine(conn, message, item.received_at)
            return message.msgId
        return None

    def _machine(self, conn: Connection, message: Machine, received_at: datetime) -> None:
        """A machine stop starts the shopfloor's MACHINE cause (its andon call and stop), running again ends it.
        Timed by the message (re-sent late, it still tells when), never later than it arrived; a message older
        than what the line already did (a re-send whose ack was lost) changes nothing."""
        line, stopped = message.shopfloorId, message.state is MachineState.STOPPED
        at_us = min(_us(_message_time(message.timestamp, received_at)), _us(received_at))
        open_start, last_end = andon_store.cause_times(conn, line, Origin.MACHINE)
        if stopped and (open_start is not None or (last_end is not None and at_us <= last_end)):
            return
        if not stopped and (open_start is None or at_us < open_start):
            return
        log.info("shopfloor %s: machine %s %s%s", line, message.machine, message.state.value,
                 f" ({message.reason})" if message.reason else "")  # fmt: skip
        if stopped:
            detail = f"machine {message.machine} stopped" + (f": {message.reason}" if message.reason else "")
            andon_store.start_cause(conn, line, LineKind.SHOPFLOOR, Origin.MACHINE, detail[:500], at_us)
        else:
            andon_store.end_cause(conn, line, Origin.MACHINE, at_us, self._micro_stop_s)

    # ----- sending --------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, name: str, payload: bytes) -> bool:
        """Publish at QoS 1; False if the broker did not take it (the outbox, or the shopfloor, sends it again)."""
        try:
            ok = await asyncio.wait_for(self.link.publish(name, payload, qos=1), PUBLISH_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - whatever the link raised, the message is re-sent later
            log.debug("publish to %s failed: %s", name, error)
            return False
        return bool(ok)

    # ----- the dispatcher's round -----------------------------------------------------------------

    async def tick(self) -> None:
        """One round: the lease, the heartbeats, reassignment, queued shares, and the outbox."""
        loop = asyncio.get_running_loop()
        now = self._clock()
        self._note_link(self.link.status, now)
        heard = dict(self._heard)
        try:
            holder, health, due, pending = await loop.run_in_executor(None, self._round, now, heard, self._link_up_since)
        except DB_ERRORS as error:
            self._db_error(error)
            return
        self._db_back()
        self._holder_is(holder)
        self._judged(health)
        self._pending = pending
        if not holder or not due or self._link_up_since is None:
            return
        sent = await asyncio.gather(*(self._publish(topic(m.shopfloor_id, Channel.INSTRUCTIONS), m.payload) for m in due))
        ids = [m.msg_id for m, ok in zip(due, sent) if ok]
        if ids:
            try:
                await loop.run_in_executor(None, self._mark_sent, ids, self._clock())
            except DB_ERRORS as error:
                self._db_error(error)  # they are due again next round: sent twice, ignored once by the shopfloor

    def _note_link(self, link: LinkStatus, now: datetime) -> None:
        if link.state is LinkState.UP:
            if self._link_up_since is None:
                self._link_up_since = now
        elif self._link_up_since is not None:
            log.warning("the broker link is %s: shopfloor health unknown until it is back", link.brief())
            self._link_up_since = None

    def _round(
        self, now: datetime, heard: dict[str, datetime], link_up_since: datetime | None
    ) -> tuple[bool, dict[str, ShopfloorHealth], list[Outgoing], int]:
        """In the executor: (holder, health, the outbox messages due, outbox pending)."""
        if not hold_lease(self.engine, self.lease_name, self._lease_ttl_s, name=DISPATCH_LEASE):
            return False, {}, [], self._pending
        s = self.settings
        with self.engine.connect() as conn:
            stored = self.store.last_heartbeats(conn)
        last: dict[str, datetime | None] = dict(stored)
        for shopfloor_id, at in heard.items():
            before = last.get(shopfloor_id)
            last[shopfloor_id] = at if before is None else max(at, before)
        health = judge_health(last, now, link_up_since, s.late_after_s, s.offline_after_s)
        with write_connection(self.engine) as conn, conn.begin():
            changed = self.store.save_health(conn, health)
            self._offline_causes(conn, changed, health, last, now, link_up_since)
        for shopfloor_id, h in health.items():
            if h is ShopfloorHealth.OFFLINE:
                # Every round: work that found nobody healthy to take it moves once someone is.
                silent = silence_s(last[shopfloor_id], now, link_up_since)
                reason = f"{shopfloor_id} offline: no heartbeat for {silent:.0f} s"
                with write_connection(self.engine) as conn, conn.begin():
                    moves = self.store.reassign_offline(conn, shopfloor_id, reason, now, self.workstation)
                for moved in moves:
                    to = ", ".join(f"{units} to {sf}" for sf, units in moved.to)
                    log.warning("%s: %d units of %s moved (%s)", reason, moved.quantity, moved.order_id, to)
        with write_connection(self.engine) as conn, conn.begin():
            self.store.dispatch_queued(conn, now, s.ahead)
        with self.engine.connect() as conn:
            due = list(self.store.outbox_due(conn, now, s.resend_s))
            pending = self.store.outbox_pending(conn)
        return True, health, due, pending

    def _offline_causes(self, conn: Connection, changed: Sequence[tuple[str, ShopfloorHealth]],
                        health: Mapping[str, ShopfloorHealth], last: Mapping[str, datetime | None], now: datetime,
                        link_up_since: datetime | None) -> None:  # fmt: skip
        """A shopfloor judged offline starts its OFFLINE cause (stopped since it went silent), back online or
        late ends it; unknown (our own broker link is down) changes nothing. In the health's transaction."""
        for shopfloor_id, _before in changed:
            after = health[shopfloor_id]
            if after is ShopfloorHealth.OFFLINE:
                silent = silence_s(last.get(shopfloor_id), now, link_up_since)
                andon_store.start_cause(conn, shopfloor_id, LineKind.SHOPFLOOR, Origin.OFFLINE,
                                        f"no heartbeat for {silent:.0f} s", _us(now) - int(silent * 1e6),
                                        raised_us=_us(now))  # fmt: skip
            elif after in (ShopfloorHealth.ONLINE, ShopfloorHealth.LATE):
                andon_store.end_cause(conn, shopfloor_id, Origin.OFFLINE, _us(now), self._micro_stop_s)

    def _mark_sent(self, ids: list[str], now: datetime) -> None:
        with write_connection(self.engine) as conn, conn.begin():
            self.store.mark_sent(conn, ids, now)

    def _judged(self, health: dict[str, ShopfloorHealth]) -> None:
        for shopfloor_id, h in health.items():
            before = self.health.get(shopfloor_id)
            if before is not None and before is not h:
                log.info("shopfloor %s is %s (was %s)", shopfloor_id, h.value, before.value)
        self.health = health

    def _holder_is(self, holder: bool) -> None:
        if holder != self._holder:
            log.info("dispatch: this process (%s) %s the dispatcher", self.lease_name,
                     "is now" if holder else "is no longer")  # fmt: skip
            self._holder = holder

    def _db_error(self, error: BaseException) -> None:
        text = one_line(error) if isinstance(error, exc.DBAPIError) else str(error)
        if self._db_ok:
            log.warning("dispatch: the database is unavailable (%s); reports wait at the shopfloors", text)
        self._db_ok, self._last_error = False, text

    def _db_back(self) -> None:
        if not self._db_ok:
            log.info("dispatch: the database is back")
        self._db_ok, self._last_error = True, ""

    # ----- start, run, stop -----------------------------------------------------------------------

    async def start(self) -> None:
        """Declare the config's known shopfloors, start draining the inbox and the periodic round (the first at once)."""
        known = [(k.id, float(k.capacity)) for k in self.settings.known]
        if known:
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._declare, known)
            except DB_ERRORS as error:
                self._db_error(error)  # declared at the next start; their heartbeats add them meanwhile
        self._tasks = [asyncio.ensure_future(self._drain()), asyncio.ensure_future(self._rounds())]

    def _declare(self, known: list[tuple[str, float]]) -> None:
        with write_connection(self.engine) as conn, conn.begin():
            self.store.ensure_shopfloors(conn, known)

    async def _rounds(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one round must not end dispatching
                log.exception("dispatch: a round failed")
            try:
                await asyncio.wait_for(self._round_soon.wait(), self._tick_s)
            except asyncio.TimeoutError:
                pass
            self._round_soon.clear()

    async def stop(self) -> None:
        """Stop the rounds, apply what is queued, let the last acks out, and give the lease up."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        while self._inbox and self._db_ok:
            await self._apply_next()
        if self._publishing:
            await asyncio.wait(set(self._publishing), timeout=PUBLISH_TIMEOUT_S)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, release_lease, self.engine, self.lease_name, DISPATCH_LEASE)
        except DB_ERRORS as error:
            log.info("dispatch: could not give the lease up at stop (%s); it lapses by itself", error)
        self._holder = False
