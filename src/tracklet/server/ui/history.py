"""Downsampled metric histories: per pixel bucket the min, max and last value, computed in SQL.

A million-point history cannot be scanned per request (a full scan costs over a second on a small
machine), so reads go through `metric_tiles`: summaries of power-of-two ranges of x at a few levels,
each 16 times wider than the one below. They are built from `metrics` on the first read of a
(run, metric, axis) with one GROUP BY per level, then extended with the points logged since
(`timestamp > built_ts`, an index range scan). A request picks the finest level with at most
a tile per bucket in range and folds those tiles into `buckets` pixel buckets with one more
GROUP BY; when the range holds few points (zoomed in) it reads the points themselves.

Known limit: a point logged later with a timestamp not after the last one already summarised is
missing from the tiles (it still shows when zoomed in far enough to read raw points).
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

AXES = {"step": 0, "time": 1}
_BASE_SHIFT = {0: 4, 1: 10}  # level-0 tiles span 16 steps, or 1,024 ms
_LEVELS = {0: 6, 1: 8}  # coarsest: 2^24 steps, 2^38 ms (8.7 years)
_FANOUT_SHIFT = 4  # each level is 16 times coarser
MAX_BUCKETS = 5000


def shift(axis: int, level: int) -> int:
    return _BASE_SHIFT[axis] + _FANOUT_SHIFT * level


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
# Building and extending tiles


def _x(axis: int) -> Any:
    return s.metrics.c.timestamp if axis else s.metrics.c.step


def _tiles_from_points(run_id: str, key: str, axis: int, since: int | None) -> Select[Any]:
    """Level-0 tiles of the points with timestamp > since (all points when since is None)."""
    m = s.metrics
    x = _x(axis)
    bucket = _shr(x, shift(axis, 0))
    where = [m.c.run_uuid == run_id, m.c.key == key, m.c.is_nan == false()]
    if since is not None:
        where.append(m.c.timestamp > since)
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
        .where(*where)
        .group_by(bucket)
        .subquery("g")
    )
    p = m.alias("p")
    # The last value: the point at the tile's largest x, found by an index seek on timestamp.
    if axis:
        last = (
            select(p.c.value).where(p.c.timestamp == g.c.last_x).order_by(p.c.step.desc(), p.c.value.desc())
        )
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


def _tiles_from_level_below(
    run_id: str, key: str, axis: int, level: int, from_bucket: int | None
) -> Select[Any]:
    """Tiles of `level` recomputed from the tiles one level finer (those at or after from_bucket)."""
    t = s.metric_tiles
    parent = _shr(t.c.bucket, _FANOUT_SHIFT)
    where = [t.c.run_uuid == run_id, t.c.key == key, t.c.axis == axis, t.c.level == level - 1]
    if from_bucket is not None:
        where.append(t.c.bucket >= from_bucket << _FANOUT_SHIFT)
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
            func.row_number()
            .over(partition_by=parent, order_by=(t.c.last_x.desc(), t.c.max_ts.desc()))
            .label("rn"),
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


_TILE_COLUMNS = [
    "run_uuid", "key", "axis", "level", "bucket", "first_x", "last_x", "last_value",
    "min_value", "max_value", "min_ts", "max_ts", "n_points",
]  # fmt: skip
_TILE_KEY = ["run_uuid", "key", "axis", "level", "bucket"]


def _smaller(new: Any, old: Any) -> Any:
    return case((new < old, new), else_=old)


def _larger(new: Any, old: Any) -> Any:
    return case((new > old, new), else_=old)


def _merge_upsert(db: Database, source: Select[Any]) -> Any:
    """Insert tiles, folding new points into an existing tile (used for level 0)."""
    t = s.metric_tiles
    stmt = db.insert(t).from_select(_TILE_COLUMNS, source)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=_TILE_KEY,
        set_={
            "first_x": _smaller(new.first_x, t.c.first_x),
            "last_value": case((new.last_x >= t.c.last_x, new.last_value), else_=t.c.last_value),
            "last_x": _larger(new.last_x, t.c.last_x),
            "min_value": _smaller(new.min_value, t.c.min_value),
            "max_value": _larger(new.max_value, t.c.max_value),
            "min_ts": _smaller(new.min_ts, t.c.min_ts),
            "max_ts": _larger(new.max_ts, t.c.max_ts),
            "n_points": t.c.n_points + new.n_points,
        },
    )


def _replace_upsert(db: Database, source: Select[Any]) -> Any:
    """Insert tiles, replacing existing ones (levels above 0 are recomputed from their children)."""
    stmt = db.insert(s.metric_tiles).from_select(_TILE_COLUMNS, source)
    return stmt.on_conflict_do_update(
        index_elements=_TILE_KEY, set_={c: stmt.excluded[c] for c in _TILE_COLUMNS if c not in _TILE_KEY}
    )


def _max_timestamp(conn: Connection, run_id: str, key: str) -> int | None:
    m = s.metrics
    value = conn.execute(
        select(func.max(m.c.timestamp)).where(m.c.run_uuid == run_id, m.c.key == key)
    ).scalar()
    return None if value is None else int(value)


def _built_ts(conn: Connection, run_id: str, key: str, axis: int) -> int | None:
    st = s.metric_tile_state
    value = conn.execute(
        select(st.c.built_ts).where(st.c.run_uuid == run_id, st.c.key == key, st.c.axis == axis)
    ).scalar()
    return None if value is None else int(value)


def ensure_tiles(db: Database, run_id: str, key: str, axis: int) -> bool:
    """Bring the tiles of one history up to date; False when the history has no points."""
    with db.read() as conn:
        latest = _max_timestamp(conn, run_id, key)
        built = _built_ts(conn, run_id, key, axis)
    if latest is None:
        return False
    if built is not None and latest <= built:
        return True
    with db.write() as conn:
        built = _built_ts(conn, run_id, key, axis)  # another request may have done it meanwhile
        latest = _max_timestamp(conn, run_id, key)
        if latest is None or (built is not None and latest <= built):
            return latest is not None
        m = s.metrics
        from_bucket: int | None = None
        if built is not None:
            first_new = conn.execute(
                select(func.min(_x(axis))).where(
                    m.c.run_uuid == run_id, m.c.key == key, m.c.timestamp > built, m.c.is_nan == false()
                )
            ).scalar()
            from_bucket = None if first_new is None else int(first_new) >> shift(axis, 0)
        conn.execute(_merge_upsert(db, _tiles_from_points(run_id, key, axis, built)))
        if built is None or from_bucket is not None:
            for level in range(1, _LEVELS[axis]):
                start = None if from_bucket is None else from_bucket >> (_FANOUT_SHIFT * level)
                conn.execute(_replace_upsert(db, _tiles_from_level_below(run_id, key, axis, level, start)))
        st = s.metric_tile_state
        stmt = db.insert(st).values(run_uuid=run_id, key=key, axis=axis, built_ts=latest)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["run_uuid", "key", "axis"], set_={"built_ts": latest})
        )
    return True


# ---------------------------------------------------------------------------------------------
# Reading


def _extent(conn: Connection, run_id: str, key: str, axis: int) -> tuple[int, int] | None:
    t = s.metric_tiles
    row = conn.execute(
        select(func.min(t.c.first_x), func.max(t.c.last_x)).where(
            t.c.run_uuid == run_id, t.c.key == key, t.c.axis == axis, t.c.level == _LEVELS[axis] - 1
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
    if not ensure_tiles(db, run_id, key, axis):
        return series
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
        # The coarsest level that still has a tile per bucket (at most 16 × buckets tiles to fold).
        level = max((lv for lv in range(_LEVELS[axis]) if (span >> shift(axis, lv)) >= buckets), default=0)
        sh = shift(axis, level)
        in_range = [
            t.c.run_uuid == run_id,
            t.c.key == key,
            t.c.axis == axis,
            t.c.level == level,
            t.c.bucket.between(x_lo >> sh, x_hi >> sh),
        ]
        stats = conn.execute(
            select(func.count(), func.sum(t.c.n_points), func.min(t.c.min_ts), func.max(t.c.max_ts)).where(
                *in_range
            )
        ).first()
        n_tiles, n_points, min_ts, max_ts = stats if stats else (0, 0, None, None)
        if not n_tiles:
            return series
        if level == 0 and (n_points or 0) <= max(4 * buckets, 2_000):
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
