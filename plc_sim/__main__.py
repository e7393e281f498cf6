"""plc-sim: an OPC UA server that plays the plant (see `plc-sim --help`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from hmi.config import ConfigError, load_config
from plc_sim.plant import endpoint_url, simulated_plant, to_toml
from plc_sim.server import SimOptions, SimServer


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="plc-sim", description="An OPC UA server that simulates the plant.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4840, help="TCP port (default 4840)")
    p.add_argument("--config", type=Path, help="plant config TOML to simulate (default: the packaged plant)")
    p.add_argument("--endpoint-name", default="plc1", help="endpoint name in --print-config (default plc1)")
    p.add_argument("--seed", type=int, help="random seed for a repeatable simulation")
    p.add_argument("--speed", type=_positive(float), default=1.0, help="simulated time per wall second (default 1)")
    p.add_argument("--rate", type=_positive(float), default=1.0, help="plant tag updates per second (default 1)")
    p.add_argument("--extra-tags", type=int, default=0, help="synthetic load tags (twins load01, load02, ...)")
    p.add_argument("--extra-rate", type=_positive(float), default=1.0, help="updates per second of the load tags")
    p.add_argument("--fault-tags", action="store_true", help="add twin 'faults' serving NaN, +inf and a String")
    p.add_argument(
        "--episode-every", type=_positive(float), default=6 * 3600.0,
        help="mean simulated seconds between degradation episodes in the plant (default 21600)",
    )
    p.add_argument("--ground-truth", type=Path, help="directory for episodes.jsonl (episode starts, failures)")
    p.add_argument("--record", type=Path, help="CSV file of every produced sample: tag,source_ts_us,value")
    p.add_argument("--print-config", action="store_true", help="print the config for this simulator and exit")
    p.add_argument("--verbose", action="store_true", help="log episodes and server messages to stderr")
    return p


async def _serve(server: SimServer) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except OSError as exc:
        await server.stop()
        print(f"plc-sim: cannot listen on {server.options.host}:{server.options.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    print(f"plc-sim ready {server.url}", flush=True)
    try:
        await server.run(stop)
    finally:
        await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the simulator; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="plc-sim: %(message)s")
    # asyncua logs a traceback for a taken port (we print one line ourselves) and chatters at INFO
    logging.getLogger("asyncua").setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    logging.getLogger("asyncua.server.address_space").setLevel(logging.ERROR)
    if args.extra_tags < 0:
        print("plc-sim: --extra-tags must be >= 0", file=sys.stderr)
        return 2
    try:
        base = load_config(args.config)
        config = simulated_plant(
            base,
            url=endpoint_url(args.host, args.port),
            endpoint_name=args.endpoint_name,
            extra_tags=args.extra_tags,
            extra_rate=args.extra_rate,
            fault_tags=args.fault_tags,
        )
    except ConfigError as exc:
        print(f"plc-sim: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"plc-sim: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.print_config:
        sys.stdout.write(to_toml(config))
        sys.stdout.flush()
        return 0
    options = SimOptions(
        host=args.host,
        port=args.port,
        seed=args.seed,
        speed=args.speed,
        rate=args.rate,
        extra_rate=args.extra_rate,
        episode_every_s=args.episode_every,
        record=args.record,
        ground_truth=args.ground_truth,
        fault_tags=args.fault_tags,
    )
    try:
        return asyncio.run(_serve(SimServer(config, options)))
    except KeyboardInterrupt:
        return 0
    except ValueError as exc:  # a config the server cannot serve, e.g. a NodeId used twice
        print(f"plc-sim: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"plc-sim: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
