"""Read side of the historian: tag names, counts, raw and downsampled ranges, CSV export.

Plain blocking functions taking an Engine: the app runs them in an executor. Ranges are
half-open, ``t0 <= t < t1``, in UTC epoch seconds.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import NamedTuple, TextIO

from sqlalchemy import Select, exc, func, literal_column, select
from sqlalchemy.engine import Connection, Engine

from hmi.domain.tags import Quality
from hmi.store.db import unavailable
from hmi.store.errors import UnknownTag
from hmi.store.schema import ROLLUPS, US, samples, tags

_EXPORT_CHUNK = 10_000


class Bucket(NamedTuple):
    """One column of a trend: the time it starts at and what the samples in it did.

    ``vmin``/``vmax``/``vavg`` are None when the bucket holds only Bad samples (a gap);
    ``n`` counts numeric samples, ``n_bad`` Bad ones.
    """

    t: float
    vmin: float | None
    vmax: float | None
    vavg: float | None
    n: int
    n_bad: int


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    try:
        with engine.connect() as conn:
            yield conn
    except exc.OperationalError as error:
        raise unavailable(engine, error) from None


def _us(t: float) -> int:
    return round(t * US)


def _tag_id(conn: Connection, tag: str) -> int | None:
    return conn.execute(select(tags.c.id).where(tags.c.name == tag)).scalar()


def tag_names(engine: Engine) -> list[str]:
    """Every tag that has history, sorted by name."""
    with _connect(engine) as conn:
        return list(conn.execute(select(tags.c.name).order_by(tags.c.name)).scalars())


def sample_count(engine: Engine, tag: str | None = None) -> int:
    """The number of stored samples, of one tag or of all."""
    stmt = select(func.count()).select_from(samples)
    with _connect(engine) as conn:
        if tag is not None:
            tag_id = _tag_id(conn, tag)
            if tag_id is None:
                return 0
            stmt = stmt.where(samples.c.tag_id == tag_id)
        return int(conn.execute(stmt).scalar_one())


def _raw_select(tag_id: int, t0_us: int, t1_us: int) -> Select:
    s = samples.c
    return (
        select(s.ts_us, s.value, s.quality)
        .where(s.tag_id == tag_id, s.ts_us >= t0_us, s.ts_us < t1_us)
        .order_by(s.ts_us)
    )


def raw_range(engine: Engine, tag: str, t0: float, t1: float) -> list[tuple[float, float | None, int]]:
    """Every sample of a tag in [t0, t1) as (ts, value, quality), oldest first; Bad samples have value None."""
    with _connect(engine) as conn:
        tag_id = _tag_id(conn, tag)
        if tag_id is None:
            return []
        rows = conn.execute(_raw_select(tag_id, _us(t0), _us(t1)))
        return [(ts_us / US, value, quality) for ts_us, value, quality in rows]


def _level_for(width_us: int) -> tuple[object, int] | None:
    """The coarsest rollup whose buckets fit in a trend bucket, or None for raw samples."""
    best = None
    for table, level_us in ROLLUPS:
        if level_us <= width_us:
            best = (table, level_us)
    return best


def _grouped_raw(conn: Connection, tag_id: int, lo: int, hi: int, origin: int, width: int) -> list[tuple]:
    s = samples.c
    key = (s.ts_us - origin).op("/", precedence=8)(literal_column(str(width))).label("k")
    stmt = (
        select(key, func.min(s.value), func.max(s.value), func.sum(s.value), func.count(s.value), func.count() - func.count(s.value))
        .where(s.tag_id == tag_id, s.ts_us >= lo, s.ts_us < hi)
        .group_by(key)
    )
    return list(conn.execute(stmt))


def _grouped_rollup(conn: Connection, table, tag_id: int, lo: int, hi: int, origin: int, width: int) -> list[tuple]:  # noqa: ANN001
    r = table.c
    key = (r.bucket_us - origin).op("/", precedence=8)(literal_column(str(width))).label("k")
    stmt = (
        select(key, func.min(r.vmin), func.max(r.vmax), func.sum(r.vsum), func.sum(r.n), func.sum(r.n_bad))
        .where(r.tag_id == tag_id, r.bucket_us >= lo, r.bucket_us < hi)
        .group_by(key)
    )
    return list(conn.execute(stmt))


def downsampled_range(engine: Engine, tag: str, t0: float, t1: float, points: int) -> list[Bucket]:
    """A tag in [t0, t1) reduced to at most ``points`` buckets with min, max and mean, oldest first.

    Min and max per bucket keep a one-sample spike visible. Long ranges read the 1-minute or
    1-hour rollups (trend buckets are whole multiples of them, so nothing straddles a border)
    and the raw samples only for the partial rollup buckets at both ends. Buckets without any
    sample are left out.
    """
    if points < 1:
        raise ValueError(f"points must be at least 1, got {points}")
    t0_us, t1_us = _us(t0), _us(t1)
    if t1_us <= t0_us:
        return []
    width = max(math.ceil((t1_us - t0_us) / points), 1)
    with _connect(engine) as conn:
        tag_id = _tag_id(conn, tag)
        if tag_id is None:
            return []
        level = _level_for(width)
        if level is None:
            origin = t0_us
            parts = _grouped_raw(conn, tag_id, t0_us, t1_us, origin, width)
        else:
            table, level_us = level
            width = math.ceil(width / level_us) * level_us
            origin = t0_us - t0_us % level_us
            inner_lo = -(-t0_us // level_us) * level_us
            inner_hi = t1_us - t1_us % level_us
            if inner_lo >= inner_hi:
                parts = _grouped_raw(conn, tag_id, t0_us, t1_us, origin, width)
            else:
                parts = _grouped_raw(conn, tag_id, t0_us, inner_lo, origin, width)
                parts += _grouped_rollup(conn, table, tag_id, inner_lo, inner_hi, origin, width)
                parts += _grouped_raw(conn, tag_id, inner_hi, t1_us, origin, width)
    return _merge(parts, origin, width, t0_us)


def _merge(parts: list[tuple], origin: int, width: int, t0_us: int) -> list[Bucket]:
    """Combine partial aggregates that fall into the same trend bucket."""
    acc: dict[int, list] = {}
    for k, vmin, vmax, vsum, n, n_bad in parts:
        k = int(k)
        cur = acc.get(k)
        if cur is None:
            acc[k] = [vmin, vmax, vsum, int(n), int(n_bad)]
            continue
        if vmin is not None:
            cur[0] = vmin if cur[0] is None else min(cur[0], vmin)
            cur[1] = vmax if cur[1] is None else max(cur[1], vmax)
            cur[2] = vsum if cur[2] is None else cur[2] + vsum
        cur[3] += int(n)
        cur[4] += int(n_bad)
    buckets = []
    for k in sorted(acc):
        vmin, vmax, vsum, n, n_bad = acc[k]
        start = max(origin + k * width, t0_us)
        avg = vsum / n if n and vsum is not None else None
        buckets.append(Bucket(start / US, vmin if n else None, vmax if n else None, avg, n, n_bad))
    return buckets


def _iso(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us // US, UTC).replace(microsecond=ts_us % US).isoformat().replace("+00:00", "Z")


def export_csv(engine: Engine, tag: str, t0: float, t1: float, out: TextIO) -> int:
    """Write a tag's samples in [t0, t1) as CSV; returns the row count.

    Columns: time_utc (ISO 8601), value, quality (its name), reason (why a sample is not Good,
    where it was stored, e.g. the gap a stopped collector left; empty otherwise). Raises UnknownTag
    when the tag has no history at all.
    """
    names = {q.value: q.name for q in Quality}
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time_utc", "value", "quality", "reason"])
    count = 0
    with _connect(engine) as conn:
        tag_id = _tag_id(conn, tag)
        if tag_id is None:
            raise UnknownTag(f"no history for tag {tag!r}; `hmi history tags` lists the tags that have some")
        result = conn.execution_options(stream_results=True, yield_per=_EXPORT_CHUNK).execute(
            _raw_select(tag_id, _us(t0), _us(t1)).add_columns(samples.c.reason)
        )
        for chunk in result.partitions():
            writer.writerows(
                (_iso(ts_us), "" if value is None else repr(value), names.get(quality, str(quality)),
                 reason or "")
                for ts_us, value, quality, reason in chunk
            )
            count += len(chunk)
    return count

