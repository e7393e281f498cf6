"""`hmi demo`: the window on the embedded plant — plc_sim in its own process and an SQLite historian,
and the MES half: an embedded MQTT broker (amqtt on a free loopback port), three simulated shopfloors
(shopfloor-sim, one process) and orders flowing through them (hmi.commands.demo_orders).

Demo users: on first use of its database (no users yet) the demo creates one user per role, named
after the role (viewer, operator, ..., admin), all with ONE random password generated then and
written to ``demo-logins.txt`` (mode 0600) next to the database, never printed, never in the
config or a log. The login dialog comes over the window; with --offscreen nobody could answer it,
so the station starts view only unless --login NAME is given (its password is read from that file).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from hmi.commands.errors import CommandError
from hmi.commands.gui import (
    add_gui_options, check_gui_options, idle_lock_s, panes_to_show, prepare_qt, show_panes, wall_options,
)
from hmi.config import PlantConfig, load_config
from hmi.broker_process import BrokerProcess
from hmi.paths import data_dir
from hmi.sim_process import SimProcess
from plc_sim.plant import simulated_plant

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from hmi.commands.demo_orders import OrderFeeder
    from shopfloor_sim.process import ShopfloorProcess

LOGINS_FILE = "demo-logins.txt"
PASSWORD_LINE = "password: "


class Stopped(Exception):
    """SIGTERM or SIGINT arrived before the window was up."""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `demo` to the parser."""
    p = sub.add_parser("demo", parents=[common], help="the window on the embedded simulated plant, nothing to configure")
    add_gui_options(p)
    p.add_argument("--speed", type=float, default=60.0, help="simulated process time per wall second (default 60)")
    p.add_argument("--rate", type=float, default=2.0, help="plant tag updates per second (default 2)")
    p.add_argument("--login", metavar="NAME",
                   help=f"log in as this demo user at start instead of the dialog (password from {LOGINS_FILE})")
    p.set_defaults(handler=run)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def demo_trends(config: PlantConfig, count: int = 3) -> list[str]:
    """The tags the demo opens in the trends pane: the first measurements of the first twin."""
    from hmi.domain.plant import TagKind

    twin = config.plant().twins[0]
    return [t.tag_id for t in twin.tags if t.kind is TagKind.ANALOG][:count]


def run(args: argparse.Namespace) -> int:
    """Start the simulated plant, open the window on it, and always stop the simulator again."""
    check_gui_options(args)
    prepare_qt(args)
    url = args.db or f"sqlite:///{data_dir() / 'demo.sqlite'}"
    sim = SimProcess(options=[
        "--speed", str(args.speed), "--rate", str(args.rate), "--ground-truth", str(data_dir() / "ground-truth"),
    ], print_config=False)
    # First the simulator: its start-up overlaps with loading Qt and building the window. Until the
    # handlers below are in place, SIGTERM ends this process as usual and the simulator dies with it
    # (see SimProcess.launch); so does a Qt abort on a platform plugin that cannot load.
    sim.launch()
    # The broker, the shopfloors and the order feeder start once the plant's first value is on screen
    # (start_mes): two more interpreters starting up with the window would slow it by most of a second.
    # Until then the broker link says it is connecting, and tries again after a second.
    broker = BrokerProcess()
    floors = demo_shopfloors(broker.url, args.speed)
    feeder: OrderFeeder | None = None
    from hmi.app import qapplication, run_gui

    qapplication()
    # Until the window installs its own handlers (which close it), a signal aborts the start-up. Not
    # earlier: an exception raised in the middle of importing Qt's bindings aborts Python itself.
    old = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # The config plc-sim would print for these options, built here: a second plc-sim process
        # (for --print-config) would compete for the CPU with the simulator starting up.
        config = without_breaks(with_broker(simulated_plant(load_config(), url=sim.url), broker.url))
        shown = panes_to_show(args)
        print(f"hmi demo: simulated plant at {sim.url}; shopfloors on {broker.url}; history in {url}",
              file=sys.stderr, flush=True)  # fmt: skip

        def start_mes() -> None:  # on the GUI thread, which lives as long as the shopfloors should
            nonlocal feeder
            from hmi.commands.demo_orders import OrderFeeder

            broker.launch()
            floors.launch()  # it retries until the broker listens
            feeder = OrderFeeder(url, before=lambda: _mes_ready(broker, floors))
            feeder.start()

        logins = logins_path(url)
        # Offscreen nobody can answer a dialog: view only, unless --login names a demo user.
        wants_users = bool(args.login) or not args.offscreen
        login = args.login
        options = {"greet": not args.offscreen, "on_window": show_panes(shown)} | wall_options(args)
        return run_gui(config, url, screenshot=args.screenshot, run_for=args.run_for, title_suffix="demo",
                       before_start=lambda: _wait_ready(sim), initial_trends=[] if args.wall else demo_trends(config),
                       idle_lock_s=idle_lock_s(args, config),
                       prepare_users=(lambda engine: demo_users(engine, logins)) if wants_users else None,
                       login_as=(lambda: (login, read_demo_password(logins))) if login else None,
                       migrate=True, after_first_value=start_mes, **options)
    except Stopped as exc:
        print(f"hmi demo: stopped by {exc} during start-up", file=sys.stderr, flush=True)
        return 130
    finally:
        # The simulator goes whatever happened; a signal now must not interrupt stopping it.
        for sig in old:
            signal.signal(sig, signal.SIG_IGN)
        if feeder is not None:
            feeder.stop()
        floors.stop()
        broker.stop()
        sim.stop()
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _wait_ready(sim: SimProcess) -> None:
    """Block until the simulator serves; CommandError if it did not start."""
    try:
        sim.wait_ready()
    except RuntimeError as exc:
        raise CommandError(f"the simulated plant did not start: {exc}") from None


def _mes_ready(broker: BrokerProcess, floors: ShopfloorProcess) -> bool:
    """Block until the broker listens and the shopfloors are on it (on the feeder's thread); False, said, if not."""
    try:
        broker.wait_ready()
        floors.wait_ready()
    except RuntimeError as exc:
        print(f"hmi demo: the MES half did not start, its panes stay empty: {exc}", file=sys.stderr, flush=True)
        return False
    return True


DEMO_MACHINE_STOPS_EVERY_S = 90  # each demo shopfloor's machine stops about this often: the andon board has calls


def demo_shopfloors(broker_url: str, speed: float) -> ShopfloorProcess:
    """The three demo shopfloors in one shopfloor-sim process at the demo's speed, their state kept in the data
    folder; their machines stop at random now and then (andon calls, and micro-stops)."""
    from hmi.commands.demo_orders import SHOPFLOORS
    from shopfloor_sim.process import ShopfloorProcess

    options = ["--speed", f"{speed:g}", "--machine-stops-every", str(DEMO_MACHINE_STOPS_EVERY_S)]
    return ShopfloorProcess(broker_url, [sid for sid, _ in SHOPFLOORS], [cap for _, cap in SHOPFLOORS],
                            options=options, state_dir=data_dir() / "demo-shopfloors")  # fmt: skip


def without_breaks(config: PlantConfig) -> PlantConfig:
    """The demo's shift calendar: its three shifts without their breaks, since the simulated shopfloors work
    through them (output in a break, outside planned time, would show as a performance above 100 %)."""
    shifts = [s.model_copy(update={"breaks": []}) for s in config.shifts.shift]
    return config.model_copy(update={"shifts": config.shifts.model_copy(update={"shift": shifts})})


def with_broker(config: PlantConfig, broker_url: str) -> PlantConfig:
    """The demo's config with the embedded broker as its [mqtt] url."""
    from hmi.config import MqttConfig

    return config.model_copy(update={"mqtt": MqttConfig(url=broker_url)})


# --- demo users -------------------------------------------------------------------------------------


def logins_path(url: str) -> Path:
    """Where the demo's password file goes: next to an SQLite database, else in the data directory."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - an unparseable URL fails later, with its own message
        return data_dir() / LOGINS_FILE
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database).expanduser().resolve().parent / LOGINS_FILE
    return data_dir() / LOGINS_FILE


def demo_user_names() -> list[str]:
    """One demo user per role, named after it, the admin last."""
    from hmi.domain.permissions import role_names

    return [r for r in role_names() if r != "admin"] + ["admin"]


def new_demo_password() -> str:
    """A random password that passes the policy for every demo user name."""
    from hmi.domain.passwords import PasswordRejected, check_password

    while True:
        password = secrets.token_urlsafe(15)  # 20 characters of [A-Za-z0-9_-]
        try:
            for name in demo_user_names():
                check_password(password, name)
        except PasswordRejected:
            continue
        return password


def write_logins(path: Path, names: list[str], password: str) -> None:
    """Write the demo logins, readable by this OS user only (0600), replacing an older file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# hmi demo: the demo users of the database next to this file, one per role.\n")
        f.write(f"# users: {' '.join(names)}\n")
        f.write("# They all have the password below (the demo only; a plant gives each user their own).\n")
        f.write(f"{PASSWORD_LINE}{password}\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_demo_password(path: Path) -> str:
    """The password in the demo's logins file; CommandError when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"no demo password: cannot read {path} ({exc.strerror}); "
                           "it is written when the demo creates its users") from None
    for line in text.splitlines():
        if line.startswith(PASSWORD_LINE):
            return line[len(PASSWORD_LINE):].strip()
    raise CommandError(f"no demo password in {path}")


def demo_users(engine: Engine, logins: Path) -> None:
    """On a database without users: create one user per role with one random password, in ``logins``.

    Blocking (bcrypt, the database): run_gui calls it in an executor once the window is up. The file
    is written before the users exist, so no user is ever created whose password is nowhere.
    """
    from hmi.domain.session import SessionUser
    from hmi.services import user_admin
    from hmi.services.commands import CommandService, workstation_name
    from hmi.services.login import FirstAdminExists, create_first_admin, needs_first_admin

    if not needs_first_admin(engine):
        if logins.exists():
            print(f"hmi demo: demo logins in {logins}", file=sys.stderr, flush=True)
        return
    names = demo_user_names()
    password = new_demo_password()
    write_logins(logins, names, password)
    workstation = workstation_name()
    try:
        create_first_admin(engine, "admin", password, workstation=workstation)
    except FirstAdminExists:  # another demo on the same database was first
        return
    admin = SessionUser("admin", "admin")
    commands = CommandService(engine, lambda: admin, workstation)
    for name in names[:-1]:
        user_admin.add_user(commands, name, name, password)  # each audited, done by the admin
    print(f"hmi demo: demo logins: {', '.join(names)}; password in {logins}", file=sys.stderr, flush=True)
