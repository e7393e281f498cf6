"""The HMI's link to the MQTT broker: paho-mqtt 2 on its own network thread, bridged into an asyncio loop.

Threads
    paho's network thread (``loop_start``) reads and writes the socket and runs paho's callbacks. It
    reaches the asyncio loop only through ``loop.call_soon_threadsafe``: the loop is the one running
    when ``start()`` is awaited (the acquisition loop of ``hmi.io.acquisition_loop``, or the
    dispatcher's). Messages are handed over in batches (one loop callback per burst, not per message),
    and ``on_message``, ``on_status`` and ``publish()``'s result all happen on that loop's thread.

Connections
    Each (re)connect is a fresh paho client with the same client id (paho's own reconnect is off, so
    nothing of a lost connection lingers in its memory). The TCP and TLS handshake runs in an
    executor; the link is UP once the broker's CONNACK has come and every subscription is granted
    (QoS 1, made again on every connect). After a loss, or a failed attempt, it tries again after
    1 s, doubling to 30 s while attempts fail. MQTT 3.1.1 connects with clean session off, MQTT 5 with
    clean start off and the configured session expiry, so the broker keeps our subscriptions and
    queues QoS 1 messages for us while we are away (Mosquitto does; amqtt 0.12.1 delivers none).

Publishing
    ``await publish(topic, payload)`` returns True when the broker's PUBACK has come, False when the
    message was not sent or its PUBACK did not come: the link is down, it goes down while waiting, too
    many publishes await their PUBACK, or none came within ``timeout_s``. Nothing is queued while the
    link is down: the caller keeps what must arrive (the outbox) and sends it again.

Use (by the dispatcher, on its loop)::

    broker = plant.broker                      # None: the MES half is off
    link = MqttLink(broker, handler, [subscription(Channel.REPORTS), subscription(Channel.HEARTBEAT)],
                    workstation=workstation_name(), password=broker_password(broker))
    link.on_status = lambda status: ...        # e.g. the status bar; link.status is the current one
    await link.start()                         # returns at once; the link connects in the background
    ok = await link.publish(topic(shopfloor_id, Channel.INSTRUCTIONS), encode(instruction))
    await link.stop()                          # a clean DISCONNECT; status STOPPED
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hmi.config import MqttConfig
from hmi.io.link import LinkState, LinkStatus
from hmi.secrets import mqtt_secret

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]

RETRY_MIN_S = 1.0
RETRY_MAX_S = 30.0
CONNECT_TIMEOUT_S = 5.0  # TCP + TLS handshake, and then again for the CONNACK
MAX_AWAITING_PUBACK = 1000
MAX_INFLIGHT = 100  # QoS 1 messages paho sends before it waits for a PUBACK
# MQTT 5 reason codes for a refused login; paho maps MQTT 3.1.1 CONNACK 4 and 5 onto them.
_NOT_AUTHORISED = {"Bad user name or password", "Not authorized"}


@dataclass(slots=True)
class MqttCounters:
    """What went through the link since it was made: messages received and published, invalid ones, reconnects.

    ``invalid`` is counted by whoever decodes the messages (the dispatcher); the link counts the rest.
    """

    received: int = 0
    published: int = 0
    invalid: int = 0
    reconnects: int = 0


class _Refused(Exception):
    """The broker turned the connection down (CONNACK with a failure) or closed it before answering."""


class MqttLink:
    """A persistent MQTT session with the broker: subscribes, delivers messages into a loop, publishes at QoS 1."""

    def __init__(
        self,
        config: MqttConfig,
        on_message: OnMessage,
        subscriptions: Sequence[str],
        *,
        workstation: str,
        password: str | None = None,
        name: str = "mqtt",
    ) -> None:
        self.config = config
        self.name = name
        self.client_id = config.client_id_for(workstation)
        self.subscriptions = list(subscriptions)
        self.counters = MqttCounters()
        self.status = LinkStatus.now(name, LinkState.STOPPED, "not started")
        self.on_status: Callable[[LinkStatus], None] | None = None
        self._on_message = on_message
        self._password = password
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: mqtt.Client | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        # the attempt in progress: its CONNACK (+ SUBACK) and its loss, resolved on the loop
        self._connected: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[str] | None = None
        self._subscribe_mid: int | None = None
        self._awaiting: dict[int, asyncio.Future[bool]] = {}
        self._inbox: list[tuple[str, bytes]] = []
        self._inbox_lock = threading.Lock()
        self._lost_at: float | None = None

    @property
    def url(self) -> str:
        """The broker's URL, as configured."""
        return self.config.url

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background, on the running loop; returns at once (see ``status``)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._lost_at = None
        self._wake = asyncio.Event()
        self._set_status(LinkState.CONNECTING, f"connecting to {self.url}")
        self._task = self._loop.create_task(self._run(), name=f"mqtt link {self.name}")

    async def stop(self) -> None:
        """Disconnect cleanly (the broker keeps our session) and end the link; status STOPPED."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        client = self._client
        if client is not None:
            client.disconnect()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CONNECT_TIMEOUT_S * 2 + 1)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        self._task = None
        self._fail_awaiting()
        self._set_status(LinkState.STOPPED, "stopped by the HMI")

    async def publish(self, topic: str, payload: bytes, qos: int = 1, timeout_s: float = 10.0) -> bool:
        """Publish; True once the broker's PUBACK came (QoS 1), False when not sent or unconfirmed (see the module)."""
        client = self._client
        if client is None or self.status.state is not LinkState.UP or len(self._awaiting) >= MAX_AWAITING_PUBACK:
            return False
        info = client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        if qos == 0:
            self.counters.published += 1
            return True
        assert self._loop is not None
        # Registered before the loop runs anything else, so the PUBACK (handed over by
        # call_soon_threadsafe) always finds it.
        done = self._loop.create_future()
        self._awaiting[info.mid] = done
        try:
            return await asyncio.wait_for(done, timeout_s)
        except asyncio.TimeoutError:
            return False
        finally:
            self._awaiting.pop(info.mid, None)

    # -- the connection, on the loop ------------------------------------------------------------

    async def _run(self) -> None:
        delay = RETRY_MIN_S
        logged = ""
        while not self._stopping:
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no connection: say why, wait, try again
                reason = _connect_reason(exc, self.config)
                if reason != logged:  # once per cause, not once per attempt
                    log.warning("%s: cannot connect to %s: %s; retrying", self.name, self.url, reason)
                    logged = reason
                self._down(f"no connection to {self.url}: {reason}", reason)
                await self._close_client()
                await self._sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            logged = ""
            delay = RETRY_MIN_S
            reason = await self._lost_or_stopped()
            await self._close_client()
            if self._stopping:
                return
            log.warning("%s: connection to %s lost (%s); reconnecting", self.name, self.url, reason)
            self._lost_at = time.monotonic()
            self._down(f"connection to {self.url} lost: {reason}", reason)
            await self._sleep(delay)

    async def _connect_once(self) -> None:
        """One attempt: TCP/TLS in an executor, paho's thread, then CONNACK and SUBACK; raises why it failed."""
        assert self._loop is not None
        client = self._make_client()
        self._connected = self._loop.create_future()
        self._lost = self._loop.create_future()
        self._client = client
        await self._loop.run_in_executor(None, self._open, client)
        client.loop_start()
        waiting = {self._connected, self._lost}
        done, _ = await asyncio.wait(waiting, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        if self._stopping:
            return
        if not done:
            raise _Refused(self._no_connack())
        if self._connected in done:
            self._connected.result()  # raises _Refused for a CONNACK with a failure
        else:
            raise _Refused(self._lost.result())
        back = self._lost_at is not None
        self._set_status(LinkState.UP, f"connected to {self.url} as {self.client_id}")
        if back:
            self.counters.reconnects += 1
            log.info("%s: %s is back after %.0f s", self.name, self.url, time.monotonic() - (self._lost_at or 0.0))
            self._lost_at = None
        else:
            log.info("%s: connected to %s as %s", self.name, self.url, self.client_id)

    def _no_connack(self) -> str:
        text = f"no CONNACK from the broker within {CONNECT_TIMEOUT_S:g} s"
        if self.config.protocol == "5":
            text += ' to an MQTT 5 CONNECT (a broker that speaks MQTT 3.1.1 only, such as amqtt 0.12.1, never answers one: set protocol = "3.1.1")'
        return text

    async def _lost_or_stopped(self) -> str:
        assert self._lost is not None
        stop = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({self._lost, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        return self._lost.result() if self._lost.done() else "stopped"

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _close_client(self) -> None:
        """End the attempt's client: disconnect if still connected, join paho's thread (in an executor)."""
        client = self._client
        self._client = None
        self._fail_awaiting()
        if client is None:
            return
        assert self._loop is not None
        if self._lost is not None and not self._lost.done():
            client.disconnect()
        await self._loop.run_in_executor(None, _finish, client)

    def _down(self, detail: str, reason: str) -> None:
        self._fail_awaiting()
        self._set_status(LinkState.DOWN, detail, reason)

    def _fail_awaiting(self) -> None:
        for done in self._awaiting.values():
            if not done.done():
                done.set_result(False)
        self._awaiting.clear()

    def _set_status(self, state: LinkState, detail: str, reason: str = "") -> None:
        if self.status.state is state and self.status.detail == detail:
            return
        self.status = LinkStatus.now(self.name, state, detail, reason)
        if self.on_status is not None:
            try:
                self.on_status(self.status)
            except Exception:
                log.exception("%s: the status callback failed", self.name)

    # -- paho's side (its thread; the executor for _open) --------------------------------------

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        v5 = cfg.protocol == "5"
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            reconnect_on_failure=False,
        )
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(MAX_AWAITING_PUBACK)
        if cfg.username:
            client.username_pw_set(cfg.username, self._password)
        if cfg.tls:
            client.tls_set(ca_certs=cfg.ca_file)
        client.on_socket_open = _no_delay
        client.on_connect = self._paho_connect
        client.on_subscribe = self._paho_subscribe
        client.on_disconnect = self._paho_disconnect
        client.on_message = self._paho_message
        client.on_publish = self._paho_publish
        return client

    def _open(self, client: mqtt.Client) -> None:
        """Blocking: TCP connect, TLS handshake, CONNECT sent (its CONNACK comes on paho's thread)."""
        cfg = self.config
        if cfg.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = cfg.session_expiry_s
            client.connect(cfg.host, cfg.port, cfg.keepalive_s, clean_start=False, properties=properties)
        else:
            client.connect(cfg.host, cfg.port, cfg.keepalive_s)

    def _post(self, client: mqtt.Client, callback: Callable[..., None], *args: Any) -> None:
        """Run callback(*args) on the loop, if this client is still the link's (stale ones are ignored)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._if_current, client, callback, args)
        except RuntimeError:  # the loop is closed: the HMI is exiting
            pass

    def _if_current(self, client: mqtt.Client, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        if client is self._client:
            callback(*args)

    def _paho_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            self._post(client, self._refused, _connack_reason(reason, self.config))
        elif self.subscriptions:
            _rc, mid = client.subscribe([(topic, 1) for topic in self.subscriptions])
            self._post(client, self._subscribing, mid)
        else:
            self._post(client, self._granted, [])

    def _paho_subscribe(self, client: mqtt.Client, _userdata: Any, mid: int, codes: list[ReasonCode], _props: Any) -> None:
        self._post(client, self._subscribed, mid, [code.is_failure for code in codes])

    def _paho_disconnect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _props: Any) -> None:
        self._post(client, self._disconnected, _disconnect_reason(reason, flags.is_disconnect_packet_from_server, self.config))

    def _paho_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._inbox_lock:
            first = not self._inbox
            self._inbox.append((message.topic, message.payload))
        if first and self._loop is not None:  # delivered also when this client has just been replaced
            try:
                self._loop.call_soon_threadsafe(self._deliver)
            except RuntimeError:  # the loop is closed: the HMI is exiting
                pass

    def _paho_publish(self, client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any) -> None:
        self._post(client, self._acked, mid, not reason.is_failure)

    # -- paho's events, on the loop -------------------------------------------------------------

    def _refused(self, reason: str) -> None:
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(_Refused(reason))

    def _subscribing(self, mid: int) -> None:
        self._subscribe_mid = mid

    def _subscribed(self, mid: int, failed: list[bool]) -> None:
        if mid == self._subscribe_mid:
            self._granted(failed)

    def _granted(self, failed: list[bool]) -> None:
        refused = [topic for topic, no in zip(self.subscriptions, failed) if no]
        if refused:
            log.error("%s: the broker refused the subscription to %s (not allowed for this user?)", self.name, ", ".join(refused))
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(None)

    def _disconnected(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)

    def _deliver(self) -> None:
        with self._inbox_lock:
            batch, self._inbox = self._inbox, []
        self.counters.received += len(batch)
        for topic, payload in batch:
            try:
                self._on_message(topic, payload)
            except Exception:
                log.exception("%s: the handler failed on a message on %s", self.name, topic)

    def _acked(self, mid: int, ok: bool) -> None:
        done = self._awaiting.get(mid)
        if done is not None and not done.done():
            if ok:
                self.counters.published += 1
            done.set_result(ok)


def _finish(client: mqtt.Client) -> None:
    """Blocking: wait for paho's thread to end (after the connection's loss or our DISCONNECT)."""
    client.loop_stop()


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Without TCP_NODELAY each QoS 1 round trip waits about 44 ms for Nagle's algorithm (STACK.md)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        log.debug("mqtt: cannot set TCP_NODELAY: %s", exc)


def _not_authorised(config: MqttConfig) -> str:
    return f"not authorised: check the user name and the keyring secret {mqtt_secret(config.host)}"


def _connack_reason(reason: ReasonCode, config: MqttConfig) -> str:
    """Why the broker refused the connection, in words."""
    if str(reason) in _NOT_AUTHORISED:
        return _not_authorised(config)
    return f"the broker refused the connection ({reason})"


def _disconnect_reason(reason: ReasonCode, from_broker: bool, config: MqttConfig) -> str:
    """Why a connection ended, in words."""
    if from_broker:
        if str(reason) in _NOT_AUTHORISED:
            return _not_authorised(config)
        return f"the broker disconnected us ({reason})"
    if str(reason) == "Keep alive timeout":
        return f"no answer from the broker for {config.keepalive_s} s (keepalive)"
    return "broker closed the connection"


def _connect_reason(exc: BaseException, config: MqttConfig) -> str:
    """Why a connection attempt failed, in a few words for the status bar."""
    if isinstance(exc, _Refused):
        return str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed ({exc.verify_message}); check ca_file"
    if isinstance(exc, ssl.CertificateError):
        return f"TLS: certificate verify failed ({exc}); check ca_file"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host {config.host}"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer from {config.host}:{config.port} within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
