"""The MQTT shell around one Floor: a paho client, the loop step that feeds the floor, and the faults.

paho's thread only puts what arrives into a queue; the main thread (``step``) does all the work, saves
the state file before it publishes, and publishes only while connected: whatever is unacked is sent
again after every reconnect and every ``resend_s``.
"""

from __future__ import annotations

import queue
import random
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from hmi.domain.shopfloor import Channel, MachineState, MessageError, decode, topic
from shopfloor_sim.faults import malformed
from shopfloor_sim.floor import Floor, Outgoing
from shopfloor_sim.state import StateFile

HEARTBEAT_S = 2.0
KEEPALIVE_S = 10
_CONNECTED = object()  # put in the inbox when a (re)connect has subscribed


@dataclass(frozen=True, slots=True)
class Faults:
    """The fault options (seconds from process start); None: that fault is off."""

    die_after: float | None = None
    stall_after: float | None = None
    stall_for: float = 15.0
    stop_reporting_after: float | None = None
    malformed_every: int | None = None
    machine_stop_after: float | None = None
    machine_stop_for: float = 10.0

    def any(self) -> bool:
        """True if some fault is on."""
        return any(v is not None for v in (self.die_after, self.stall_after, self.stop_reporting_after,
                                           self.malformed_every, self.machine_stop_after))  # fmt: skip


# The reasons a random machine stop (--machine-stops-every) gives, one picked at random each time.
STOP_REASONS = ("jam at the capper", "label roll empty", "safety door opened", "conveyor blocked",
                "filler low on product")
STOP_S = (5.0, 120.0)  # how long a random machine stop lasts, wall seconds (uniform): micro-stops and calls


class RandomStops:
    """Random machine stops now and then: exponential gaps with a mean of ``every_s``, each of STOP_S seconds."""

    def __init__(self, every_s: float, rng: random.Random) -> None:
        self.every_s = every_s
        self.rng = rng
        self._next: float | None = None  # when the next stop starts (monotonic seconds)
        self._until: float | None = None  # while stopped: when it runs again

    def step(self, now: float, floor: Floor) -> list[Outgoing]:
        """The machine message due now (a stop or the restart), if any."""
        if self._next is None:
            self._next = now + self.rng.expovariate(1.0 / self.every_s)
        if self._until is not None:
            if now < self._until:
                return []
            self._until = None
            self._next = now + self.rng.expovariate(1.0 / self.every_s)
            return [floor.machine(MachineState.RUNNING, "")]
        if now < self._next or floor.machine_stopped:  # a fault's stop is not interrupted
            return []
        self._until = now + self.rng.uniform(*STOP_S)
        reason = STOP_REASONS[self.rng.randrange(len(STOP_REASONS))]
        return [floor.machine(MachineState.STOPPED, reason)]


def say(line: str, err: bool = False) -> None:
    """One line on stdout (events) or stderr (trouble), flushed at once for whoever reads the pipe."""
    print(line, file=sys.stderr if err else sys.stdout, flush=True)


class FloorLink:
    """One shopfloor on the broker."""

    def __init__(self, floor: Floor, host: str, port: int, *, speed: float, resend_s: float,
                 state: StateFile | None, faults: Faults | None, stops: RandomStops | None = None) -> None:  # fmt: skip
        self.floor, self.host, self.port = floor, host, port
        self.speed, self.resend_s, self.state, self.faults = speed, resend_s, state, faults or Faults()
        self.stops = stops
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.ready = threading.Event()  # subscribed at least once
        self._connected = False  # subscribed on the current connection (main thread's view)
        self._down_said = False
        self._published = 0
        self._malformed = 0
        self._last_tick: float | None = None
        self._last_heartbeat = -1e18
        self._stalled = self._machine_done = False
        self._machine_stopped_by_fault = False
        fid = floor.shopfloor_id
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"shopfloor-sim-{fid}",
                                  clean_session=False, protocol=mqtt.MQTTv311)  # fmt: skip
        self.client.reconnect_delay_set(min_delay=1, max_delay=8)
        self.client.on_socket_open = self._on_socket_open
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # --- paho's thread ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho retries with back-off until the broker is there."""
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly and end paho's thread."""
        self._down_said = True  # our own disconnect is no outage to report
        self.client.disconnect()
        self.client.loop_stop()

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        try:  # without it a QoS 1 round trip waits ~40 ms for Nagle (STACK.md)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._down(f"refused the connection ({reason})")
            return
        client.subscribe(topic(self.floor.shopfloor_id, Channel.INSTRUCTIONS), qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        if self._down_said:
            say(f"shopfloor-sim: {self.floor.shopfloor_id}: connected to the broker again", err=True)
            self._down_said = False
        self.inbox.put(_CONNECTED)
        self.ready.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._down("is not reachable")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.inbox.put(None)
        self._down(f"went away ({reason})")

    def _down(self, what: str) -> None:
        if not self._down_said:
            self._down_said = True
            say(f"shopfloor-sim: {self.floor.shopfloor_id}: the broker at {self.host}:{self.port} {what}; "
                "retrying until it is back", err=True)  # fmt: skip

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.inbox.put(bytes(message.payload))

    # --- the main thread -------------------------------------------------------------------------

    def step(self, now: float, since_start: float) -> None:
        """Take in what arrived, produce, send what is due; ``since_start`` times the faults."""
        f = self.faults
        if f.stall_after is not None and f.stall_after <= since_start < f.stall_after + f.stall_for:
            if not self._stalled:
                self._stalled = True
                self._event(f"stalled for {f.stall_for:g} s (--stall-after)")
            self._last_tick = now
            return
        if self._stalled:
            self._stalled = False
            self._event("stall over")
        outs: list[Outgoing] = []
        outs += self._machine_fault(since_start)
        if self.stops is not None:
            outs += self.stops.step(now, self.floor)
        outs += self._take_inbox(now)
        dt = 0.0 if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        outs += self.floor.advance(dt * self.speed, now)
        if self._connected and now - self._last_heartbeat >= HEARTBEAT_S:
            self._last_heartbeat = now
            outs.append(self.floor.heartbeat())
        if self._connected:
            new = {id(o) for o in outs}
            outs += [o for o in self.floor.due(now, self.resend_s) if id(o) not in new]
        self.save()
        for line in self.floor.events:
            self._event(line)
        self.floor.events.clear()
        self._publish(outs, now, since_start)

    def save(self) -> None:
        """Write the state file if anything changed (before anything that depends on it is published)."""
        if self.state is not None and self.floor.dirty:
            self.state.write(self.floor.to_state())
        self.floor.dirty = False

    def _take_inbox(self, now: float) -> list[Outgoing]:
        outs: list[Outgoing] = []
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return outs
            if item is _CONNECTED:
                self._connected = True
                self.floor.forget_sent()
            elif item is None:
                self._connected = False
            else:
                try:
                    outs += self.floor.receive(decode(item, Channel.INSTRUCTIONS), now)
                except MessageError as error:
                    say(f"shopfloor-sim: {self.floor.shopfloor_id}: ignored an invalid message: {error}", err=True)

    def _machine_fault(self, since_start: float) -> list[Outgoing]:
        f = self.faults
        if f.machine_stop_after is None or self._machine_done or since_start < f.machine_stop_after:
            return []
        if not self._machine_stopped_by_fault:
            self._machine_stopped_by_fault = True
            return [self.floor.machine(MachineState.STOPPED, "jam at the capper (--machine-stop-after)")]
        if since_start >= f.machine_stop_after + f.machine_stop_for:
            self._machine_done = True
            return [self.floor.machine(MachineState.RUNNING, "")]
        return []

    def _publish(self, outs: list[Outgoing], now: float, since_start: float) -> None:
        if not self._connected:
            return  # unacked ones stay due; heartbeats and acks follow anew
        f = self.faults
        silent = f.stop_reporting_after is not None and since_start >= f.stop_reporting_after
        sent = []
        for out in outs:
            if silent and out.kind == "report":
                continue
            self._published += 1
            channel, payload = out.channel, out.payload
            if f.malformed_every and self._published % f.malformed_every == 0:
                kind, where, payload = malformed(self._malformed, self.floor.shopfloor_id)
                self._malformed += 1
                channel = where or channel
                self._event(f"sent a malformed message ({kind}) instead of a {out.kind}")
            self.client.publish(topic(self.floor.shopfloor_id, channel), payload, qos=out.qos)
            sent.append(out)
        self.floor.mark_sent(sent, now)

    def _event(self, line: str) -> None:
        say(f"{self.floor.shopfloor_id}: {line}")
