"""Alarm engine: tag updates/s through AlarmEngine.update (definitions indexed by tag) against a naive loop over all definitions.

Run: .venv/bin/python bench/bench_alarm_engine.py [--tags N] [--updates N]
Target: ours >= 100,000 tag updates/s on one core.

The plant: N analog tags with HI/LO alarms at the band edges (default settings: deadband, on/off
delays), 10 COMM_LOSS endpoints; values at 10 Hz per tag from a bounded random walk that leaves the
band now and then, delivered in bus batches of 1,000 with a tick() after each batch.
"""

from __future__ import annotations

import argparse
import random
import time

from hmi.domain.alarm_defs import AlarmDefinition, default_definitions
from hmi.domain.alarm_engine import AlarmEngine
from hmi.domain.plant import Plant, Stream, TagKind, TagSpec, TwinSpec
from hmi.domain.tags import Quality, TagValue

T0 = 1_700_000_000.0


def make_plant(n_tags: int) -> Plant:
    """n_tags analog tags (range 0-100, band 20-80) over 10 twins and 10 endpoints."""
    twins = []
    for t in range(10):
        tags = tuple(
            TagSpec(f"twin{t}.p{i:04d}", f"twin{t}", f"p{i:04d}", "bar", 0.0, 100.0, 20.0, 80.0, TagKind.ANALOG,
                    f"plc{t}", f"ns=2;s=twin{t}.p{i}", 100, 0.0)  # fmt: skip
            for i in range(t, n_tags, 10)
        )
        twins.append(TwinSpec(f"twin{t}", f"Twin {t}", Stream.UPSTREAM, tags))
    return Plant(tuple(twins))


def make_values(plant: Plant, count: int, seed: int = 7) -> list[TagValue]:
    """count samples, every tag in turn at 10 Hz, a random walk that crosses the band edges; 0.1% bad."""
    rng = random.Random(seed)
    tags = [t.tag_id for t in plant.tags]
    level = {tag: rng.uniform(30.0, 70.0) for tag in tags}
    out: list[TagValue] = []
    for i in range(count):
        tag = tags[i % len(tags)]
        ts = T0 + (i // len(tags)) * 0.1
        if rng.random() < 0.001:
            out.append(TagValue(tag, None, Quality.BAD, ts, ts, "bad status"))
            continue
        v = min(100.0, max(0.0, level[tag] + rng.gauss(0.0, 1.5)))
        level[tag] = v
        out.append(TagValue(tag, v, Quality.GOOD, ts, ts))
    return out


class NaiveEngine:
    """The baseline: every update is compared with every definition; no delays, no deadband, no life cycle."""

    def __init__(self, definitions: list[AlarmDefinition]) -> None:
        self.defs = [d for d in definitions if d.kind.is_limit]
        self.active: dict[str, bool] = {}

    def update(self, values: list[TagValue]) -> list[tuple[float, str, bool]]:
        """Evaluate a batch; (ts, alarm id, active) for each change."""
        events = []
        for tv in values:
            for d in self.defs:
                if d.tag != tv.tag or tv.value is None or tv.quality is Quality.BAD:
                    continue
                now = tv.value > d.limit if d.kind.is_high else tv.value < d.limit
                if now != self.active.get(d.alarm_id, False):
                    self.active[d.alarm_id] = now
                    events.append((tv.source_ts, d.alarm_id, now))
        return events


def run(update, tick, values: list[TagValue], batch: int) -> tuple[float, int]:
    """Updates/s and events for values fed in batches (tick after each batch when given)."""
    n_events = 0
    started = time.perf_counter()
    for k in range(0, len(values), batch):
        chunk = values[k : k + batch]
        n_events += len(update(chunk))
        if tick is not None:
            n_events += len(tick(chunk[-1].source_ts))
    return len(values) / (time.perf_counter() - started), n_events


def main() -> None:
    """Run the naive loop and the engine on the same values; print absolute rates and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--updates", type=int, default=1_000_000)
    parser.add_argument("--naive-updates", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    plant = make_plant(args.tags)
    defs = default_definitions(plant)
    values = make_values(plant, args.updates)
    n_limit = sum(d.kind.is_limit for d in defs)

    naive, naive_events = run(NaiveEngine(defs).update, None, values[: args.naive_updates], args.batch)
    engine = AlarmEngine(defs, clock=lambda: T0)
    ours, our_events = run(engine.update, engine.tick, values, args.batch)
    unacked = sum(engine.unacked_counts().values())
    print(f"{args.tags:,} tags, {n_limit:,} limit alarms (HI/LO), batches of {args.batch:,}")
    print(f"naive, every definition per update ({args.naive_updates:,} updates): {naive:12,.0f} updates/s  ({naive_events:,} changes)")
    print(f"ours, AlarmEngine.update + tick      ({args.updates:,} updates): {ours:12,.0f} updates/s  ({our_events:,} events, {unacked:,} unacknowledged at the end)")
    print(f"ratio ours/naive: {ours / naive:,.0f}x   per update: {1e6 / ours:.2f} us")
    print("target: ours >= 100,000 updates/s on one core")


if __name__ == "__main__":
    main()
