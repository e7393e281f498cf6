"""The OPC UA server: one node per configured parameter, written in one batch per tick; tags can be forced."""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asyncua import Server, ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from hmi.config import PlantConfig
from hmi.domain.plant import TagKind, TagSpec
from plc_sim.model import PlantModel, SimParam
from plc_sim.plant import (
    APPLICATION_URI,
    FAULT_TWIN,
    FORCE_FOLDER,
    NAMESPACE,
    NUMERIC_NAMESPACE,
    SIMULATION_FOLDER,
    endpoint_url,
    force_node_id,
)
from plc_sim.recording import GroundTruth, Recorder

STOP_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VALUE = ua.AttributeIds.Value
LOAD_PREFIX = "load"
FAULT_VALUES: dict[str, tuple[object, ua.VariantType]] = {
    f"{FAULT_TWIN}.nan": (math.nan, ua.VariantType.Double),
    f"{FAULT_TWIN}.inf": (math.inf, ua.VariantType.Double),
    f"{FAULT_TWIN}.text": ("not a number", ua.VariantType.String),
}


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How to run the simulation (everything but the plant itself)."""

    host: str = "127.0.0.1"
    port: int = 4840
    seed: int | None = None
    speed: float = 1.0
    rate: float = 1.0
    extra_rate: float = 1.0
    episode_every_s: float = 6 * 3600.0
    record: Path | None = None
    ground_truth: Path | None = None
    fault_tags: bool = False
    # Secured endpoints, e.g. ("Basic256Sha256_SignAndEncrypt",); need certificate and private_key.
    security: tuple[str, ...] = ()
    certificate: Path | None = None
    private_key: Path | None = None
    secure_only: bool = False  # offer no unsecured (None) endpoint beside the secured ones
    # Accept only this user with this password (no anonymous sessions); None: anyone, anonymously.
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def security_policy_type(name: str) -> ua.SecurityPolicyType:
    """``Basic256Sha256_SignAndEncrypt`` -> the asyncua enum; ValueError naming the choices otherwise."""
    try:
        return ua.SecurityPolicyType[name]
    except KeyError:
        choices = ", ".join(n for n in ua.SecurityPolicyType.__members__ if n != "NoSecurity")
        raise ValueError(f"unknown security {name!r}; one of: {choices}") from None


@dataclass(slots=True)
class _Group:
    """Parameters produced by one model at one rate."""

    model: PlantModel
    rate: float
    tags: tuple[str, ...]
    nodeids: list[ua.NodeId]
    setpoints: dict[str, ua.NodeId] = field(default_factory=dict)  # twin -> setpoint node
    last_setpoint: dict[str, float] = field(default_factory=dict)
    forced: dict[int, float] = field(default_factory=dict)  # index in tags -> the value a client forced
    model_values: list[float] = field(default_factory=list)  # the model's last values, forced or not


@dataclass(frozen=True, slots=True)
class _Forceable:
    """What a force node stands for: a tag of a group."""

    group: _Group
    index: int
    param: SimParam


@dataclass(slots=True)
class Stats:
    """Counters a load test reads."""

    writes: int = 0
    ticks: int = 0
    late_ticks: int = 0


class SharedDataValue(ua.DataValue):
    """A DataValue that nobody mutates after creation, so it can be shared instead of deep-copied.

    asyncua deep-copies every written DataValue for every monitored item (monitored_item_service.py,
    set_current_datavalue); that copy was about 80 % of the server's CPU with a subscriber attached.
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict) -> SharedDataValue:
        return self


def parse_node_id(text: str) -> ua.NodeId:
    """A NodeId from its string form, e.g. ``ns=2;s=drillrig1.torque`` or ``ns=3;i=1001``."""
    return ua.NodeId.from_string(text)


def _timestamp(ts_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=ts_us)


class OneUser(UserManager):
    """Accepts one user name with its password; refuses everyone else (asyncua then answers BadUserAccessDenied)."""

    def __init__(self, name: str, password: str) -> None:
        self._name = name
        self._password = password.encode("utf-8")

    def get_user(self, iserver: object, username: str | None = None, password: str | None = None,
                 certificate: object = None) -> User | None:
        """The user when name and password match, else None."""
        given = (password or "").encode("utf-8")
        if username == self._name and hmac.compare_digest(given, self._password):
            return User(role=UserRole.User)
        log.warning("refused a session for user %r: wrong user name or password", username)
        return None


class SimServer:
    """An asyncua server that plays the plant described by a config."""

    def __init__(self, config: PlantConfig, options: SimOptions) -> None:
        self.config = config
        self.options = options
        self.url = endpoint_url(options.host, options.port)
        self.stats = Stats()
        self._server = Server()
        self._groups: list[_Group] = []
        self._faults: list[tuple[str, ua.NodeId]] = []
        self._forceable: dict[ua.NodeId, _Forceable] = {}
        # A force's immediate write must not land between a tick's timestamp and that tick's writes.
        self._write_lock = asyncio.Lock()
        self._recorder: Recorder | None = None
        self._truth: GroundTruth | None = None
        self._sim_t0 = 0.0
        self._mono_t0 = 0.0

    def sim_time(self, mono: float | None = None) -> float:
        """Simulated time (epoch seconds): starts at the wall clock and runs `speed` times faster."""
        mono = time.monotonic() if mono is None else mono
        return self._sim_t0 + (mono - self._mono_t0) * self.options.speed

    async def start(self) -> None:
        """Build the address space, write the first values and listen; OSError if the port is taken."""
        opts = self.options
        server = self._server
        await self._setup_security()  # before init(), which takes a second or two: fail fast on bad files
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("plc-sim")
        await server.set_application_uri(APPLICATION_URI)
        tags = self.config.plant().tags
        await self._register_namespaces(tags)

        self._sim_t0 = time.time()
        self._mono_t0 = time.monotonic()
        if opts.record:
            self._recorder = Recorder(opts.record)
        if opts.ground_truth:
            self._truth = GroundTruth(opts.ground_truth)

        nodes = await self._create_nodes(tags)
        fault_ids = set(FAULT_VALUES) if opts.fault_tags else set()
        plant = [t for t in tags if not t.twin.startswith(LOAD_PREFIX) and t.tag_id not in fault_ids]
        load = [t for t in tags if t.twin.startswith(LOAD_PREFIX) and t.tag_id not in fault_ids]
        self._faults = [(t.tag_id, nodes[t.tag_id]) for t in tags if t.tag_id in fault_ids]
        seed = opts.seed
        self._groups.append(self._group(plant, nodes, opts.rate, seed, opts.episode_every_s))
        if load:
            self._groups.append(self._group(load, nodes, opts.extra_rate, None if seed is None else seed + 1, None))
        await self._create_force_nodes(self._groups[0])
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_client_write)

        ts_us = time.time_ns() // 1000
        for g in self._groups:
            initial = g.model.initial_setpoints()
            if initial:
                sp_tags = list(initial)
                await self._write([nodes[t] for t in sp_tags], sp_tags, list(initial.values()), ts_us)
                g.last_setpoint = {twin: g.model.setpoint(twin) or 0.0 for twin in g.setpoints}
            await self._produce(g, ts_us)
        await self._write_faults(ts_us)
        await server.start()

    async def _setup_security(self) -> None:
        """The endpoints to offer; with security, the server's own certificate and key.

        Any client certificate is accepted (no validator): this is a simulator, the client side's
        check of the server certificate is what the HMI tests.
        """
        opts = self.options
        policies = [security_policy_type(name) for name in opts.security]
        if policies:
            if not (opts.certificate and opts.private_key):
                raise ValueError("--security needs --certificate and --private-key (the server's own)")
            try:
                await self._server.load_certificate(str(opts.certificate))
                await self._server.load_private_key(str(opts.private_key))
            except OSError as exc:
                raise ValueError(f"cannot read {exc.filename}: {exc.strerror}") from None
            except Exception as exc:  # not a certificate / key in DER or PEM
                raise ValueError(f"cannot load the server certificate or key: {type(exc).__name__}: {exc}") from None
        elif opts.secure_only:
            raise ValueError("--secure-only needs --security")
        if not opts.secure_only:
            policies.insert(0, ua.SecurityPolicyType.NoSecurity)
        self._server.set_security_policy(policies)
        if opts.user is not None:
            if not opts.password:
                raise ValueError("a user needs a password")
            self._server.iserver.set_user_manager(OneUser(opts.user, opts.password))
            self._server.set_identity_tokens([ua.UserNameIdentityToken])

    def _group(
        self, tags: Sequence[TagSpec], nodes: dict[str, ua.NodeId], rate: float, seed: int | None, every: float | None
    ) -> _Group:
        model = PlantModel(
            [SimParam.from_tag(t) for t in tags], seed=seed, start_time=self._sim_t0, episode_every_s=every
        )
        setpoints = {t.twin: nodes[t.tag_id] for t in tags if t.kind == TagKind.SETPOINT and model.setpoint(t.twin) is not None}
        return _Group(model, rate, model.produced_tags, [nodes[t] for t in model.produced_tags], setpoints)

    async def _register_namespaces(self, tags: Sequence[TagSpec]) -> None:
        uris = [NAMESPACE, NUMERIC_NAMESPACE]
        highest = max((parse_node_id(t.node_id).NamespaceIndex for t in tags), default=3)
        uris += [f"{NAMESPACE}:ns{i}" for i in range(4, highest + 1)]
        for expected, uri in enumerate(uris, start=2):
            index = await self._server.register_namespace(uri)
            if index != expected:
                raise RuntimeError(f"namespace {uri} got index {index}, expected {expected}")

    async def _create_nodes(self, tags: Sequence[TagSpec]) -> dict[str, ua.NodeId]:
        objects = self._server.nodes.objects
        folders = {}
        nodes: dict[str, ua.NodeId] = {}
        for tag in tags:
            if tag.twin not in folders:
                folders[tag.twin] = await objects.add_folder(ua.NodeId(tag.twin, 2), ua.QualifiedName(tag.twin, 2))
            nodeid = parse_node_id(tag.node_id)
            value, vtype = FAULT_VALUES.get(tag.tag_id, (0.0, ua.VariantType.Double))
            if not self.options.fault_tags:
                value, vtype = 0.0, ua.VariantType.Double
            try:
                var = await folders[tag.twin].add_variable(
                    nodeid, ua.QualifiedName(tag.parameter, nodeid.NamespaceIndex), value, varianttype=vtype
                )
            except ua.UaStatusCodeError as exc:
                raise ValueError(f"{tag.tag_id}: cannot serve node_id {tag.node_id!r}: {exc}") from None
            if tag.kind == TagKind.SETPOINT:
                await var.set_writable()
            nodes[tag.tag_id] = nodeid
        return nodes

    async def _create_force_nodes(self, g: _Group) -> None:
        """Objects/Simulation/Force: one writable Double per tag of the group, NaN while the tag is not forced.

        Only the plant's own tags: a node costs about half a millisecond of startup, and the
        synthetic load tags (thousands, for benchmarks) have no use for forcing.
        """
        objects = self._server.nodes.objects
        params = {p.tag_id: p for p in g.model.params}
        try:
            sim = await objects.add_folder(ua.NodeId(SIMULATION_FOLDER, 2), ua.QualifiedName(SIMULATION_FOLDER, 2))
            folder = await sim.add_folder(ua.NodeId(FORCE_FOLDER, 2), ua.QualifiedName("Force", 2))
            await folder.write_attribute(ua.AttributeIds.Description, ua.DataValue(ua.Variant(ua.LocalizedText(
                "Write a number to force the tag to it, NaN to release it (python -m plc_sim.force)"))))
            for i, tag in enumerate(g.tags):
                nodeid = parse_node_id(force_node_id(tag))
                var = await folder.add_variable(
                    nodeid, ua.QualifiedName(tag, 2), math.nan, varianttype=ua.VariantType.Double
                )
                await var.set_writable()
                self._forceable[nodeid] = _Forceable(g, i, params[tag])
        except ua.UaStatusCodeError as exc:
            raise ValueError(f"cannot serve the forcing nodes under {SIMULATION_FOLDER}: {exc}") from None

    async def _on_client_write(self, event: ServerItemCallback, _dispatcher: object) -> None:
        """After a client's Write request: apply the forces it set or released."""
        for item, status in zip(event.request_params.NodesToWrite, event.response_params, strict=True):
            target = self._forceable.get(item.NodeId)
            if target is None or item.AttributeId != VALUE or not status.is_good():
                continue
            variant = item.Value.Value if item.Value is not None else None
            await self._set_force(target, item.NodeId, variant.Value if variant is not None else None)

    async def _set_force(self, target: _Forceable, force_node: ua.NodeId, value: object) -> None:
        """Force the tag to a finite value (served at once and at every tick) or release it (anything else)."""
        g, i, tag = target.group, target.index, target.param.tag_id
        if isinstance(value, float) and math.isfinite(value):
            g.forced[i] = value
            served = value
            log.info("forced %s to %r", tag, value)
        else:
            if not (isinstance(value, float) and math.isnan(value)):
                # +-inf or a null: not a force, so the node shows the tag as released
                dv = ua.DataValue(ua.Variant(math.nan, ua.VariantType.Double))
                await self._server.iserver.aspace.write_attribute_value(force_node, VALUE, dv)
            if g.forced.pop(i, None) is None:
                return
            served = g.model_values[i]  # the model's value resumes now, not at the next tick
            log.info("released %s", tag)
        async with self._write_lock:
            ts_us = time.time_ns() // 1000
            await self._write([g.nodeids[i]], [tag], [served], ts_us)
        if self._truth:
            forced = g.forced.get(i)
            self._truth.write_force(target.param.twin, target.param.parameter, forced, ts_us / 1e6, self.sim_time())

    async def _write(self, nodeids: Sequence[ua.NodeId], tags: Sequence[str], values: list, ts_us: int) -> None:
        """Write one batch straight into the address space (no per-node service call), then record it."""
        stamp = _timestamp(ts_us)
        write = self._server.iserver.aspace.write_attribute_value
        double = ua.VariantType.Double
        for nodeid, value in zip(nodeids, values, strict=True):
            vtype = double if isinstance(value, float) else ua.VariantType.String
            dv = SharedDataValue(ua.Variant(value, vtype), SourceTimestamp=stamp, ServerTimestamp=stamp)
            await write(nodeid, VALUE, dv)
        self.stats.writes += len(values)
        if self._recorder:
            self._recorder.write(tags, ts_us, values)

    async def _write_faults(self, ts_us: int) -> None:
        if self._faults:
            tags = [t for t, _ in self._faults]
            await self._write([n for _, n in self._faults], tags, [FAULT_VALUES[t][0] for t in tags], ts_us)

    def _read_setpoints(self, g: _Group) -> None:
        aspace = self._server.iserver.aspace
        for twin, nodeid in g.setpoints.items():
            value = aspace.read_attribute_value(nodeid, VALUE).Value.Value
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value != g.last_setpoint.get(twin):
                g.last_setpoint[twin] = float(value)
                g.model.set_setpoint(twin, float(value))

    async def _produce(self, g: _Group, ts_us: int) -> None:
        wall = ts_us / 1e6
        values, events = g.model.step(self.sim_time())
        served = g.model_values = values.tolist()
        if g.forced:
            served = served.copy()
            for i, value in g.forced.items():
                served[i] = value
        await self._write(g.nodeids, g.tags, served, ts_us)
        for event in events:
            log.info("%s %s.%s", event.kind, event.twin, event.parameter)
            if self._truth:
                self._truth.write(event, wall)

    async def _tick(self, g: _Group) -> None:
        self._read_setpoints(g)
        async with self._write_lock:
            ts_us = time.time_ns() // 1000
            await self._produce(g, ts_us)
            if g is self._groups[0]:
                await self._write_faults(ts_us)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every group at its rate until stop is set."""
        tasks = [asyncio.create_task(self._every(g.rate, lambda g=g: self._tick(g))) for g in self._groups]
        tasks.append(asyncio.create_task(self._log_stats(5.0)))
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _log_stats(self, every_s: float) -> None:
        last, t_last = self.stats.writes, time.monotonic()
        while True:
            await asyncio.sleep(every_s)
            now = time.monotonic()
            rate = (self.stats.writes - last) / (now - t_last)
            log.info("%.0f writes/s, %d late ticks so far", rate, self.stats.late_ticks)
            last, t_last = self.stats.writes, now

    async def _every(self, rate: float, tick: Callable[[], Awaitable[None]]) -> None:
        """Call tick at a fixed rate on an absolute schedule, so late ticks never accumulate drift."""
        period = 1.0 / rate
        start = time.monotonic()
        k = 0
        while True:
            k += 1
            delay = start + k * period - time.monotonic()
            if delay < -period:
                # more than a whole slot behind: skip the missed slots instead of bursting to catch up
                self.stats.late_ticks += 1
                k = int((time.monotonic() - start) / period) + 1
                delay = start + k * period - time.monotonic()
            await asyncio.sleep(max(0.0, delay))
            await tick()
            self.stats.ticks += 1

    async def stop(self) -> None:
        """Flush the files, then stop listening."""
        if self._recorder:
            self._recorder.close()
        if self._truth:
            self._truth.close()
        iserver = self._server.iserver
        if iserver.time_task is not None:
            # its loop sleeps a whole second between clock updates; don't wait that out at shutdown
            iserver.time_task.cancel()
            await asyncio.gather(iserver.time_task, return_exceptions=True)
            iserver.time_task = None
        # asyncua closes the client connections before the listening socket: a client with
        # auto-reconnect comes straight back, and wait_closed() then waits for it forever.
        try:
            await asyncio.wait_for(self._server.stop(), STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("clients still connected after %.0f s; stopping anyway", STOP_TIMEOUT_S)
