"""The embedded MQTT broker of the demo: amqtt on a loopback port, in its own process.

`python -m shopfloor_sim.broker --port N` serves MQTT 3.1.1 on 127.0.0.1:N, anonymous, until SIGTERM,
and prints ``READY <port>`` once it accepts connections. A plant gives its own broker in the config.
amqtt 0.12.1 delivers none of the messages it queued for an offline persistent session, which is why
everything that must arrive is confirmed by its receiver (hmi/domain/shopfloor.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence


def broker_config(port: int, host: str = "127.0.0.1") -> dict:
    """amqtt's configuration for an anonymous TCP listener on host:port."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(port: int, host: str = "127.0.0.1") -> None:
    """Run the broker until SIGTERM or SIGINT."""
    from amqtt.broker import Broker

    broker = Broker(broker_config(port, host))
    await broker.start()
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m shopfloor_sim.broker`."""
    parser = argparse.ArgumentParser(prog="python -m shopfloor_sim.broker", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="amqtt's own log at INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(args.port, args.host))
    except OSError as error:
        print(f"shopfloor_sim.broker: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
