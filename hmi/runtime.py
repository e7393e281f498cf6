"""The running plant connection: tag bus, historian writer, alarm system and one OPC UA source per endpoint,
and with an ``[mqtt]`` url the MES half: the broker link and the dispatcher (hmi.services.dispatch).

The headless collector and the GUI build the same Runtime; only what watches it differs. The
sources run on their own acquisition thread; each batch reaches the bus (and through it the
historian, the trends and the screen) in the thread of the loop that started the runtime. The broker
link and the dispatcher run on the acquisition thread too, so shopfloor traffic costs the GUI nothing.
The andon side (AndonCauses) takes the twins' trips from the bus and escalates calls, its SQL on a worker.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hmi.config import ConfigError, EndpointConfig, MqttConfig, PlantConfig
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.andon import CauseEvent, LineKind, TripDetector, status_tags
from hmi.domain.anomaly import AnomalyDetector
from hmi.domain.dispatch import DispatchStats
from hmi.domain.plant import Plant, TagKind
from hmi.domain.setpoints import SetpointWriteError
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.io.acquisition_loop import AcquisitionLoop
from hmi.io.link import LinkStatus
from hmi.io.opcua import OpcUaSource
from hmi.services.alarm_center import AlarmCenter
from hmi.services.alarm_mail import AlarmMailer
from hmi.services.andon import AndonService
from hmi.services.commands import workstation_name
from hmi.store.db import make_engine
from hmi.store.errors import DatabaseUnavailable
from hmi.store.writer import HistorianWriter, WriterStats

if TYPE_CHECKING:
    from hmi.io.mqtt import MqttLink
    from hmi.services.dispatch import Dispatcher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """What the status line and the status bar show: tags, rates, the historian, every link and the alarms."""

    tags_good: int
    tags_bad: int
    tags_waiting: int
    samples_per_s: float
    historian: WriterStats
    links: tuple[LinkStatus, ...]
    # Unacknowledged alarms (UNACK or RTN_UNACK) per priority 1-4, shelved alarms, and this workstation's
    # part in the journal; None/empty until with_alarms() filled them in.
    alarms_unacked: tuple[int, int, int, int] | None = None
    alarms_shelved: int = 0
    journal: str = ""
    orders: DispatchStats | None = None  # the dispatcher's counters, with an [mqtt] url

    def with_alarms(self, alarms: AlarmCenter) -> RuntimeStatus:
        """This status with the alarm system's counts and the journal's state (holder or follower, waiting)."""
        counts = alarms.engine.unacked_counts()
        shelved = sum(1 for s in alarms.active() if s.state is AlarmState.SHELVED)
        stats = alarms.stats()
        journal = "holder" if stats.holder else "follower"
        if not stats.db_ok:
            journal += f", waiting {stats.queued} ({stats.last_error})"
        return replace(self, alarms_unacked=(counts[1], counts[2], counts[3], counts[4]), alarms_shelved=shelved,
                       journal=journal)  # fmt: skip

    def line(self) -> str:
        """One status line for a log or a terminal."""
        h = self.historian
        links = " ".join(link.brief() for link in self.links)
        db = "ok" if h.db_ok else f"DOWN ({h.last_error})"
        text = (
            f"tags good {self.tags_good} bad {self.tags_bad} waiting {self.tags_waiting} | "
            f"{self.samples_per_s:.0f} samples/s | stored {h.stored} | backlog {h.spooled_backlog + h.queued} | "
            f"dropped {h.dropped} | db {db} | {links}"
        )
        if self.orders is not None:
            text += f" | {self.orders.brief()}"
        if self.alarms_unacked is not None:
            p1, p2, p3, p4 = self.alarms_unacked
            text += (f" | alarms unacked P1 {p1} P2 {p2} P3 {p3} P4 {p4} shelved {self.alarms_shelved}"
                     f" | journal {self.journal}")  # fmt: skip
        return text


def endpoint_password(endpoint: EndpointConfig) -> str | None:
    """The password of an endpoint's ``username`` (secret ``opcua.<name>``); ConfigError naming the fix if unset."""
    if not endpoint.username:
        return None
    from hmi.secrets import SecretError, get_secret, opcua_secret

    try:
        return get_secret(opcua_secret(endpoint.name))
    except SecretError as exc:
        raise ConfigError(f"endpoint {endpoint.name} (user {endpoint.username}) has no password: {exc}") from None


def broker_password(broker: MqttConfig) -> str | None:
    """The password of the broker's ``username`` (secret ``mqtt.<host>``); ConfigError naming the fix if unset."""
    if not broker.username:
        return None
    from hmi.secrets import SecretError, get_secret, mqtt_secret

    try:
        return get_secret(mqtt_secret(broker.host))
    except SecretError as exc:
        raise ConfigError(f"MQTT broker {broker.host} (user {broker.username}) has no password: {exc}") from None


def _mailer(config: PlantConfig) -> AlarmMailer | None:
    """The e-mail notifier of [alarms.mail] (its password read from the secret ``smtp`` at each send), or None."""
    mail = config.alarms.mail
    if mail is None:
        return None
    from hmi.secrets import SMTP_SECRET, get_secret

    return AlarmMailer(mail, (lambda: get_secret(SMTP_SECRET)) if mail.username else (lambda: None))


class AndonCauses:
    """The andon side of a runtime: twins' trips from the bus to their calls, and the periodic escalation.

    The bus hands each batch to ``consume`` on the loop, which only finds the status edges (hmi.domain.andon
    TripDetector); the calls are written by one worker thread, in the order the edges came, so a trip's end
    never overtakes its start. What the database refused waits and is tried again on the next tick.
    Every workstation does this: the store raises a call once whoever sees the trip first, and each
    escalation tier is taken by one process.
    """

    def __init__(self, service: AndonService, detector: TripDetector, every_s: float) -> None:
        self.service = service
        self.detector = detector
        self.every_s = every_s
        self._pending: collections.deque[CauseEvent] = collections.deque()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="andon")
        self._task: asyncio.Task[None] | None = None
        self._db_ok = True

    def consume(self, batch: Sequence[TagValue]) -> None:
        """A bus consumer, on the loop: the trips that started or ended go to the worker."""
        events = self.detector.feed(batch)
        if events:
            self._pending.extend(events)
            self._executor.submit(self._apply)

    def _apply(self) -> None:
        """In the worker: write the waiting causes in order; stop at the first the database refuses."""
        while self._pending:
            event = self._pending[0]
            try:
                if event.started:
                    self.service.cause_started(event.line, LineKind.TWIN, event.origin, event.detail, event.at_us)
                else:
                    self.service.cause_ended(event.line, event.origin, event.at_us)
            except DatabaseUnavailable as error:
                self._db_down(error)
                return
            except Exception:  # a bug must not stop the other causes
                log.exception("andon: the %s of %s on %s could not be stored", "start" if event.started else "end",
                              event.origin.value, event.line)  # fmt: skip
            else:
                self._db_back()
                if event.started:
                    log.warning("andon: %s tripped (%s)", event.line, event.detail)
            self._pending.popleft()

    def _tick(self) -> None:
        """In the worker: what waits, then the escalation tiers due now."""
        self._apply()
        try:
            self.service.escalate()
        except DatabaseUnavailable as error:
            self._db_down(error)
        else:
            self._db_back()

    def _db_down(self, error: Exception) -> None:
        if self._db_ok:
            log.warning("andon: the database is unavailable (%s); trips wait, escalation pauses", error)
        self._db_ok = False

    def _db_back(self) -> None:
        if not self._db_ok:
            log.info("andon: the database is back")
        self._db_ok = True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._executor, self._tick)
            except Exception:  # a bug in one tick must not end escalation
                log.exception("andon: an escalation tick failed")
            await asyncio.sleep(self.every_s)

    def start(self) -> None:
        """Start the periodic tick (the first at once) on the running loop."""
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop the tick, write what waits (once more), and end the worker."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._apply)
        await loop.run_in_executor(None, self._executor.shutdown)


class Runtime:
    """Acquisition, historian and alarms for one plant configuration."""

    def __init__(self, config: PlantConfig, database_url: str | None = None, workstation: str | None = None) -> None:
        self.config = config
        self.plant: Plant = config.plant()
        self.database_url = database_url or config.database_url
        self.bus = TagBus()
        # The writer marks where a stopped predecessor left a gap, for the tags this runtime collects only.
        self.writer = HistorianWriter.from_config(self.database_url, config.historian, config.database,
                                                  tags=[t.tag_id for t in self.plant.tags])
        self.bus.subscribe(self.writer.consume)
        self.sources = [
            OpcUaSource(ep, [t for t in self.plant.tags if t.endpoint == ep.name], self._hand_over,
                        password=endpoint_password(ep))
            for ep in config.endpoints
        ]
        self.db = make_engine(self.database_url, check=False, settings=config.database)
        definitions = config.alarm_definitions()
        anomaly = config.alarms.anomaly
        detector = AnomalyDetector.for_definitions(definitions, anomaly.window, anomaly.min_samples, anomaly.z)
        self.alarms = AlarmCenter(
            definitions, self.db, workstation or workstation_name(),
            links=lambda: tuple(s.status for s in self.sources), detector=detector.update,
            max_shelve_s=config.alarms.max_shelve_s,
        )  # fmt: skip
        self.bus.subscribe(self.alarms.consume)
        self.andon = AndonCauses(AndonService(self.db, config, workstation=workstation or workstation_name()),
                                 TripDetector(status_tags(self.plant)), config.andon.escalate_every_s)  # fmt: skip
        self.bus.subscribe(self.andon.consume)
        self.broker_link, self.dispatcher = self._mes(workstation or workstation_name())
        self.mailer = _mailer(config)
        if self.mailer is not None:
            self.alarms.on_journaled(self.mailer.notify)
        self._acquisition = AcquisitionLoop()
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._runs: list[concurrent.futures.Future[None]] = []
        self._rate_mark = (time.monotonic(), 0)

    def _mes(self, workstation: str) -> tuple[MqttLink | None, Dispatcher | None]:
        """The broker link and the dispatcher of the [mqtt] section, or (None, None) without one."""
        broker = self.config.broker
        if broker is None:
            return None, None
        from hmi.io.mqtt import MqttLink
        from hmi.services.dispatch import SUBSCRIPTIONS, Dispatcher
        from hmi.store import dispatch as dispatch_store

        dispatcher: Dispatcher | None = None

        def deliver(topic: str, payload: bytes) -> None:  # on the acquisition loop
            assert dispatcher is not None
            dispatcher.on_message(topic, payload)

        link = MqttLink(broker, deliver, SUBSCRIPTIONS, workstation=workstation, password=broker_password(broker),
                        name="broker")  # fmt: skip
        dispatcher = Dispatcher(link, self.db, self.config.shopfloors, dispatch_store, workstation,
                                micro_stop_s=self.config.andon.micro_stop_s)  # fmt: skip
        return link, dispatcher

    async def _start_mes(self) -> None:
        assert self.broker_link is not None and self.dispatcher is not None
        await self.dispatcher.start()
        await self.broker_link.start()

    async def _stop_mes(self) -> None:
        """The dispatcher first (it applies what is queued and sends the last acks), then the link."""
        assert self.broker_link is not None and self.dispatcher is not None
        await self.dispatcher.stop()
        await self.broker_link.stop()

    def links(self) -> tuple[LinkStatus, ...]:
        """Every link's state: the PLCs', then the broker's (with an [mqtt] url)."""
        links = tuple(s.status for s in self.sources)
        return (*links, self.broker_link.status) if self.broker_link is not None else links

    def _hand_over(self, batch: Sequence[TagValue]) -> None:
        """Called on the acquisition thread: publish the batch on the bus, in the main loop's thread."""
        assert self._main_loop is not None
        self._main_loop.call_soon_threadsafe(self.bus.publish, batch)

    async def start(self) -> None:
        """Start the historian writer, and connect every source on the acquisition thread."""
        self._main_loop = asyncio.get_running_loop()
        self.writer.start()
        await self.alarms.start()
        if self.mailer is not None:
            self.mailer.start()
        self.andon.start()
        self._acquisition.start()
        self._runs = [self._acquisition.submit(source.run()) for source in self.sources]
        if self.dispatcher is not None:
            await asyncio.wrap_future(self._acquisition.submit(self._start_mes()))

    async def stop(self) -> None:
        """Disconnect the sources, then flush and close the historian (in an executor)."""
        loop = asyncio.get_running_loop()
        if self.dispatcher is not None:
            try:
                await asyncio.wait_for(asyncio.wrap_future(self._acquisition.submit(self._stop_mes())), 30)
            except Exception:  # the rest must stop all the same
                log.exception("the dispatcher and the broker link did not stop cleanly")
        stops = [asyncio.wrap_future(self._acquisition.submit(source.stop())) for source in self.sources]
        if stops:
            await asyncio.gather(*stops, return_exceptions=True)
        if self._runs:
            await asyncio.wait([asyncio.wrap_future(f) for f in self._runs], timeout=5)
        self._runs.clear()
        await loop.run_in_executor(None, self._acquisition.stop, 5.0)
        await asyncio.sleep(0)  # let the last batches handed over reach the bus and the writer
        await self.alarms.stop()
        await self.andon.stop()
        for source in self.sources:  # only now: to the alarms an ended link would be a communication loss
            source.mark_stopped()
        if self.mailer is not None:
            await loop.run_in_executor(None, self.mailer.stop, 10.0)
        # Long enough for one write to a frozen database to time out, after which the rest is spooled.
        database = self.config.database
        await loop.run_in_executor(None, self.writer.stop, max(30.0, database.connect_timeout_s + database.statement_timeout_s + 10))
        self.db.dispose()

    def write_setpoint(self, tag_id: str, value: float, timeout_s: float = 5.0) -> None:
        """Write a setpoint tag's value to its PLC and wait for the answer; SetpointWriteError in words otherwise.

        Blocking and thread-safe: call it from a worker thread (the GUI's command executor, a CLI), not
        from an event loop. The write runs on the acquisition loop, on the connection that reads the tag.
        """
        try:
            spec = self.plant.tag(tag_id)
        except KeyError:
            raise SetpointWriteError(f"there is no tag {tag_id!r} in the plant configuration") from None
        if spec.kind is not TagKind.SETPOINT:
            raise SetpointWriteError(f"{tag_id} is a {spec.kind.value} tag, not a setpoint; nothing was written")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("Runtime.write_setpoint blocks: call it in an executor, not on an event loop")
        source = next(s for s in self.sources if s.endpoint.name == spec.endpoint)
        if not self._runs:
            raise SetpointWriteError(f"the connection to {spec.endpoint} is not running; the setpoint was not written")
        future = self._acquisition.submit(asyncio.wait_for(source.write_value(tag_id, value), timeout_s))
        try:
            future.result(timeout_s + 1.0)
        except (concurrent.futures.TimeoutError, asyncio.TimeoutError, TimeoutError):
            future.cancel()
            raise SetpointWriteError(
                f"{spec.endpoint} did not answer the write of {tag_id} within {timeout_s:g} s; "
                f"check on the PLC whether the setpoint changed"
            ) from None
        except concurrent.futures.CancelledError:
            raise SetpointWriteError(f"the write of {tag_id} was cancelled (the HMI is stopping)") from None

    def status(self) -> RuntimeStatus:
        """A snapshot for the status line; the sample rate is measured since the previous call."""
        snapshot = self.bus.snapshot()
        good = sum(1 for tv in snapshot.values() if tv.quality is Quality.GOOD)
        bad = sum(1 for tv in snapshot.values() if tv.quality is not Quality.GOOD)
        waiting = len(self.plant.tags) - len(snapshot)
        now = time.monotonic()
        then, count = self._rate_mark
        rate = (self.bus.published - count) / (now - then) if now > then else 0.0
        self._rate_mark = (now, self.bus.published)
        return RuntimeStatus(
            tags_good=good,
            tags_bad=bad,
            tags_waiting=max(0, waiting),
            samples_per_s=rate,
            historian=self.writer.stats(),
            links=self.links(),
            orders=self.dispatcher.stats() if self.dispatcher is not None else None,
        )
