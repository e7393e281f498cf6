"""plc-sim: an OPC UA server that plays the plant (see `plc-sim --help`)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path

from hmi.commands.errors import OneLineParser
from hmi.config import IDENT, ConfigError, load_config
from plc_sim.plant import APPLICATION_URI, endpoint_url, simulated_plant, to_toml
from plc_sim.server import SimOptions, SimServer


MAX_EXTRA_TAGS = 100_000


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if not 0 < value < float("inf"):  # NaN too
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid float value"
    return parse


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port number 0-65535, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port number 0-65535, got {port}")
    return port


def _extra_tags(text: str) -> int:
    count = int(text)
    if not 0 <= count <= MAX_EXTRA_TAGS:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_EXTRA_TAGS}, got {count}")
    return count


_extra_tags.__name__ = _port.__name__ = "int"


def _check_options(args: argparse.Namespace) -> None:
    """ValueError for an option that cannot work or would be ignored, before the server starts."""
    try:  # before the server starts, so a typo is not reported as a port that cannot be listened on
        socket.getaddrinfo(args.host, args.port)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"--host {args.host[:100]!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if not re.match(IDENT, args.endpoint_name):
        raise ValueError(f"--endpoint-name {args.endpoint_name[:100]!r}: expected lower-case letters, digits and _ "
                         "(starting with a letter), e.g. plc1")
    for flag, path in (("--record", args.record),):
        if path is not None and (path.is_dir() or not path.parent.is_dir()):
            raise ValueError(f"{flag} {path}: " + ("is a folder; give a file name" if path.is_dir() else
                                                   f"the folder {path.parent} does not exist"))
    if args.ground_truth is not None and args.ground_truth.exists() and not args.ground_truth.is_dir():
        raise ValueError(f"--ground-truth {args.ground_truth}: not a folder; give the folder for episodes.jsonl")
    server_side = {"--certificate": args.certificate, "--private-key": args.private_key}
    if not args.security:
        given = [flag for flag, v in (*server_side.items(), ("--secure-only", args.secure_only)) if v]
        if given:
            raise ValueError(f"{', '.join(given)} without --security has no effect; add --security POLICY_MODE")
    for flag, path in server_side.items():
        if path is not None and not path.is_file():
            raise ValueError(f"{flag} {path}: " + ("is a folder" if path.is_dir() else os.strerror(errno.ENOENT)))
    client_side = {"--client-certificate": args.client_certificate, "--client-private-key": args.client_private_key,
                   "--trust-dir": args.trust_dir}  # fmt: skip
    given = [flag for flag, v in client_side.items() if v is not None]
    if given and not args.security:  # a secured server may be given them too: its --print-config carries them
        raise ValueError(f"{', '.join(given)} go(es) into the printed config of a secured endpoint: "
                         "use with --security (and --print-config)")
    if args.trust_dir is not None and not args.trust_dir.is_dir():
        raise ValueError(f"--trust-dir {args.trust_dir}: not a folder")


SECURITY_CHOICES = [
    f"{policy}_{mode}"
    for policy in ("Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss")
    for mode in ("Sign", "SignAndEncrypt")
]


def _client_security(args: argparse.Namespace) -> dict[str, str] | None:
    """The printed endpoint's security settings: the first --security with the HMI's certificate files."""
    if not args.security:
        return None
    files = {"certificate": ("--client-certificate", args.client_certificate),
             "private_key": ("--client-private-key", args.client_private_key),
             "trust_dir": ("--trust-dir", args.trust_dir)}
    missing = [flag for flag, value in files.values() if value is None]
    if missing:
        raise ValueError(f"--print-config with --security also needs {', '.join(missing)} (the HMI's side)")
    policy, mode = args.security[0].split("_")
    return {"security_policy": policy, "security_mode": mode} | {k: str(v.resolve()) for k, (_, v) in files.items()}


def _endpoint_extras(args: argparse.Namespace) -> dict[str, str] | None:
    """The printed endpoint's security settings and user name (its password is the HMI's secret)."""
    extras = (_client_security(args) or {}) | ({"username": args.user} if args.user else {})
    return extras or None


def _user_password(args: argparse.Namespace) -> str | None:
    """--user's password from the variable --password-env names; ValueError when it is not usable."""
    if args.user is None:
        if args.password_env:
            raise ValueError("--password-env needs --user")
        return None
    if args.print_config:
        return None
    if not args.password_env:
        raise ValueError("--user needs --password-env VAR (the environment variable that holds the password)")
    password = os.environ.get(args.password_env)
    if not password:
        raise ValueError(f"--password-env {args.password_env}: that environment variable is not set or empty")
    return password


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = OneLineParser(
        prog="plc-sim",
        description="An OPC UA server that simulates the plant.",
        epilog="Forcing: `plc-sim force [--url URL] TAG VALUE|release` (or `python -m plc_sim.force`) holds a "
        "running simulator's tag at a value until it is released, e.g. to drive an alarm by hand; clients "
        "can write the Double node ns=2;s=sim.force.TAG themselves (a number forces, NaN releases). "
        "See `plc-sim force --help`.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=4840, help="TCP port (default 4840)")
    p.add_argument("--config", type=Path, help="plant config TOML to simulate (default: the packaged plant)")
    p.add_argument("--endpoint-name", default="plc1", help="endpoint name in --print-config (default plc1)")
    p.add_argument("--seed", type=int, help="random seed for a repeatable simulation")
    p.add_argument("--speed", type=_positive(float), default=1.0, help="simulated time per wall second (default 1)")
    p.add_argument("--rate", type=_positive(float), default=1.0, help="plant tag updates per second (default 1)")
    p.add_argument("--extra-tags", type=_extra_tags, default=0, help="synthetic load tags (twins load01, load02, ...)")
    p.add_argument("--extra-rate", type=_positive(float), default=1.0, help="updates per second of the load tags")
    p.add_argument("--fault-tags", action="store_true", help="add twin 'faults' serving NaN, +inf and a String")
    p.add_argument(
        "--episode-every", type=_positive(float), default=6 * 3600.0,
        help="mean simulated seconds between degradation episodes in the plant (default 21600)",
    )
    p.add_argument("--ground-truth", type=Path, help="directory for episodes.jsonl (episode starts, failures)")
    p.add_argument("--record", type=Path, help="CSV file of every produced sample: tag,source_ts_us,value")
    sec = p.add_argument_group(
        "security",
        "Offer secured endpoints. The server's certificate must carry the URI " + APPLICATION_URI + " "
        "as subject alternative name; any client certificate is accepted.",
    )
    sec.add_argument(
        "--security", action="append", choices=SECURITY_CHOICES, default=[], metavar="POLICY_MODE",
        help="a secured endpoint to offer, e.g. Basic256Sha256_SignAndEncrypt (repeatable; choices: "
        + ", ".join(SECURITY_CHOICES) + ")",
    )
    sec.add_argument("--certificate", type=Path, help="the server's certificate (DER or PEM)")
    sec.add_argument("--private-key", type=Path, help="the server's private key (DER or PEM)")
    sec.add_argument("--secure-only", action="store_true", help="offer no unsecured endpoint")
    sec.add_argument("--client-certificate", type=Path, help="--print-config: the HMI's certificate")
    sec.add_argument("--client-private-key", type=Path, help="--print-config: the HMI's private key")
    sec.add_argument("--trust-dir", type=Path, help="--print-config: the HMI's folder of trusted server certificates")
    auth = p.add_argument_group(
        "user authentication",
        "Accept only this user (no anonymous sessions); the password is read from an environment "
        "variable so it never shows on a command line.",
    )
    auth.add_argument("--user", metavar="NAME", help="the one user name the server accepts")
    auth.add_argument("--password-env", metavar="VAR", help="environment variable that holds --user's password")
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
    """Run the simulator (or, with first argument `force`, the force command); returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["force"]:  # the simulator itself takes no positional arguments, so no clash
        from plc_sim.force import main as force_main

        return force_main(argv[1:], prog="plc-sim force")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="plc-sim: %(message)s")
    # asyncua logs a traceback for a taken port (we print one line ourselves) and chatters at INFO
    logging.getLogger("asyncua").setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    logging.getLogger("asyncua.server.address_space").setLevel(logging.ERROR)
    try:
        _check_options(args)
        base = load_config(args.config)
        config = simulated_plant(
            base,
            url=endpoint_url(args.host, args.port),
            endpoint_name=args.endpoint_name,
            extra_tags=args.extra_tags,
            extra_rate=args.extra_rate,
            fault_tags=args.fault_tags,
            security=_endpoint_extras(args) if args.print_config else None,
        )
        password = _user_password(args)
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
        security=tuple(args.security),
        certificate=args.certificate,
        private_key=args.private_key,
        secure_only=args.secure_only,
        user=args.user,
        password=password,
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
