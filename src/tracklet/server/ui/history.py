"""Downsampled metric histories: per pixel bucket the min, max and last value, computed in SQL.

A million-point history cannot be scanned per request (a full scan costs over a second on a small
machine), so reads go through `metric_tiles` (`tracklet.store.tiles`): summaries of power-of-two
ranges of x at a few levels, each 8 times wider than the one below, all kept up to date as points
are written. A request picks the coarsest level that still has a tile per bucket in range and folds
those tiles into `buckets` pixel buckets with one GROUP BY; when the range holds few points (zoomed
in) it reads the points themselves. Histories logged before tiles were kept at ingestion get their
tiles built here, from their points, on their first read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    select,
)

from tracklet.errors import InvalidParameterValue
from tracklet.store import schema as s
from tracklet.store.database import Database
from tracklet.store.tiles import AXES, FANOUT_SHIFT, LEVELS, TILE_COLUMNS, shift

MAX_BUCKETS = 5000


def _shr(expr: Any, bits: int) -> Any:
    """`expr >> bits`, the shift inlined: PostgreSQL has `bigint >> integer` but no `bigint >> bigint`."""
    return expr.op(">>")(literal_column(str(int(bits))))


@dataclass
class Series:
    run_id: str
    x: list[int] = field(default_factory=list)
    min: list[float] = field(default_factory=list)
    max: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    source: str = "empty"  # "points" or "tiles:<level>"
    extent: list[int] | None = None  # [first x, last x] of the whole history

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "x": self.x,
            "min": self.min,
            "max": self.max,
            "last": self.last,
            "source": self.source,
            "extent": self.extent,
        }


def _lit(value: Any, type_: Any) -> Any:
    # Typed binds: PostgreSQL cannot infer the type of a bare parameter in an INSERT … SELECT list.
    return cast(literal(value, type_), type_)


# ---------------------------------------------------------------------------------------------
# Building the tiles of histories logged before tiles were kept at ingestion


def _x(axis: int) -> Any:
    return s.metrics.c.timestamp if axis else s.metrics.c.step


def _tiles_from_points(run_id: str, key: str, axis: int) -> Select[Any]:
    """Level-0 tiles of every point of a history."""
    m = s.metrics
    x = _x(axis)
    bucket = _shr(x, shift(axis, 0))
    g = (
        select(
            bucket.label("bucket"),
            func.min(x).label("first_x"),
            func.max(x).label("last_x"),
            func.min(m.c.value).label("min_value"),
            func.max(m.c.value).label("max_value"),
            func.min(m.c.timestamp).label("min_ts"),
            func.max(m.c.timestamp).label("max_ts"),
            func.count().label("n_points"),
        )
        .where(m.c.run_uuid == run_id, m.c.key == key, m.c.is_nan == false())
        .group_by(bucket)
        .subquery("g")
    )
    p = m.alias("p")
    # The last value: the point at the tile's largest x, found by an index seek on timestamp.
    if axis:
        last = select(p.c.value).where(p.c.timestamp == g.c.last_x).order_by(p.c.step.desc(), p.c.value.desc())
    else:
        last = (
            select(p.c.value)
            .where(p.c.timestamp.between(g.c.min_ts, g.c.max_ts), p.c.step == g.c.last_x)
            .order_by(p.c.timestamp.desc(), p.c.value.desc())
        )
    last = last.where(p.c.run_uuid == run_id, p.c.key == key, p.c.is_nan == false()).limit(1)
    return select(
        _lit(run_id, String),
        _lit(key, String),
        _lit(axis, Integer),
        _lit(0, Integer),
        g.c.bucket,
        g.c.first_x,
        g.c.last_x,
        last.scalar_subquery(),
        g.c.min_value,
        g.c.max_value,
        g.c.min_ts,
        g.c.max_ts,
        g.c.n_points,
    ).where(g.c.bucket.is_not(None))


def _tiles_from_level_below(run_id: str, key: str, axis: int, level: int) -> Select[Any]:
    """Tiles of `level` computed from the tiles one level finer."""
    t = s.metric_tiles
    parent = _shr(t.c.bucket, FANOUT_SHIFT)
    where = [t.c.run_uuid == run_id, t.c.key == key, t.c.axis == axis, t.c.level == level - 1]
    ranked = (
        select(
            parent.label("bucket"),
            t.c.first_x,
            t.c.last_x,
            t.c.last_value,
            t.c.min_value,
            t.c.max_value,
            t.c.min_ts,
            t.c.max_ts,
            t.c.n_points,
            func.row_number().over(partition_by=parent, order_by=(t.c.last_x.desc(), t.c.max_ts.desc())).label("rn"),
        )
        .where(*where)
        .subquery("r")
    )
    return (
        select(
            _lit(run_id, String),
            _lit(key, String),
            _lit(axis, Integer),
            _lit(level, Integer),
            ranked.c.bucket,
            func.min(ranked.c.first_x),
            func.max(ranked.c.last_x),
            func.max(case((ranked.c.rn == 1, ranked.c.last_value))),
            func.min(ranked.c.min_value),
            func.max(ranked.c.max_value),
            func.min(ranked.c.min_ts),
            func.max(ranked.c.max_ts),
            func.sum(ranked.c.n_points),
        )
        .where(ranked.c.bucket.is_not(None))
        .group_by(ranked.c.bucket)
    )


def _rebuild(db: Database, conn: Connection, run_id: str, key: str) -> None:
    """Every tile of one history, from its points (both axes)."""
    t = s.metric_tiles
    conn.execute(t.delete().where(t.c.run_uuid == run_id, t.c.key == key))
    for axis in AXES.values():
        conn.execute(t.insert().from_select(TILE_COLUMNS, _tiles_from_points(run_id, key, axis)))
        for level in range(1, LEVELS[axis]):
            conn.execute(t.insert().from_select(TILE_COLUMNS, _tiles_from_level_below(run_id, key, axis, level)))


def ensure_tiles(db: Database, run_id: str, key: str) -> None:
    """Build the tiles of a history logged before tiles were kept at ingestion (once, on its first read)."""
    r = s.metric_tile_rebuilds
    listed = (r.c.run_uuid == run_id, r.c.key == key)
    with db.read() as conn:
        if conn.execute(select(r.c.key).where(*listed)).first() is None:
            return
    with db.write() as conn:
        # Lock the history's latest_metrics row (PostgreSQL; SQLite has one writer anyway): a batch
        # writing to it waits, or has committed its points before the rebuild reads them.
        latest = s.latest_metrics
        conn.execute(
            select(latest.c.key).where(latest.c.run_uuid == run_id, latest.c.key == key).with_for_update()
        ).first()
        if conn.execute(select(r.c.key).where(*listed)).first() is None:
            return  # another request rebuilt it meanwhile
        _rebuild(db, conn, run_id, key)
        conn.execute(r.delete().where(*listed))


# ---------------------------------------------------------------------------------------------
# Reading


def _extent(conn: Connection, run_id: str, key: str, axis: int) -> tuple[int, int] | None:
    t = s.metric_tiles
    row = conn.execute(
        select(func.min(t.c.first_x), func.max(t.c.last_x)).where(
            t.c.run_uuid == run_id, t.c.key == key, t.c.axis == axis, t.c.level == LEVELS[axis] - 1
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def _pixel(x: Any, lo: int, hi: int, buckets: int) -> Any:
    """Integer pixel bucket of x in [lo, hi] (integer arithmetic: the same on SQLite and PostgreSQL)."""
    span = max(hi - lo, 1)
    clamped = case((x < lo, lo), (x > hi, hi), else_=x)
    bucket = ((clamped - lo) * buckets) // span
    return case((bucket >= buckets, buckets - 1), else_=bucket)


def _fold(rows_x: Any, last: Any, min_v: Any, max_v: Any, order: tuple[Any, ...], where: list[Any],
          lo: int, hi: int, buckets: int) -> Select[Any]:  # fmt: skip
    pb = _pixel(rows_x, lo, hi, buckets).label("pb")
    ranked = (
        select(
            pb,
            rows_x.label("x"),
            last.label("last"),
            min_v.label("lo"),
            max_v.label("hi"),
            func.row_number().over(partition_by=pb, order_by=order).label("rn"),
        )
        .where(*where)
        .subquery("k")
    )
    return (
        select(
            func.max(ranked.c.x),
            func.min(ranked.c.lo),
            func.max(ranked.c.hi),
            func.max(case((ranked.c.rn == 1, ranked.c.last))),
        )
        .group_by(ranked.c.pb)
        .order_by(ranked.c.pb)
    )


def _fill(series: Series, rows: Any) -> None:
    for x, lo, hi, last in rows:
        series.x.append(int(x))
        series.min.append(float(lo))
        series.max.append(float(hi))
        series.last.append(float(last))


def check_request(axis_name: str, buckets: int, lo: float | None, hi: float | None) -> int:
    """The axis number of a valid request; InvalidParameterValue otherwise."""
    if axis_name not in AXES:
        raise InvalidParameterValue(f"Invalid x axis '{axis_name}': expected one of {sorted(AXES)}")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise InvalidParameterValue(f"Invalid buckets {buckets}: must be between 1 and {MAX_BUCKETS}")
    if lo is not None and hi is not None and hi < lo:
        raise InvalidParameterValue(f"Invalid range: min {lo} is greater than max {hi}")
    return AXES[axis_name]


def downsample(
    db: Database, run_id: str, key: str, axis_name: str, lo: float | None, hi: float | None, buckets: int
) -> Series:
    """The history of one metric of one run in [lo, hi], folded into at most `buckets` buckets."""
    axis = check_request(axis_name, buckets, lo, hi)
    series = Series(run_id)
    ensure_tiles(db, run_id, key)
    t = s.metric_tiles
    with db.read() as conn:
        extent = _extent(conn, run_id, key, axis)
        if extent is None:
            return series
        series.extent = list(extent)
        x_lo = extent[0] if lo is None else int(lo // 1)
        x_hi = extent[1] if hi is None else -int(-hi // 1)
        if x_hi < x_lo:
            raise InvalidParameterValue(f"Invalid range: min {lo} is greater than max {hi}")
        span = max(x_hi - x_lo, 1)
        # The coarsest level that still has a tile per bucket (at most 8 × buckets tiles to fold).
        level = max((lv for lv in range(LEVELS[axis]) if (span >> shift(axis, lv)) >= buckets), default=0)
        sh = shift(axis, level)
        in_range = [
            t.c.run_uuid == run_id,
            t.c.key == key,
            t.c.axis == axis,
            t.c.level == level,
            t.c.bucket.between(x_lo >> sh, x_hi >> sh),
        ]
        stats = conn.execute(
            select(func.count(), func.sum(t.c.n_points), func.min(t.c.min_ts), func.max(t.c.max_ts)).where(*in_range)
        ).first()
        n_tiles, n_points, min_ts, max_ts = stats if stats else (0, 0, None, None)
        if not n_tiles:
            return series
        # Zoomed in far enough, the points themselves (level-0 tiles are 64 steps wide).
        if level == 0 and (n_points or 0) <= max(16 * buckets, 2_000):
            m = s.metrics
            x = _x(axis)
            where = [
                m.c.run_uuid == run_id,
                m.c.key == key,
                m.c.is_nan == false(),
                m.c.timestamp.between(min_ts, max_ts),
                x.between(x_lo, x_hi),
            ]
            order: tuple[Any, ...] = (x.desc(), m.c.timestamp.desc(), m.c.step.desc())
            query = _fold(x, m.c.value, m.c.value, m.c.value, order, where, x_lo, x_hi, buckets)
            series.source = "points"
        else:
            order = (t.c.last_x.desc(), t.c.max_ts.desc())
            query = _fold(
                t.c.last_x, t.c.last_value, t.c.min_value, t.c.max_value, order, in_range, x_lo, x_hi, buckets
            )
            series.source = f"tiles:{level}"
        _fill(series, conn.execute(query))
    return series
