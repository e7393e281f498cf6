"""One transaction's worth of historian writes: tag ids, idempotent sample inserts, rollup refresh."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Table, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from hmi.store.schema import HOUR_US, MINUTE_US, rollup_1h, rollup_1m, samples, tags

# (tag name, UTC epoch µs, value or None, quality); a Bad sample has value None and quality 2.
Row = tuple[str, int, float | None, int]

_NAME_CHUNK = 500
_COMPILED: dict[str, tuple[str, tuple[str, ...] | None]] = {}


def _insert(conn: Connection, table: Table):  # noqa: ANN202 - dialect-specific Insert
    """The dialect's INSERT construct, which knows ON CONFLICT."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def resolve_tag_ids(conn: Connection, names: Iterable[str], known: Mapping[str, int]) -> dict[str, int]:
    """Ids of the names not in ``known``, creating their tags rows; commit before caching them."""
    missing = sorted(set(names) - known.keys())
    found: dict[str, int] = {}
    for start in range(0, len(missing), _NAME_CHUNK):
        chunk = missing[start : start + _NAME_CHUNK]
        conn.execute(_insert(conn, tags).on_conflict_do_nothing(index_elements=["name"]), [{"name": n} for n in chunk])
        rows = conn.execute(select(tags.c.name, tags.c.id).where(tags.c.name.in_(chunk)))
        found.update({name: tag_id for name, tag_id in rows})
    return found


def _insert_samples_sql(conn: Connection) -> tuple[str, tuple[str, ...] | None]:
    """The Core INSERT ... ON CONFLICT DO NOTHING for samples, compiled for this dialect (cached)."""
    name = conn.dialect.name
    cached = _COMPILED.get(name)
    if cached is None:
        columns = ("tag_id", "ts_us", "value", "quality")  # not reason: it is NULL but for gap markers
        stmt = _insert(conn, samples).values({c: bindparam(c) for c in columns})
        stmt = stmt.on_conflict_do_nothing(index_elements=["tag_id", "ts_us"])
        compiled = stmt.compile(dialect=conn.dialect)
        order = tuple(compiled.positiontup) if compiled.positional else None
        cached = _COMPILED[name] = (str(compiled), order)
    return cached


def insert_samples(conn: Connection, rows: Sequence[Row], ids: Mapping[str, int]) -> int:
    """Insert rows, ignoring ones already stored (same tag and time); returns the rows actually added."""
    if not rows:
        return 0
    # The statement is built with Core but run as the driver's executemany: SQLAlchemy's own
    # executemany costs about 3x as much per row here, and its batched "insertmanyvalues"
    # reports no rowcount on PostgreSQL, while "stored" must count only rows the database added.
    sql, order = _insert_samples_sql(conn)
    if order is not None:
        assert order == ("tag_id", "ts_us", "value", "quality"), order
        params: list = [(ids[tag], ts_us, value, quality) for tag, ts_us, value, quality in rows]
    else:
        params = [{"tag_id": ids[tag], "ts_us": ts_us, "value": value, "quality": quality} for tag, ts_us, value, quality in rows]
    result = conn.exec_driver_sql(sql, params)
    return max(result.rowcount, 0)


def _floor(column: ColumnElement, width_us: int) -> ColumnElement:
    """column floored to a multiple of width_us, also for negative times (SQL % truncates toward zero)."""
    w = literal_column(str(width_us))
    return column - ((column % w) + w) % w


def _runs(keys: Iterable[tuple[int, int]], width_us: int) -> list[dict[str, int]]:
    """Merge (tag_id, bucket) pairs into contiguous [lo, hi) runs per tag, one statement parameter set each."""
    runs: list[dict[str, int]] = []
    for tag_id, bucket in sorted(set(keys)):
        last = runs[-1] if runs else None
        if last is not None and last["tid"] == tag_id and last["hi"] == bucket:
            last["hi"] = bucket + width_us
        else:
            runs.append({"tid": tag_id, "lo": bucket, "hi": bucket + width_us})
    return runs


def _refresh(conn: Connection, target: Table, width_us: int, source_select, runs: list[dict[str, int]]) -> None:  # noqa: ANN001
    if not runs:
        return
    cols = ["tag_id", "bucket_us", "vmin", "vmax", "vsum", "n", "n_bad"]
    stmt = _insert(conn, target).from_select(cols, source_select)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tag_id", "bucket_us"], set_={c: stmt.excluded[c] for c in cols[2:]}
    )
    conn.execute(stmt, runs)


def _minute_select():  # noqa: ANN202
    bucket = _floor(samples.c.ts_us, MINUTE_US)
    return (
        select(
            samples.c.tag_id,
            bucket,
            func.min(samples.c.value),
            func.max(samples.c.value),
            func.sum(samples.c.value),
            func.count(samples.c.value),
            func.count() - func.count(samples.c.value),
        )
        .where(samples.c.tag_id == bindparam("tid"), samples.c.ts_us >= bindparam("lo"), samples.c.ts_us < bindparam("hi"))
        .group_by(samples.c.tag_id, bucket)
    )


def _hour_select():  # noqa: ANN202
    bucket = _floor(rollup_1m.c.bucket_us, HOUR_US)
    m = rollup_1m.c
    return (
        select(m.tag_id, bucket, func.min(m.vmin), func.max(m.vmax), func.sum(m.vsum), func.sum(m.n), func.sum(m.n_bad))
        .where(m.tag_id == bindparam("tid"), m.bucket_us >= bindparam("lo"), m.bucket_us < bindparam("hi"))
        .group_by(m.tag_id, bucket)
    )


def refresh_rollups(conn: Connection, keys: Iterable[tuple[int, int]]) -> None:
    """Recompute the rollup buckets holding these (tag_id, ts_us) from what is stored now.

    Rebuilding a touched bucket from the raw rows (not adding the batch to it) keeps the rollups
    exact under duplicates, late and out-of-order data; it runs in the caller's transaction.
    """
    minutes = {(tag_id, ts_us - ts_us % MINUTE_US) for tag_id, ts_us in keys}
    if not minutes:
        return
    _refresh(conn, rollup_1m, MINUTE_US, _minute_select(), _runs(minutes, MINUTE_US))
    hours = {(tag_id, bucket - bucket % HOUR_US) for tag_id, bucket in minutes}
    _refresh(conn, rollup_1h, HOUR_US, _hour_select(), _runs(hours, HOUR_US))


def write_rows(conn: Connection, rows: Sequence[Row], known: Mapping[str, int]) -> tuple[int, dict[str, int]]:
    """Write rows and refresh their rollups in the caller's transaction.

    Returns the number of new rows and the tag ids created or looked up here (cache them only
    after the commit: a rolled-back transaction takes its new tag rows with it).
    """
    new_ids = resolve_tag_ids(conn, {r[0] for r in rows}, known)
    ids = {**known, **new_ids} if new_ids else known
    added = insert_samples(conn, rows, ids)
    refresh_rollups(conn, ((ids[tag], ts_us) for tag, ts_us, _v, _q in rows))
    return added, new_ids
