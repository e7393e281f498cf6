"""`hmi collect`: acquisition, historian and alarms without the GUI, for a plant server or a test.

It starts whether or not the database answers, and never creates or migrates its schema (that is
`hmi db upgrade`, run by whoever installs or updates the plant): until the database can be written
the samples go to the spool, and the status line and the log say why.

The status line ends with the alarm counts (unacknowledged per priority, shelved) and whether this
collector writes the alarm journal (holder) or leaves it to another workstation (follower). With an
``[mqtt]`` url it also runs the MES half: the broker link shows with the PLC links (``broker=up``,
``broker=down (reason)``), followed by the dispatcher's counters (``orders received N applied N dup N
invalid N outbox N (dispatcher|follower)``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import TYPE_CHECKING

from hmi.commands.errors import positive_seconds
from hmi.config import PlantConfig, load_config
from hmi.domain.timespec import format_utc

if TYPE_CHECKING:
    from hmi.runtime import Runtime


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `collect` to the parser."""
    p = sub.add_parser("collect", parents=[common], help="headless acquisition, historian and alarms")
    p.add_argument("--run-for", type=positive_seconds, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--status-interval", type=positive_seconds, default=5.0, metavar="SECONDS", help="status line period")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Collect until --run-for has passed or SIGTERM/SIGINT arrives."""
    config = load_config(args.config)
    return collect(config, args.db, args.run_for, args.status_interval)


def collect(config: PlantConfig, db_url: str | None, run_for: float | None, status_interval: float) -> int:
    """Run acquisition and historian, whatever the database's state; returns the exit code.

    The collector never migrates: a database that is down, locked or without this version's schema
    is spooled for (the status line says why: "connection refused", "no schema: run hmi db upgrade")
    and retried with back-off, and everything is forwarded in order once it can be written.
    """
    url = db_url or config.database_url
    asyncio.run(_collect(config, url, run_for, status_interval))
    return 0


def _status(runtime: Runtime) -> str:
    """The status line: acquisition, historian, links, then the alarm counts and the journal's state."""
    return runtime.status().with_alarms(runtime.alarms).line()


async def _collect(config: PlantConfig, url: str, run_for: float | None, status_interval: float) -> None:
    from hmi.runtime import Runtime
    from hmi.services.db import safe_url

    runtime = Runtime(config, url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    if run_for is not None:
        loop.call_later(run_for, stop.set)
    await runtime.start()
    print(f"collect: {len(runtime.plant.tags)} tags from {len(runtime.sources)} endpoint(s) into {safe_url(url)}", flush=True)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), status_interval)
            except asyncio.TimeoutError:
                pass
            print(f"collect: {format_utc(time.time())} {_status(runtime)}", flush=True)
    finally:
        await runtime.stop()
        print(f"collect: {format_utc(time.time())} stopped; {_status(runtime)}", flush=True)
        sys.stdout.flush()
