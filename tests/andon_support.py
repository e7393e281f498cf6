"""Shared set-up of the andon tests: a plant config with andon settings, a driven clock, users."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from hmi.config import PlantConfig, parse_config
from hmi.domain.session import SessionUser
from hmi.resources import resource_text
from hmi.services import login, user_admin
from hmi.services.andon import AndonService
from hmi.services.commands import CommandService

PW = "Control room 42"
T0 = 1_796_000_000 * 1_000_000  # a fixed moment (00:53:20 UTC), UTC microseconds
MIN = 60 * 1_000_000
OLGA = SessionUser("olga", "operator")
BOB = SessionUser("bob", "operator")
SAM = SessionUser("sam", "shift_supervisor")
VIC = SessionUser("vic", "viewer")

ANDON = """
[[shopfloors.known]]
id = "sf1"
capacity = 1200

[[shopfloors.known]]
id = "sf2"
capacity = 900

[andon]
micro_stop_s = 30

[[andon.escalation]]
after_min = 5
until = "acknowledged"
name = "shift supervisor"
notify = ["supervisor@plant.example"]

[[andon.escalation]]
after_min = 15
until = "resolved"
name = "production manager"
notify = ["manager@plant.example"]

[andon.reasons]
mechanical = { text = "Mechanical failure", loss = "breakdown" }
changeover = { text = "Setup / changeover", loss = "setup" }
planned_maintenance = { text = "Planned maintenance", loss = "planned" }
"""


def andon_config(mail: str = "") -> PlantConfig:
    """The packaged plant with two known shopfloors, the andon settings above and an optional [alarms.mail]."""
    text = resource_text("plant.toml")
    if mail:
        text = text.replace("\n[alarms.anomaly]", f"\n{mail}\n[alarms.anomaly]", 1)
    return parse_config(text + ANDON, "andon-test")


def mail_section(host: str, port: int) -> str:
    return (f'[alarms.mail]\nhost = "{host}"\nport = {port}\ntls = "none"\nsender = "hmi@plant.example"\n'
            'to = ["ops@plant.example"]\ntimeout_s = 5\n')  # fmt: skip


class Clock:
    """A clock the test drives (UTC microseconds)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += int(minutes * MIN)


def add_users(engine: Engine) -> None:
    """anna (admin), olga and bob (operators), sam (shift supervisor), vic (viewer)."""
    login.create_first_admin(engine, "anna", PW, workstation="ws-1")
    admin = CommandService(engine, lambda: SessionUser("anna", "admin"), "ws-1")
    for name, role in (("olga", "operator"), ("bob", "operator"), ("sam", "shift_supervisor"), ("vic", "viewer")):
        user_admin.add_user(admin, name, role, PW)


def service(engine: Engine, config: PlantConfig, clock: Clock, workstation: str = "ws-1") -> AndonService:
    return AndonService(engine, config, clock=clock, workstation=workstation)
