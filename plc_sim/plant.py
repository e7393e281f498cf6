"""The plant a simulator serves: the input config wired to this simulator, plus load and fault twins."""

from __future__ import annotations

import json
from collections.abc import Iterable

from hmi.config import AlarmsConfig, EndpointConfig, ParameterConfig, PlantConfig, TwinConfig
from hmi.domain.plant import Stream, TagKind

NAMESPACE = "urn:hmi:plc-sim"
NUMERIC_NAMESPACE = "urn:hmi:plc-sim:numeric"
# The server's ApplicationUri: a certificate given with --certificate must carry it as its SAN URI.
APPLICATION_URI = "urn:hmi:plc-sim:server"
LOAD_TWIN_SIZE = 100
FAULT_TWIN = "faults"
# Forcing (see plc_sim.force): Objects/Simulation/Force holds one writable Double per forceable tag.
# Twin ids are lower-case identifiers without dots, so these NodeIds never meet a twin's folder.
SIMULATION_FOLDER = "Simulation"
FORCE_FOLDER = "sim.force"


def force_node_id(tag_id: str) -> str:
    """The NodeId (string form) a client writes to force `tag_id`: ``ns=2;s=sim.force.<tag_id>``."""
    return f"ns=2;s={FORCE_FOLDER}.{tag_id}"


def endpoint_url(host: str, port: int) -> str:
    """The simulator's OPC UA endpoint URL."""
    return f"opc.tcp://{host}:{port}/hmi/plc"


def load_twins(count: int, rate_hz: float = 1.0) -> dict[str, TwinConfig]:
    """`count` synthetic analog tags in twins load01, load02, ... of at most 100 parameters each."""
    sampling_ms = max(0, round(1000 / rate_hz)) if rate_hz > 0 else 1000
    twins: dict[str, TwinConfig] = {}
    for start in range(0, count, LOAD_TWIN_SIZE):
        twin_id = f"load{start // LOAD_TWIN_SIZE + 1:02d}"
        params = {
            f"s{k:03d}": ParameterConfig(
                node_id=f"ns=2;s={twin_id}.s{k:03d}", unit="", kind=TagKind.ANALOG, range=(0.0, 100.0), band=(10.0, 90.0),
                sampling_ms=sampling_ms,
            )
            for k in range(min(LOAD_TWIN_SIZE, count - start))
        }
        twins[twin_id] = TwinConfig(name=f"Load {twin_id[4:]}", stream=Stream.POWER, endpoint="", parameters=params)
    return twins


def fault_twin() -> TwinConfig:
    """A twin whose nodes misbehave: NaN, +inf and a String where a number is expected."""
    params = {
        name: ParameterConfig(node_id=f"ns=2;s={FAULT_TWIN}.{name}", range=(0.0, 100.0), band=(10.0, 90.0))
        for name in ("nan", "inf", "text")
    }
    return TwinConfig(name="Faulty tags", stream=Stream.POWER, endpoint="", parameters=params)


def simulated_plant(
    base: PlantConfig, *, url: str, endpoint_name: str = "plc1", extra_tags: int = 0,
    extra_rate: float = 1.0,
    fault_tags: bool = False,
    security: dict[str, str] | None = None,
) -> PlantConfig:
    """The config a client needs for this simulator: every twin on one endpoint with this URL.

    `security` holds the endpoint's security_policy, security_mode, certificate, private_key and
    trust_dir (the client's side of a secured endpoint).
    """
    first = base.endpoints[0] if base.endpoints else None
    endpoint = EndpointConfig(
        name=endpoint_name,
        url=url,
        publishing_interval_ms=first.publishing_interval_ms if first else 100,
        timeout_s=first.timeout_s if first else 4.0,
        **(security or {}),
    )
    twins = dict(base.twins)
    twins.update(load_twins(extra_tags, extra_rate))
    if fault_tags:
        twins[FAULT_TWIN] = fault_twin()
    twins = {tid: t.model_copy(update={"endpoint": endpoint_name}) for tid, t in twins.items()}
    return PlantConfig(database=base.database, historian=base.historian, session=base.session,
                       alarms=_alarms_on(base, endpoint_name), endpoints=[endpoint], twins=twins)  # fmt: skip


def _alarms_on(base: PlantConfig, endpoint_name: str) -> AlarmsConfig:
    """The base's alarm settings with its endpoints' communication-loss overrides moved to ``endpoint_name``."""
    renamed = {ep.name: endpoint_name for ep in base.endpoints}
    overrides = {}
    for alarm_id, given in base.alarms.alarms.items():
        source, _, kind = alarm_id.rpartition(".")
        overrides[f"{renamed[source]}.{kind}" if kind == "comm_loss" and source in renamed else alarm_id] = given
    return base.alarms.model_copy(update={"alarms": overrides})


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if hasattr(value, "value"):  # enums
        value = value.value
    return json.dumps(str(value), ensure_ascii=False)


def _table(header: str, items: Iterable[tuple[str, object]]) -> list[str]:
    lines = [header]
    lines += [f"{key} = {_toml_value(v)}" for key, v in items if v is not None]
    return lines + [""]


def to_toml(config: PlantConfig) -> str:
    """The config as TOML text that `hmi.config.parse_config` reads back to an equal config."""
    lines = ["# Written by plc-sim --print-config: the plant this simulator serves.", ""]
    lines += _table("[database]", config.database.model_dump(exclude_none=True).items())
    lines += _table("[historian]", config.historian.model_dump(exclude_none=True).items())
    lines += _table("[session]", config.session.model_dump(exclude_none=True).items())
    alarms = config.alarms
    lines += _table("[alarms]", [("max_shelve_s", alarms.max_shelve_s)])
    for tag_id, settings in alarms.tags.items():
        lines += _table(f"[alarms.tags.{json.dumps(tag_id)}]", settings.model_dump(exclude_none=True).items())
    for alarm_id, given in alarms.alarms.items():
        lines += _table(f"[alarms.alarms.{json.dumps(alarm_id)}]", given.model_dump(exclude_none=True).items())
    lines += _table("[alarms.anomaly]", alarms.anomaly.model_dump().items())
    if alarms.mail is not None:
        lines += _table("[alarms.mail]", alarms.mail.model_dump(exclude_none=True).items())
    for ep in config.endpoints:
        lines += _table("[[endpoints]]", ep.model_dump(exclude_none=True).items())
    for twin_id, twin in config.twins.items():
        lines += _table(f"[twins.{twin_id}]", [("name", twin.name), ("stream", twin.stream), ("endpoint", twin.endpoint)])
        for name, p in twin.parameters.items():
            lines += _table(f"[twins.{twin_id}.parameters.{name}]", p.model_dump().items())
    return "\n".join(lines)
