"""Collector ingest: 1,000 tags at 10 Hz from plc_sim in other processes, without a growing backlog.

Baseline: asyncua's handler-callback mode (one callback, one TagValue and one bus publish per change)
feeding the same batched historian writer. Ours: the Runtime (subscription iterator, one bus batch
per publish response, batched historian writer). The naive one-commit-per-row writer is measured in
bench_historian_ingest.py; here it would starve the event loop until the server drops the client. Both read the same simulators for the same
time; the figures are changes received per second, the historian backlog at the end, and the
collector's CPU time per 1,000 changes.

    .venv/bin/python bench/bench_collector.py [--seconds 30] [--tags 1000] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from asyncua import Client

from hmi.config import PlantConfig, parse_config
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import coerce_value
from hmi.runtime import Runtime
from hmi.sim_process import SimProcess
from hmi.store.migrate import upgrade
from hmi.store.writer import HistorianWriter

SIMULATORS = 2  # a Python OPC UA server tops out at a few thousand writes a second: split the load


def merge(configs: list[PlantConfig]) -> PlantConfig:
    """One plant config with every simulator as its own endpoint."""
    endpoints = [e for cfg in configs for e in cfg.endpoints]
    twins = {k: v for cfg in configs for k, v in cfg.twins.items()}
    return PlantConfig.model_validate({"endpoints": endpoints, "twins": twins})


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run_ours(configs, db_path: Path, seconds: float) -> dict:
    url = f"sqlite:///{db_path}"
    upgrade(url)
    runtimes = [Runtime(merge(configs), url)]  # one runtime, two endpoints: as the product runs
    for rt in runtimes:
        await rt.start()
    await asyncio.sleep(3)  # connect and subscribe
    start_counts = [rt.bus.published for rt in runtimes]
    c0, t0 = cpu_s(), time.monotonic()
    backlog = []
    for _ in range(int(seconds)):
        await asyncio.sleep(1)
        backlog.append(sum(rt.writer.stats().queued + rt.writer.stats().spooled_backlog for rt in runtimes))
    elapsed, cpu = time.monotonic() - t0, cpu_s() - c0
    received = sum(rt.bus.published - s for rt, s in zip(runtimes, start_counts))
    for rt in runtimes:
        await rt.stop()
    stored = sqlite3.connect(db_path).execute("SELECT count(*) FROM samples").fetchone()[0]
    return {"rate": received / elapsed, "cpu_per_1k_ms": 1000 * cpu / max(received, 1) * 1000,
            "backlog_first": backlog[len(backlog) // 4], "backlog_last": backlog[-1], "stored": stored}


class _PerChange:
    """The handler-callback pattern: one TagValue and one bus publish per data change."""

    def __init__(self, bus: TagBus, tags: dict[str, str]) -> None:
        self.bus = bus
        self.tags = tags
        self.count = 0

    def datachange_notification(self, node, val, data) -> None:
        now = time.time()
        self.bus.publish([coerce_value(self.tags[node.nodeid.to_string()], val, now, now)])
        self.count += 1


async def run_baseline(configs, db_path: Path, seconds: float) -> dict:
    url = f"sqlite:///{db_path}"
    upgrade(url)
    bus = TagBus()
    writer = HistorianWriter(url, spool_path=db_path.with_suffix(".spool"))
    bus.subscribe(writer.consume)
    writer.start()
    tags = {t.node_id: t.tag_id for cfg in configs for t in cfg.plant().tags}
    handler = _PerChange(bus, tags)
    clients = []
    for cfg in configs:
        client = Client(cfg.endpoints[0].url)
        await client.connect()
        sub = await client.create_subscription(cfg.endpoints[0].publishing_interval_ms, handler)
        nodes = [client.get_node(t.node_id) for t in cfg.plant().tags]
        await sub.subscribe_data_change(nodes, queuesize=100)
        clients.append(client)
    await asyncio.sleep(3)
    n0, c0, t0 = handler.count, cpu_s(), time.monotonic()
    backlog = []
    for _ in range(int(seconds)):
        await asyncio.sleep(1)
        backlog.append(writer.stats().queued + writer.stats().spooled_backlog)
    elapsed, cpu, received = time.monotonic() - t0, cpu_s() - c0, handler.count - n0
    for client in clients:
        await client.disconnect()
    await asyncio.get_running_loop().run_in_executor(None, writer.stop, 30.0)
    return {"rate": received / elapsed, "cpu_per_1k_ms": 1000 * cpu / max(received, 1) * 1000,
            "backlog_first": backlog[len(backlog) // 4], "backlog_last": backlog[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    per_sim = args.tags // SIMULATORS
    offered = args.tags * args.rate
    with tempfile.TemporaryDirectory() as tmp:
        sims = [SimProcess(options=["--extra-tags", str(per_sim), "--extra-rate", str(args.rate)]).start()
                for _ in range(SIMULATORS)]
        try:
            configs = []
            for i, sim in enumerate(sims):
                text = sim.config_text.replace('name = "plc1"', f'name = "plc{i + 1}"').replace(
                    'endpoint = "plc1"', f'endpoint = "plc{i + 1}"')
                # the same twins on both simulators: give the second set its own tag ids
                cfg = parse_config(re.sub(r"^\[twins\.", f"[twins.p{i + 1}_", text, flags=re.M))
                configs.append(cfg)
            base = asyncio.run(run_baseline(configs, Path(tmp) / "naive.sqlite", args.seconds))
            ours = asyncio.run(run_ours(configs, Path(tmp) / "ours.sqlite", args.seconds))
        finally:
            for sim in sims:
                sim.stop()
    print(f"collector ingest, {args.tags} load tags at {args.rate:g} Hz (+ the plant) from {SIMULATORS} plc-sim "
          f"processes, {args.seconds:g} s, offered about {offered:,.0f} changes/s")
    print(f"  baseline (handler callback per change): {base['rate']:,.0f} changes/s, "
          f"{base['cpu_per_1k_ms']:.1f} ms CPU per 1,000 changes, backlog {base['backlog_first']} -> "
          f"{base['backlog_last']} samples")
    print(f"  ours (iterator, batched bus, batched historian): {ours['rate']:,.0f} changes/s, "
          f"{ours['cpu_per_1k_ms']:.1f} ms CPU per 1,000 changes, backlog {ours['backlog_first']} -> "
          f"{ours['backlog_last']} samples, {ours['stored']:,} rows stored")
    print(f"  ratio: {ours['rate'] / max(base['rate'], 1):.2f}x the received rate, "
          f"{base['cpu_per_1k_ms'] / max(ours['cpu_per_1k_ms'], 1e-9):.2f}x less CPU per change")
    verdict = "no growing backlog" if ours["backlog_last"] <= max(ours["backlog_first"], 20_000) else "BACKLOG GROWS"
    print(f"  target: 1,000 tags at 10 Hz without a growing backlog: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
