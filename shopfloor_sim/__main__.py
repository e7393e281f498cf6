"""shopfloor-sim: simulated shopfloors on an MQTT broker (see `shopfloor-sim --help` and docs/shopfloor-messages.md)."""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hmi.commands.errors import OneLineParser
from hmi.domain.shopfloor import SHOPFLOOR_ID
from shopfloor_sim.floor import Floor, StateError
from shopfloor_sim.link import Faults, FloorLink, RandomStops, say
from shopfloor_sim.state import StateFile

TICK_S = 0.05
DIE_EXIT = 3  # --die-after: os._exit with this code, no clean-up, like a crash


def _number(kind: type, low: float, high: float = math.inf, low_ok: bool = False, what: str = "a number"):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}") from None
        if not ((low <= value) if low_ok else (low < value)) or not value < high:  # NaN fails both
            raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]}")
        return value

    parse.__name__ = kind.__name__
    return parse


_seconds = _number(float, 0.0, what="a number of seconds > 0")
_seconds_from_0 = _number(float, 0.0, low_ok=True, what="a number of seconds >= 0")


def _broker(text: str) -> tuple[str, int]:
    """mqtt://host:port -> (host, port)."""
    hint = f"expected mqtt://host:port, e.g. mqtt://127.0.0.1:1883, got {text[:80]!r}"
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError:
        raise argparse.ArgumentTypeError(hint) from None
    if url.scheme != "mqtt" or not url.hostname or port is None or port == 0 or url.path not in ("", "/") \
            or url.query or url.fragment or url.username is not None:  # fmt: skip
        raise argparse.ArgumentTypeError(hint)
    return url.hostname, port


def _ids(text: str) -> list[str]:
    ids = text.split(",")
    for one in ids:
        if not SHOPFLOOR_ID.match(one):
            raise argparse.ArgumentTypeError(f"{one[:70]!r} is not a shopfloor id (letters, digits, _ and -, "
                                             "up to 64, starting with a letter or digit), e.g. sf1 or sf1,sf2")
    if len(set(ids)) != len(ids):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} names a shopfloor twice")
    return ids


def _capacities(text: str) -> list[float]:
    one = _number(float, 0.0, what="capacities > 0 in good units per hour, e.g. 1200 or 1200,900")
    return [one(part) for part in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = OneLineParser(
        prog="shopfloor-sim",
        description="Simulated shopfloors on an MQTT broker: they take instructions, produce at their capacity "
        "with some defects, report running totals and send a heartbeat every 2 s (docs/shopfloor-messages.md).",
        epilog="Several shopfloors in one process: --id sf1,sf2,sf3 with --capacity 1200,900,600 (or one capacity "
        "for all); each has its own connection and client id shopfloor-sim-<id>. Prints 'READY <ids>' on stdout "
        "once all are connected and subscribed, and a line per instruction started, finished or withdrawn.",
    )
    p.add_argument("--broker", type=_broker, default=("127.0.0.1", 1883), metavar="URL",
                   help="the broker, mqtt://host:port (default mqtt://127.0.0.1:1883); the simulator retries "
                   "until it is there and after it goes away")  # fmt: skip
    p.add_argument("--id", type=_ids, required=True, help="shopfloor id, or a comma list of ids for several")
    p.add_argument("--capacity", type=_capacities, default=[1200.0],
                   help="good units per hour at speed 1 (default 1200); a comma list gives one per --id")  # fmt: skip
    p.add_argument("--speed", type=_number(float, 0.0, what="a speed factor > 0"), default=1.0,
                   help="simulated time per wall second (default 1): capacity 3600 at speed 10 makes 10 units/s")
    p.add_argument("--defect-rate", type=_number(float, 0.0, 1.0, low_ok=True, what="a fraction from 0 to below 1"),
                   default=0.02, help="share of the units made that are defective (default 0.02)")  # fmt: skip
    p.add_argument("--seed", type=int, help="random seed for repeatable defects")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="folder for the state files <id>.json (progress and unacked messages), so a kill -9 and a "
                   "restart lose and double nothing; without it the state is in memory only and lost on exit")
    p.add_argument("--resend-s", type=_seconds, default=3.0,
                   help="re-send unacknowledged reports, hellos and machine messages this often (default 3 s)")
    p.add_argument("--machine-stops-every", type=_number(float, 1.0, 86_400.0 * 365, low_ok=True,
                                                         what="a number of seconds from 1 to a year"),
                   metavar="SECONDS", help="every shopfloor's machine stops at random now and then, on average "
                   "this often (wall seconds), for 5 s to 2 min each time, with a reason (for the andon "
                   "board)")  # fmt: skip
    f = p.add_argument_group("faults", "Seconds count from the process start. They apply to one shopfloor: "
                             "--fault-id (default the first --id); --die-after ends the whole process.")
    f.add_argument("--fault-id", metavar="ID", help="the shopfloor the faults apply to (default the first --id)")
    f.add_argument("--die-after", type=_seconds_from_0, metavar="S",
                   help=f"exit abruptly (os._exit({DIE_EXIT}), no clean-up) like a crash")
    f.add_argument("--stall-after", type=_seconds_from_0, metavar="S",
                   help="stop heartbeats, production and replies; the process and its connection stay")
    f.add_argument("--stall-for", type=_seconds, metavar="S", help="how long the stall lasts (default 15 s)")
    f.add_argument("--stop-reporting-after", type=_seconds_from_0, metavar="S",
                   help="keep producing and heartbeating but send no more reports")
    f.add_argument("--malformed-every", type=_number(int, 0, what="a whole number >= 1"), metavar="N",
                   help="replace every Nth published message with a malformed one (0 bytes, invalid UTF-8, not "
                   "JSON, wrong schema, unknown order, 1 MB, in turn)")  # fmt: skip
    f.add_argument("--machine-stop-after", type=_seconds_from_0, metavar="S",
                   help="a machine stops (a 'machine' message with a reason; production stops) ...")
    f.add_argument("--machine-stop-for", type=_seconds, metavar="S",
                   help="... and runs again after this long (default 10 s)")
    return p


@dataclass
class Plan:
    """What to run, checked and with the saved states read (nothing created yet)."""

    host: str
    port: int
    floors: list[Floor]
    states: dict[str, StateFile]
    speed: float
    resend_s: float
    fault_id: str
    faults: Faults
    stops_every: float | None = None
    seed: int | None = None


def _plan(args: argparse.Namespace) -> Plan:
    """Check the options together and read the saved states; ValueError/StateError naming the problem."""
    ids: list[str] = args.id
    caps: list[float] = args.capacity
    if len(caps) == 1:
        caps = caps * len(ids)
    if len(caps) != len(ids):
        raise ValueError(f"--capacity gives {len(caps)} capacities for {len(ids)} shopfloors; give one, or one per --id")
    for flag, value, needs in (("--stall-for", args.stall_for, args.stall_after),
                               ("--machine-stop-for", args.machine_stop_for, args.machine_stop_after)):  # fmt: skip
        if value is not None and needs is None:
            raise ValueError(f"{flag} without {flag.replace('-for', '-after')} has no effect; add it")
    faults = Faults(die_after=args.die_after, stall_after=args.stall_after, stall_for=args.stall_for or 15.0,
                    stop_reporting_after=args.stop_reporting_after, malformed_every=args.malformed_every,
                    machine_stop_after=args.machine_stop_after, machine_stop_for=args.machine_stop_for or 10.0)  # fmt: skip
    if args.fault_id is not None:
        if args.fault_id not in ids:
            raise ValueError(f"--fault-id {args.fault_id[:70]!r} is not one of --id {','.join(ids)[:200]}")
        if not faults.any():
            raise ValueError("--fault-id without a fault option has no effect; add e.g. --stall-after 10")
    states: dict[str, StateFile] = {}
    saved: dict[str, dict] = {}
    if args.state_dir is not None:
        folder: Path = args.state_dir
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--state-dir {folder}: is a file; give a folder")
        if not folder.exists() and not folder.parent.is_dir():
            raise ValueError(f"--state-dir {folder}: the folder {folder.parent} does not exist")
        if not os.access(folder if folder.exists() else folder.parent, os.W_OK):
            raise ValueError(f"--state-dir {folder}: cannot write there")
        for sid in ids:
            states[sid] = StateFile(folder, sid)
            state = states[sid].read() if folder.exists() else None
            if state is not None:
                saved[sid] = state
    rng = random.Random(args.seed)
    floors = []
    for sid, cap in zip(ids, caps):
        floor = Floor(sid, cap, args.defect_rate, random.Random(rng.random()), speed=args.speed)
        if sid in saved:
            try:
                floor.load_state(saved[sid])
            except StateError as error:
                raise StateError(f"{states[sid].path}: {error}; move it away to start afresh") from None
        floors.append(floor)
    host, port = args.broker
    return Plan(host, port, floors, states, args.speed, args.resend_s, args.fault_id or ids[0], faults,
                args.machine_stops_every, args.seed)  # fmt: skip


def _run(plan: Plan) -> int:
    """Connect every shopfloor and run until SIGTERM/SIGINT (or --die-after)."""
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.monotonic()
    if plan.states:
        next(iter(plan.states.values())).path.parent.mkdir(exist_ok=True)
        for state in plan.states.values():
            state.lock()
    links = []
    stamp = time.time_ns() // 1_000_000
    stop_rng = random.Random(None if plan.seed is None else plan.seed + 1)
    for floor in plan.floors:
        stops = RandomStops(plan.stops_every, random.Random(stop_rng.random())) if plan.stops_every else None
        floor.hello(stamp)
        link = FloorLink(floor, plan.host, plan.port, speed=plan.speed, resend_s=plan.resend_s,
                         state=plan.states.get(floor.shopfloor_id),
                         faults=plan.faults if floor.shopfloor_id == plan.fault_id else None, stops=stops)  # fmt: skip
        link.save()
        links.append(link)
        link.start()
    ready = False
    die_after = plan.faults.die_after
    try:
        while not stop:
            now = time.monotonic()
            since = now - t0
            if die_after is not None and since >= die_after:
                say(f"shopfloor-sim: dying now (--die-after {die_after:g})", err=True)
                os._exit(DIE_EXIT)
            for link in links:
                link.step(now, since)
            if not ready and all(link.ready.is_set() for link in links):
                ready = True
                say("READY " + " ".join(f.shopfloor_id for f in plan.floors))
            time.sleep(TICK_S)
    finally:
        for link in links:
            link.save()
            link.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the simulated shopfloors; returns the exit code (2 for bad options)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        plan = _plan(args)
    except (ValueError, StateError) as error:
        print(f"shopfloor-sim: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    try:
        return _run(plan)
    except StateError as error:
        print(f"shopfloor-sim: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
