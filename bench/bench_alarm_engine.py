"""Alarm engine and anomaly detector: tag updates/s through AlarmEngine.update + AnomalyDetector.update against naive loops.

Run: .venv/bin/python bench/bench_alarm_engine.py [--tags N] [--updates N]
Target: ours (engine + detector) >= 100,000 tag updates/s on one core.

The plant: N analog tags with HI/LO alarms at the band edges (default settings: deadband, on/off
delays), an ANOMALY alarm per tag (|z| > 3 over the last 120 values, 30 at least), 10 COMM_LOSS
endpoints; values at 10 Hz per tag from a bounded random walk that leaves the band now and then,
delivered in bus batches of 1,000 with a tick() after each batch. The detector's condition changes go
to the engine through set_condition, as in the runtime.

Baselines: the limit check compares every update with every definition; the naive detector recomputes
mean and standard deviation over the whole window for every sample (statistics.fmean/stdev).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import deque

from hmi.domain.alarm_defs import AlarmDefinition, anomaly_definitions, default_definitions
from hmi.domain.alarm_engine import AlarmEngine
from hmi.domain.anomaly import AnomalyDetector
from hmi.domain.plant import Plant, Stream, TagKind, TagSpec, TwinSpec
from hmi.domain.tags import Quality, TagValue

T0 = 1_700_000_000.0
WINDOW, MIN_SAMPLES, Z = 120, 30, 3.0


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


class NaiveDetector:
    """The baseline detector: mean and std recomputed over the whole window for every sample."""

    def __init__(self, tags: list[str]) -> None:
        self.windows: dict[str, deque[float]] = {t: deque(maxlen=WINDOW) for t in tags}
        self.active: dict[str, bool] = {}

    def update(self, values: list[TagValue]) -> list[tuple[str, bool, float, float]]:
        """Score a batch; the condition changes."""
        changes = []
        for tv in values:
            window = self.windows.get(tv.tag)
            if window is None or tv.value is None or tv.quality is not Quality.GOOD:
                continue
            if len(window) >= MIN_SAMPLES:
                mean, std = statistics.fmean(window), statistics.stdev(window)
                now = abs(tv.value - mean) > Z * std if std > 0 else tv.value != mean
                if now != self.active.get(tv.tag, False):
                    self.active[tv.tag] = now
                    changes.append((f"{tv.tag}.anomaly", now, tv.value, tv.source_ts))
            window.append(tv.value)
        return changes


def combine(engine_update, detector_update, set_condition=None):
    """One update function for a limit checker and a detector (changes to the engine when it takes them)."""

    def update(values: list[TagValue]) -> list:
        events = engine_update(values)
        changes = detector_update(values)
        if set_condition is None:
            return events + changes
        for alarm_id, active, value, ts in changes:
            events += set_condition(alarm_id, active, value, ts)
        return events

    return update


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
    limit_defs = default_definitions(plant)
    defs = limit_defs + anomaly_definitions(plant, z=Z)
    values = make_values(plant, args.updates)
    tags = [t.tag_id for t in plant.tags]
    n_limit = sum(d.kind.is_limit for d in defs)
    # the naive detector is timed on full windows: they are filled from the first WINDOW samples per tag
    warm = WINDOW * len(tags)
    few = values[warm : warm + args.naive_updates]
    naive_detector = NaiveDetector(tags)
    for tv in values[:warm]:
        if tv.value is not None:
            naive_detector.windows[tv.tag].append(tv.value)

    naive_limits, _ = run(NaiveEngine(defs).update, None, few, args.batch)
    naive, naive_events = run(combine(NaiveEngine(defs).update, naive_detector.update), None, few, args.batch)
    alone = AlarmEngine(limit_defs, clock=lambda: T0)
    ours_limits, _ = run(alone.update, alone.tick, values, args.batch)
    engine = AlarmEngine(defs, clock=lambda: T0)
    detector = AnomalyDetector.for_definitions(defs, WINDOW, MIN_SAMPLES, Z)
    ours, our_events = run(combine(engine.update, detector.update, engine.set_condition), engine.tick, values, args.batch)
    unacked = sum(engine.unacked_counts().values())
    print(f"{args.tags:,} tags, {n_limit:,} limit alarms (HI/LO), {args.tags:,} anomaly alarms "
          f"(window {WINDOW}, min {MIN_SAMPLES}, |z| > {Z:g}), batches of {args.batch:,}")
    print(f"naive limits, every definition per update  ({args.naive_updates:,} updates): {naive_limits:12,.0f} updates/s")
    print(f"naive limits + window statistics per sample ({args.naive_updates:,} updates): {naive:12,.0f} updates/s  "
          f"({naive_events:,} changes)")
    print(f"ours, AlarmEngine.update + tick            ({args.updates:,} updates): {ours_limits:12,.0f} updates/s")
    print(f"ours, engine + AnomalyDetector + tick      ({args.updates:,} updates): {ours:12,.0f} updates/s  "
          f"({our_events:,} events, {unacked:,} unacknowledged at the end)")
    print(f"ratio ours/naive: {ours / naive:,.0f}x with the detector, {ours_limits / naive_limits:,.0f}x limits alone   "
          f"per update: {1e6 / ours:.2f} us ({1e6 / ours_limits:.2f} us limits alone)")
    print("target: ours (engine + detector) >= 100,000 updates/s on one core")

if __name__ == "__main__":
    main()
