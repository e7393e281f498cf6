"""The typed plant configuration (TOML): database, historian, PLC endpoints, twins and their tags, the MQTT broker."""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from hmi.domain.andon import CallState, EscalationTier, Loss, Reason
from hmi.domain.oee import OeeTargets
from hmi.domain.shifts import (
    WEEKDAYS, PlannedStopDef, ShiftCalendar, ShiftDef, calendar_problems, parse_hhmm, weekday, zone,
)  # fmt: skip
from hmi.domain.alarm_defs import (
    AlarmDefinition,
    AlarmKind,
    AlarmOverride,
    TagAlarmSettings,
    anomaly_definitions,
    configure,
    default_definitions,
    limits_problem,
    settings_limits,
)
from hmi.domain.plant import Plant, Stream, TagKind, TagSpec, TwinSpec
from hmi.domain.shopfloor import SHOPFLOOR_ID
from hmi.paths import default_database_url

IDENT = r"^[a-z][a-z0-9_]*$"
NODE_ID = re.compile(r"^(ns=\d+;)?[isgb]=.+$")


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the file, the key and what was expected."""


# user:password@ in a URL, and a password=... query parameter (libpq takes both).
_URL_PASSWORD = re.compile(r"(?P<keep>://[^:/@\s]*:)[^@\s]+@")
_QUERY_PASSWORD = re.compile(r"(?P<keep>[?&]password=)[^&#\s'\"]*", re.IGNORECASE)


def url_has_password(url: str) -> bool:
    """True when a URL carries a non-empty password (``user:pw@host`` or ``?password=pw``)."""
    # The same split as SQLAlchemy's make_url: user up to ':' or '/', password up to '@'.
    return bool(re.match(r"^[\w+]+://[^:/]*:[^@]+@", url) or re.search(r"[?&]password=[^&#\s]", url, re.I))


def mask_passwords(text: str) -> str:
    """The text with any password in a URL replaced by ``***``, for messages."""
    return _QUERY_PASSWORD.sub(r"\g<keep>***", _URL_PASSWORD.sub(r"\g<keep>***@", text))


# No plant measures beyond this; a bigger number in a range, band or limit is a typo or an attack
# (1e300 overflows the trend's arithmetic to inf).
MAX_MAGNITUDE = 1e15


def _sane(x: float) -> float:
    if not -MAX_MAGNITUDE <= x <= MAX_MAGNITUDE:
        raise ValueError(f"expected a number between -{MAX_MAGNITUDE:g} and {MAX_MAGNITUDE:g}")
    return x


# A finite number of a plausible size (NaN and infinities are refused for every model, see _Strict).
Sane = Annotated[float, AfterValidator(_sane)]
NonNegative = Annotated[float, Field(ge=0), AfterValidator(_sane)]


def _interval(pair: tuple[float, float]) -> str:
    return f"[{pair[0]:g}, {pair[1]:g}]"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatabaseConfig(_Strict):
    """Where the history lives (an SQLAlchemy URL, or nothing for the local SQLite file) and how long to wait for it."""

    url: str | None = None
    # A server that accepts the connection and never answers must not hold a writer, pane or
    # command forever: past these the database counts as away (the historian spools).
    connect_timeout_s: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = 5.0
    statement_timeout_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 10.0

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
            raise ValueError("expected an sqlite:/// or postgresql+psycopg:// URL")
        if url is not None and url_has_password(url):
            raise ValueError(
                "carries a password: remove it from the file and store it with `hmi secret set database` "
                "(or set the environment variable HMI_SECRET_DATABASE where the machine has no keyring)"
            )
        return url


class HistorianConfig(_Strict):
    """How the historian batches, and where it spools when the database is away."""

    flush_interval_s: Annotated[float, Field(gt=0, le=10)] = 1.0
    max_batch: Annotated[int, Field(ge=1)] = 50_000
    queue_limit: Annotated[int, Field(ge=1000)] = 2_000_000
    spool_path: str | None = None


class SessionConfig(_Strict):
    """The workstation's session: how long without a key or a click before it locks."""

    idle_lock_s: Annotated[float, Field(ge=10, le=86_400)] = 900.0


class AlarmTagConfig(_Strict):
    """Alarm settings for one tag: limits (HIHI/LOLO where given, HI/LO default to the band) and anti-chatter."""

    hihi: Sane | None = None
    hi: Sane | None = None
    lo: Sane | None = None
    lolo: Sane | None = None
    deadband: NonNegative | None = None
    on_delay_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    off_delay_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    enabled: bool = True


class AlarmOverrideConfig(_Strict):
    """Settings for one alarm by its id (``<tag>.<kind>`` or ``<endpoint>.comm_loss``)."""

    priority: Annotated[int, Field(ge=1, le=4)] | None = None
    deadband: NonNegative | None = None
    on_delay_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    off_delay_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    message: str | None = None
    enabled: bool = True


class AnomalyConfig(_Strict):
    """The statistical anomaly alarm per analog parameter: |z| above ``z`` over a rolling window."""

    enabled: bool = True
    window: Annotated[int, Field(ge=10, le=100_000)] = 120
    min_samples: Annotated[int, Field(ge=5)] = 30
    z: Annotated[float, Field(gt=0), AfterValidator(_sane)] = 3.0
    priority: Annotated[int, Field(ge=1, le=4)] = 4

    @model_validator(mode="after")
    def _enough_room(self) -> AnomalyConfig:
        if self.min_samples > self.window:
            raise ValueError(
                f"min_samples ({self.min_samples}) must not exceed window ({self.window}): the window could never "
                "hold enough values to score one"
            )
        return self


class MailConfig(_Strict):
    """E-mail notifications: the SMTP server (password from the secret ``smtp``), who gets what, how often."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    sender: str
    to: Annotated[list[str], Field(min_length=1)]
    max_priority: Annotated[int, Field(ge=1, le=4)] = 1
    max_per_hour: Annotated[int, Field(ge=1)] = 20
    digest_every_s: Annotated[float, Field(ge=0)] = 3600.0
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 15.0


class AlarmsConfig(_Strict):
    """The alarm system: shelving limit, per-tag and per-alarm settings, anomaly detection, e-mail."""

    max_shelve_s: Annotated[float, Field(gt=0, le=7 * 86_400)] = 8 * 3600.0
    tags: dict[str, AlarmTagConfig] = {}
    alarms: dict[str, AlarmOverrideConfig] = {}
    anomaly: AnomalyConfig = AnomalyConfig()
    mail: MailConfig | None = None

    @field_validator("tags", "alarms", mode="before")
    @classmethod
    def _dotted_keys(cls, tables: Any, info: ValidationInfo) -> Any:
        return _flatten_dotted(tables, f"alarms.{info.field_name}")


def _flatten_dotted(tables: Any, section: str) -> Any:
    """Nested names as dotted keys: ``[alarms.tags.drillrig1.torque]`` as ``[alarms.tags."drillrig1.torque"]``.

    Tag ids and alarm ids contain dots, so a table header without quotes nests them; both spellings
    mean the same. A table whose values are all tables is a level of the name, anything else is the
    settings (no settings field is a table).
    """
    if not isinstance(tables, dict):
        return tables
    flat: dict[str, Any] = {}

    def walk(name: str, value: Any) -> None:
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            for key, inner in value.items():
                walk(f"{name}.{key}", inner)
        elif name in flat:
            raise ValueError(f'{name} is given twice, as [{section}."{name}"] and as [{section}.{name}]: keep one')
        else:
            flat[name] = value

    for key, value in tables.items():
        walk(str(key), value)
    return flat


class EndpointConfig(_Strict):
    """One OPC UA server (a PLC) and how to talk to it."""

    name: Annotated[str, Field(pattern=IDENT)]
    url: Annotated[str, Field(pattern=r"^opc\.tcp://")]
    publishing_interval_ms: Annotated[int, Field(ge=10, le=60_000)] = 100
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 4.0
    security_policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str | None = None
    private_key: str | None = None
    trust_dir: str | None = Field(
        default=None, description="folder of trusted server certificates (DER or PEM); required with security"
    )
    username: str | None = Field(
        default=None, description="user to log in as; its password is the secret opcua.<name> (hmi secret set)"
    )

    @model_validator(mode="after")
    def _security_complete(self) -> EndpointConfig:
        if self.security_policy != "None":
            if self.security_mode == "None":
                raise ValueError("security_policy is set: security_mode must be Sign or SignAndEncrypt")
            missing = [k for k in ("certificate", "private_key", "trust_dir") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"security_policy is set: also needs {', '.join(missing)}")
        return self


MQTT_URL_FORM = "mqtt://host:port or mqtts://host:port (e.g. mqtt://127.0.0.1:1883, mqtts://broker.plant:8883)"
MQTT_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
CLIENT_ID = r"^[A-Za-z0-9._-]{1,128}$"


class MqttConfig(_Strict):
    """The MQTT broker of the shopfloors (the MES half): where it is, who we are on it, how we log in.

    The password of ``username`` is the secret ``mqtt.<host>`` (``hmi secret set mqtt.<host>``).
    """

    url: str
    enabled: bool = True
    client_id: Annotated[str, Field(pattern=CLIENT_ID)] | None = None
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    session_expiry_s: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 3600
    keepalive_s: Annotated[int, Field(ge=1, le=3600)] = 10
    ca_file: str | None = None
    username: Annotated[str, Field(min_length=1)] | None = None

    @field_validator("url")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(f"expected {MQTT_URL_FORM}") from None
        if parts.scheme not in MQTT_DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") \
                or parts.query or parts.fragment:
            raise ValueError(f"expected {MQTT_URL_FORM}")
        if parts.password is not None or parts.username is not None:
            raise ValueError("carries a user name or password: give the user as [mqtt] username and store its "
                             "password with `hmi secret set mqtt.<host>`")
        if port == 0:
            raise ValueError(f"port 0 is not a broker's port; expected {MQTT_URL_FORM}")
        return url

    @field_validator("ca_file")
    @classmethod
    def _ca_file_exists(cls, ca_file: str | None) -> str | None:
        if ca_file is not None and not Path(ca_file).is_file():
            raise ValueError(f"no such file {ca_file}: give the CA certificate (PEM) that signed the broker's certificate")
        return ca_file

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.protocol != "5" and "session_expiry_s" in self.model_fields_set:
            raise ValueError('session_expiry_s is for MQTT 5 only: set protocol = "5" or remove session_expiry_s '
                             "(MQTT 3.1.1 keeps the session until the client cleans it)")
        if self.username is not None:
            from hmi.secrets import NAME_PATTERN, mqtt_secret

            if not NAME_PATTERN.match(mqtt_secret(self.host)):
                raise ValueError(f"the host {self.host!r} cannot name the password's secret mqtt.<host>: "
                                 "give the broker by a host name or an IPv4 address")
        return self

    @property
    def host(self) -> str:
        """The broker's host name (lower case), as in the secret ``mqtt.<host>``."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The broker's port (1883 for mqtt://, 8883 for mqtts:// where the URL gives none)."""
        parts = urlsplit(self.url)
        return parts.port or MQTT_DEFAULT_PORTS[parts.scheme]

    @property
    def tls(self) -> bool:
        """True for an mqtts:// URL or a ca_file."""
        return urlsplit(self.url).scheme == "mqtts" or self.ca_file is not None

    def client_id_for(self, workstation: str) -> str:
        """The client id: the configured one, else ``hmi-<workstation>`` (characters a broker may refuse as ``-``)."""
        if self.client_id:
            return self.client_id
        return ("hmi-" + re.sub(r"[^A-Za-z0-9._-]", "-", workstation))[:128]


class KnownShopfloorConfig(_Strict):
    """A shopfloor the plant declares up front: its id and capacity (units per hour)."""

    id: str
    capacity: Annotated[float, Field(gt=0), AfterValidator(_sane)]

    @field_validator("id")
    @classmethod
    def _shopfloor_id(cls, shopfloor_id: str) -> str:
        if not SHOPFLOOR_ID.match(shopfloor_id):
            raise ValueError("expected a shopfloor id: letters, digits, '_' and '-', starting with a letter or "
                             "digit, at most 64 characters (e.g. sf-1)")
        return shopfloor_id


class ShopfloorsConfig(_Strict):
    """How the HMI judges shopfloors' heartbeats, re-sends its messages and how far ahead it sends work."""

    late_after_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    offline_after_s: Annotated[float, Field(gt=0, le=86_400)] = 10.0
    resend_s: Annotated[float, Field(gt=0, le=3600)] = 3.0
    ahead: Annotated[int, Field(ge=1, le=1000)] = 2
    known: list[KnownShopfloorConfig] = []

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> ShopfloorsConfig:
        if not self.offline_after_s > self.late_after_s:
            raise ValueError(f"offline_after_s ({self.offline_after_s:g}) must be greater than late_after_s "
                             f"({self.late_after_s:g}): a shopfloor is late before it is offline")
        ids = [k.id for k in self.known]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"[[shopfloors.known]] gives {', '.join(twice)} more than once: keep one of each")
        return self


class ParameterConfig(_Strict):
    """One parameter of a twin: its NodeId, unit, ranges and how it is sampled."""

    node_id: str
    unit: str = ""
    kind: TagKind = TagKind.ANALOG
    range: tuple[Sane, Sane]
    band: tuple[Sane, Sane]
    sampling_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 1000
    deadband: NonNegative = 0.0

    @field_validator("node_id")
    @classmethod
    def _node_id_form(cls, node_id: str) -> str:
        if not NODE_ID.match(node_id):
            raise ValueError("expected an OPC UA NodeId such as 'ns=2;s=drillrig1.torque' or 'ns=3;i=1001'")
        return node_id

    @model_validator(mode="after")
    def _ranges_ordered(self) -> ParameterConfig:
        if not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high] with low < high, got {list(self.range)}")
        if not self.band[0] <= self.band[1]:
            raise ValueError(f"band must be [low, high] with low <= high, got {list(self.band)}")
        if self.band[0] < self.range[0] or self.band[1] > self.range[1]:
            raise ValueError(
                f"band {_interval(self.band)} is outside the range {_interval(self.range)}: the band (normal "
                "operation) must lie within the range (what the instrument can measure)"
            )
        return self


class TwinConfig(_Strict):
    """A digital twin: its name, stream, endpoint and parameters."""

    name: str
    stream: Stream
    endpoint: str
    parameters: dict[Annotated[str, Field(pattern=IDENT)], ParameterConfig]


class EscalationTierConfig(_Strict):
    """One tier of [[andon.escalation]]: after so many minutes unacknowledged (or unresolved), notify these."""

    after_min: Annotated[float, Field(gt=0, le=7 * 24 * 60)]
    until: Literal["acknowledged", "resolved"] = "acknowledged"
    name: Annotated[str, Field(min_length=1, max_length=80)]
    notify: list[str] = []  # e-mail addresses; none: the [alarms.mail] to list

    @field_validator("notify")
    @classmethod
    def _addresses(cls, notify: list[str]) -> list[str]:
        for address in notify:
            if not EMAIL.match(address):
                raise ValueError(f"{address[:80]!r} is not an e-mail address (name@host)")
        return notify


class ReasonConfig(_Strict):
    """One reason code of [andon.reasons]: the words the operator sees and where the time goes in OEE."""

    text: Annotated[str, Field(min_length=1, max_length=120)]
    loss: Loss


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
DEFAULT_TIERS = (
    EscalationTierConfig(after_min=5, until="acknowledged", name="shift supervisor"),
    EscalationTierConfig(after_min=15, until="resolved", name="production manager"),
)
DEFAULT_REASONS = {
    "mechanical": ReasonConfig(text="Mechanical failure", loss=Loss.BREAKDOWN),
    "electrical": ReasonConfig(text="Electrical failure", loss=Loss.BREAKDOWN),
    "material": ReasonConfig(text="Material shortage", loss=Loss.BREAKDOWN),
    "quality": ReasonConfig(text="Quality problem", loss=Loss.BREAKDOWN),
    "changeover": ReasonConfig(text="Setup / changeover", loss=Loss.SETUP),
    "adjustment": ReasonConfig(text="Adjustment", loss=Loss.SETUP),
    "planned_maintenance": ReasonConfig(text="Planned maintenance", loss=Loss.PLANNED),
    "other": ReasonConfig(text="Other", loss=Loss.BREAKDOWN),
}


class AndonConfig(_Strict):
    """Andon calls and downtime: the micro-stop threshold, the escalation tiers and the reason codes."""

    micro_stop_s: NonNegative = 60.0
    # How often `hmi collect` and the GUI look for calls due to escalate (each tier is taken once, plant-wide).
    escalate_every_s: Annotated[float, Field(gt=0, le=300), AfterValidator(_sane)] = 5.0
    escalation: list[EscalationTierConfig] = list(DEFAULT_TIERS)
    reasons: dict[str, ReasonConfig] = dict(DEFAULT_REASONS)

    @field_validator("reasons")
    @classmethod
    def _reason_codes(cls, reasons: dict[str, ReasonConfig]) -> dict[str, ReasonConfig]:
        if not reasons:
            raise ValueError("give at least one reason code: a resolve needs one")
        for code in reasons:
            if not re.match(IDENT, code) or len(code) > 40:
                raise ValueError(f"reason code {code[:40]!r}: use lower-case letters, digits and '_', starting with "
                                 "a letter, at most 40 characters (e.g. mechanical)")
        return reasons

    @model_validator(mode="after")
    def _tiers_in_time_order(self) -> AndonConfig:
        for before, after in zip(self.escalation, self.escalation[1:]):
            if not after.after_min > before.after_min:
                raise ValueError(f"[[andon.escalation]] tiers must come in increasing time: after_min "
                                 f"{after.after_min:g} follows {before.after_min:g}")  # fmt: skip
        return self

    def tiers(self) -> tuple[EscalationTier, ...]:
        """The escalation tiers as the domain has them (tier 1 the first)."""
        return tuple(
            EscalationTier(tier=n, after_s=t.after_min * 60.0, until=CallState(t.until), name=t.name,
                           notify=tuple(t.notify))  # fmt: skip
            for n, t in enumerate(self.escalation, start=1)
        )

    def reason_list(self) -> list[Reason]:
        """The reason codes in the order of the config."""
        return [Reason(code, r.text, r.loss) for code, r in self.reasons.items()]


def _time_of_day(value: Any) -> str:
    """A local time as the calendar takes it: 'HH:MM' (a TOML time such as 06:00:00 is taken too)."""
    if hasattr(value, "hour") and hasattr(value, "minute") and not hasattr(value, "year"):
        if value.second or value.microsecond:
            raise ValueError("expected a time of day in whole minutes, HH:MM (e.g. 06:00)")
        value = f"{value.hour:02d}:{value.minute:02d}"
    parse_hhmm(value)
    return value


def _weekday_name(value: Any) -> str:
    weekday(value)
    return value.strip().lower()


TimeOfDay = Annotated[str, BeforeValidator(_time_of_day)]
Weekday = Annotated[str, BeforeValidator(_weekday_name)]


class BreakConfig(_Strict):
    """A break of a shift: local start and end, inside the shift."""

    start: TimeOfDay
    end: TimeOfDay

    @model_validator(mode="after")
    def _has_a_length(self) -> BreakConfig:
        if self.start == self.end:
            raise ValueError(f"break {self.start}-{self.end} has no length: give an end after its start")
        return self


class ShiftConfig(_Strict):
    """One shift of [[shifts.shift]]: name, local start and end (an end not after the start is the next day),
    the weekdays it starts on, its breaks."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    start: TimeOfDay
    end: TimeOfDay
    days: list[Weekday] = list(WEEKDAYS)
    breaks: list[BreakConfig] = []

    @field_validator("days")
    @classmethod
    def _some_days(cls, days: list[str]) -> list[str]:
        if not days:
            raise ValueError("give at least one weekday the shift starts on (mon .. sun), or leave days out for all "
                             "seven")  # fmt: skip
        return days

    @model_validator(mode="after")
    def _breaks_inside(self) -> ShiftConfig:
        problems = calendar_problems((self.definition(),))
        if problems:
            raise ValueError(problems[0])
        return self

    def definition(self) -> ShiftDef:
        """The shift as the calendar has it."""
        days = frozenset(weekday(d) for d in self.days)
        return ShiftDef(self.name, parse_hhmm(self.start), parse_hhmm(self.end), days,
                        tuple((parse_hhmm(b.start), parse_hhmm(b.end)) for b in self.breaks))  # fmt: skip


class PlannedStopConfig(_Strict):
    """A weekly planned stop of [[shifts.planned_stop]] (maintenance): not a loss, outside planned time."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    day: Weekday
    start: TimeOfDay
    end: TimeOfDay


def _default_shifts() -> list[ShiftConfig]:
    return [ShiftConfig(name=name, start=start, end=end, breaks=[BreakConfig(start=b0, end=b1)])
            for name, start, end, b0, b1 in (("early", "06:00", "14:00", "10:00", "10:30"),
                                             ("late", "14:00", "22:00", "18:00", "18:30"),
                                             ("night", "22:00", "06:00", "02:00", "02:30"))]  # fmt: skip


class ShiftsConfig(_Strict):
    """The shift calendar: the time zone its times are in, the shifts and the planned stops. Without [shifts]:
    three 8-hour shifts every day (06-14, 14-22, 22-06), each with a 30-minute break, in UTC."""

    timezone: str = "UTC"
    shift: list[ShiftConfig] = _default_shifts()
    planned_stop: list[PlannedStopConfig] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    @field_validator("shift")
    @classmethod
    def _some_shifts(cls, shifts: list[ShiftConfig]) -> list[ShiftConfig]:
        if not shifts:
            raise ValueError("give at least one [[shifts.shift]], or leave [shifts] out for the default three shifts")
        return shifts

    @model_validator(mode="after")
    def _shifts_fit(self) -> ShiftsConfig:
        problems = calendar_problems(tuple(s.definition() for s in self.shift))
        if problems:
            raise ValueError(problems[0])
        return self

    def calendar(self) -> ShiftCalendar:
        """The calendar as the domain has it."""
        stops = tuple(PlannedStopDef(p.name, weekday(p.day), parse_hhmm(p.start), parse_hhmm(p.end))
                      for p in self.planned_stop)  # fmt: skip
        return ShiftCalendar(self.timezone, tuple(s.definition() for s in self.shift), stops)


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"{value:g} is not a target: give a fraction above 0 and at most 1 (0.85 for 85 %)")
    return value


Target = Annotated[float, AfterValidator(_fraction)]


class OeeConfig(_Strict):
    """OEE targets (fractions, shown beside the figures) and the start-up window whose rejects are start-up rejects."""

    target: Target = 0.85
    availability_target: Target = 0.90
    performance_target: Target = 0.95
    quality_target: Target = 0.99
    startup_min: Annotated[float, Field(ge=0, le=24 * 60)] = 10.0

    def targets(self) -> OeeTargets:
        """The targets as the domain has them."""
        return OeeTargets(self.target, self.availability_target, self.performance_target, self.quality_target)


class PlantConfig(_Strict):
    """The whole configuration file."""

    database: DatabaseConfig = DatabaseConfig()
    historian: HistorianConfig = HistorianConfig()
    session: SessionConfig = SessionConfig()
    alarms: AlarmsConfig = AlarmsConfig()
    endpoints: list[EndpointConfig]
    twins: dict[Annotated[str, Field(pattern=IDENT)], TwinConfig]
    mqtt: MqttConfig | None = None  # no [mqtt]: the MES half (orders, shopfloors) is off
    shopfloors: ShopfloorsConfig = ShopfloorsConfig()
    andon: AndonConfig = AndonConfig()
    shifts: ShiftsConfig = ShiftsConfig()
    oee: OeeConfig = OeeConfig()

    @model_validator(mode="after")
    def _endpoints_known(self) -> PlantConfig:
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must be unique, got {names}")
        for twin_id, twin in self.twins.items():
            if twin.endpoint not in names:
                raise ValueError(f"twins.{twin_id}.endpoint: no endpoint named {twin.endpoint!r} (have {names})")
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _alarms_fit_the_plant(cls, data: Any, handler: ModelWrapValidatorHandler[PlantConfig]) -> PlantConfig:
        config = handler(data)
        problems = config._alarm_problems()
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return config

    def _alarm_problems(self) -> list[InitErrorDetails]:
        """Each [alarms.tags] / [alarms.alarms] key that names nothing in the plant, or limits that cannot work."""
        problems: list[InitErrorDetails] = []

        def problem(section: str, key: str, message: str, given: BaseModel) -> None:
            error = PydanticCustomError("alarm_config", "{message}", {"message": message})
            problems.append(InitErrorDetails(type=error, loc=("alarms", section, key), input=given.model_dump()))

        plant = self.plant()
        specs = {t.tag_id: t for t in plant.tags}
        usable: dict[str, TagAlarmSettings] = {}
        for key, given in self.alarms.tags.items():
            spec = specs.get(key)
            if spec is None:
                problem("tags", key, _unknown_tag(key, specs, self.twins), given)
            elif spec.kind is not TagKind.ANALOG:
                what = f"{key} is a {spec.kind.value} tag: only analog parameters have alarm limits; remove it"
                problem("tags", key, what, given)
            else:
                settings = _tag_settings(given)
                trouble = limits_problem(spec, settings.limits(spec))
                if trouble:
                    problem("tags", key, trouble, given)
                usable[key] = settings
        # an override of a disabled tag's alarm is kept: it applies again when the tag is enabled
        ids = {d.alarm_id for d in self._definitions(usable)}
        for key, given in self.alarms.alarms.items():
            if key not in ids:
                problem("alarms", key, self._unknown_alarm(key, specs, ids), given)
        return problems

    def _unknown_alarm(self, key: str, specs: dict[str, TagSpec], ids: set[str]) -> str:
        """Why no alarm has this id, and what to write instead."""
        tag, _, kind = key.rpartition(".")
        spec = specs.get(tag)
        if spec is not None and spec.kind is not TagKind.ANALOG:
            return f"no such alarm: {tag} is a {spec.kind.value} tag and has no alarms"
        if spec is not None and kind in (AlarmKind.HIHI.value, AlarmKind.LOLO.value):
            return f'no such alarm: {tag} has no {kind} limit; set {kind} in [alarms.tags."{tag}"] to create it'
        if spec is not None and kind == AlarmKind.ANOMALY.value and not self.alarms.anomaly.enabled:
            return "no such alarm: anomaly alarms are off ([alarms.anomaly] enabled = false)"
        close = difflib.get_close_matches(key, sorted(ids), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        example = next((t for t, s in specs.items() if s.kind is TagKind.ANALOG), "<twin>.<parameter>")
        return (
            f"no such alarm; {hint}alarm ids are <tag>.hihi|hi|lo|lolo|anomaly for analog tags "
            f"(e.g. {example}.hi) and <endpoint>.comm_loss (e.g. {self.endpoints[0].name}.comm_loss)"
        )

    def _definitions(self, tag_settings: dict[str, TagAlarmSettings]) -> list[AlarmDefinition]:
        """Every alarm these limits give, before overrides and ``enabled = false``."""
        plant = self.plant()
        definitions = default_definitions(plant, settings_limits(tag_settings))
        anomaly = self.alarms.anomaly
        if anomaly.enabled:
            definitions += anomaly_definitions(plant, anomaly.priority, anomaly.z)
        return definitions

    def alarm_definitions(self) -> list[AlarmDefinition]:
        """The plant's alarms with this config's settings: limits, communication loss and (if on) anomaly."""
        tags = {tag: _tag_settings(given) for tag, given in self.alarms.tags.items()}
        overrides = {alarm_id: AlarmOverride(**given.model_dump()) for alarm_id, given in self.alarms.alarms.items()}
        return configure(self._definitions(tags), tags, overrides)

    @property
    def broker(self) -> MqttConfig | None:
        """The [mqtt] broker when the MES half is on (a [mqtt] section with enabled = true), else None."""
        return self.mqtt if self.mqtt is not None and self.mqtt.enabled else None

    @property
    def database_url(self) -> str:
        """The configured database URL, or the local SQLite historian."""
        return self.database.url or default_database_url()

    def required_secrets(self, database_url: str | None = None) -> list[tuple[str, str, bool]]:
        """The secrets this plant needs: (name, what it is for, required); see hmi.secrets for the names."""
        from hmi.secrets import DATABASE_SECRET, SMTP_SECRET, mqtt_secret, opcua_secret

        needed: list[tuple[str, str, bool]] = []
        url = database_url or self.database_url
        user = re.match(r"^postgresql(\+\w+)?://(?P<user>[^:/@?#]+)@", url)
        if user and not url_has_password(url):
            needed.append((DATABASE_SECRET, f"database user {user['user']} (optional: peer/trust auth needs none)", False))
        for ep in self.endpoints:
            if ep.username:
                needed.append((opcua_secret(ep.name), f"endpoint {ep.name} user {ep.username}", True))
        mail = self.alarms.mail
        if mail is not None and mail.username:
            needed.append((SMTP_SECRET, f"mail server {mail.host} user {mail.username}", True))
        broker = self.broker
        if broker is not None and broker.username:
            needed.append((mqtt_secret(broker.host), f"MQTT broker {broker.host} user {broker.username}", True))
        return needed

    def endpoint(self, name: str) -> EndpointConfig:
        """The endpoint with this name."""
        return next(e for e in self.endpoints if e.name == name)

    def plant(self) -> Plant:
        """The plant model (domain objects) this configuration describes."""
        twins = []
        for twin_id, twin in self.twins.items():
            tags = tuple(
                TagSpec(
                    tag_id=f"{twin_id}.{name}",
                    twin=twin_id,
                    parameter=name,
                    unit=p.unit,
                    eng_low=p.range[0],
                    eng_high=p.range[1],
                    band_low=p.band[0],
                    band_high=p.band[1],
                    kind=p.kind,
                    endpoint=twin.endpoint,
                    node_id=p.node_id,
                    sampling_ms=p.sampling_ms,
                    deadband=p.deadband,
                )
                for name, p in twin.parameters.items()
            )
            twins.append(TwinSpec(twin_id=twin_id, name=twin.name, stream=twin.stream, tags=tags))
        return Plant(twins=tuple(twins))


def _tag_settings(given: AlarmTagConfig) -> TagAlarmSettings:
    return TagAlarmSettings(**given.model_dump())


def _unknown_tag(key: str, specs: dict[str, TagSpec], twins: dict[str, TwinConfig]) -> str:
    """Why [alarms.tags] has no such tag, and how tags are named."""
    if key in twins:
        params = ", ".join(twins[key].parameters)
        return f'{key} is a twin, not a tag: name a parameter, as in [alarms.tags."{key}.<parameter>"] ({params})'
    close = difflib.get_close_matches(key, sorted(specs), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    example = next(iter(specs), "drillrig1.torque")
    return f"not a tag of the plant; {hint}tag ids are <twin>.<parameter>, e.g. {example}"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the table at ``loc`` (a path into PlantConfig) may have; empty where it is not a model."""
    annotation: Any = PlantConfig
    for part in loc:
        model = _model_in(annotation)
        if model is not None and part in model.model_fields:
            annotation = model.model_fields[part].annotation
            continue
        item = _item_of(annotation)  # part is a list index or a dict key
        if item is None:
            return []
        annotation = item
    model = _model_in(annotation)
    return list(model.model_fields) if model is not None else []


def _unwrap(annotation: Any) -> list[Any]:
    """The types an annotation allows: Annotated and Optional/Union taken apart."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    return next((t for t in _unwrap(annotation) if isinstance(t, type) and issubclass(t, BaseModel)), None)


def _item_of(annotation: Any) -> Any:
    for t in _unwrap(annotation):
        if typing.get_origin(t) in (list, dict) and typing.get_args(t):
            return typing.get_args(t)[-1]
    return None


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-after"))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (a typo?)"
        close = difflib.get_close_matches(str(error["loc"][-1]), _keys_at(error["loc"][:-1]), n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
    elif error["type"] == "missing":
        message = "required key is missing"
    got = error.get("input")
    shown = "" if error["type"] in ("missing", "model_type") or isinstance(got, dict) else f" (got {got!r})"
    shown = mask_passwords(shown)
    return f"{where or '(top level)'}: {message}{shown}"


def parse_config(text: str, source: str = "<config>") -> PlantConfig:
    """Parse and check a configuration given as TOML text; ConfigError names every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return PlantConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def load_config(path: str | Path | None = None) -> PlantConfig:
    """Load a configuration file, or the default plant from resources/ when no path is given."""
    if path is None:
        from hmi.resources import resource_text

        return parse_config(resource_text("plant.toml"), "resources/plant.toml")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; give an existing file with --config") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file; give the TOML file with --config") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a config file: byte {exc.start} is not UTF-8 text; give the plant's TOML file with --config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    return parse_config(text, str(path))
