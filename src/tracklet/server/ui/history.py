"""Downsampled metric histories: per pixel bucket the min, max and last value, computed in SQL.

A million-point history cannot be scanned per request (a full scan costs over a second on a small
machine), so reads go through `metric_tiles` (`tracklet.store.tiles`): summaries of power-of-two
ranges of x at a few levels, each 8 times wider than the one below, all kept up to date as points
are written. A request picks the coarsest level that still has a tile per bucket in range and folds
those tiles into `buckets` pixel buckets with one GROUP BY; when the range holds few points (zoomed
in), or the history is short (no tiles), it reads the points themselves. Histories logged before
tiles were kept at ingestion get their tiles built here, from their points, on their first read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    case,
    false,
    func,
    select,
)

from tracklet.errors import InvalidParameterValue
from tracklet.store import schema as s
from tracklet.store import tiles
from tracklet.store.database import Database
from tracklet.store.histories import history_id_of
from tracklet.store.tiles import AXES, LEVELS, shift, x_column

MAX_BUCKETS = 5000


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
        tiles.build_from_points(conn, run_id, key)
        conn.execute(r.delete().where(*listed))


# ---------------------------------------------------------------------------------------------
# Reading


def _extent(conn: Connection, run_id: str, key: str, axis: int) -> tuple[tuple[int, int] | None, bool]:
    """[first x, last x] of a history, and whether it has tiles (short histories have none)."""
    t = s.metric_tiles
    row = conn.execute(
        select(func.min(t.c.first_x), func.max(t.c.last_x)).where(
            t.c.run_uuid == run_id, t.c.key == key, t.c.axis == axis, t.c.level == LEVELS[axis] - 1
        )
    ).first()
    if row is not None and row[0] is not None:
        return (int(row[0]), int(row[1])), True
    m = s.metrics
    x = x_column(axis)
    row = conn.execute(
        select(func.min(x), func.max(x)).where(m.c.history_id == history_id_of(run_id, key), m.c.is_nan == false())
    ).first()
    if row is None or row[0] is None:
        return None, False
    return (int(row[0]), int(row[1])), False


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
        extent, tiled = _extent(conn, run_id, key, axis)
        if extent is None:
            return series
        series.extent = list(extent)
        x_lo = extent[0] if lo is None else int(lo // 1)
        x_hi = extent[1] if hi is None else -int(-hi // 1)
        if x_hi < x_lo:  # one bound given, past the history's end (or before its start): no points
            return series
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
        n_tiles, n_points, min_ts, max_ts = 0, 0, None, None
        if tiled:
            stats = conn.execute(
                select(func.count(), func.sum(t.c.n_points), func.min(t.c.min_ts), func.max(t.c.max_ts)).where(
                    *in_range
                )
            ).first()
            n_tiles, n_points, min_ts, max_ts = stats if stats else (0, 0, None, None)
            if not n_tiles:
                return series
        # A short history, or zoomed in far enough: the points themselves (level-0 tiles are 64 steps wide).
        if not tiled or (level == 0 and (n_points or 0) <= max(16 * buckets, 2_000)):
            m = s.metrics
            x = x_column(axis)
            where = [m.c.history_id == history_id_of(run_id, key), m.c.is_nan == false(), x.between(x_lo, x_hi)]
            if tiled:  # lets the index on timestamp narrow the scan
                where.append(m.c.timestamp.between(min_ts, max_ts))
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
