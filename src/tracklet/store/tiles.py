"""Metric tiles: per-pixel summaries of metric histories, kept up to date as points are written.

A tile covers a power-of-two range of x (the step, or the timestamp in ms) of one (run, metric, axis)
at one level, each level 8 times coarser than the one below, and keeps what a chart needs to never
lose a spike: min, max and the last value. The web UI's charts read them (`server/ui/history.py`).

Every level is maintained on ingestion, inside the transaction that writes the points: the batch is
folded in Python into its own tiles (a 1,000-step batch makes about 35) and merged into the stored
ones with one upsert. So every committed point is in the tiles, whenever it was logged and whatever
its step or timestamp, and a chart of a million points reads tiles that are already there.
Short histories (at most `TILED_AFTER` points, counted in `latest_metrics.n_points`) have no tiles:
a chart reads their points, and a run's one-point metrics cost no tile writes. The batch that makes
a history long builds its tiles from its points. Histories logged before tiles were kept this way
are listed in `metric_tile_rebuilds`; their first read builds their tiles (`server/ui/history.py`).

Exact duplicates (ignored by `metrics`) are counted twice in `n_points`, which only decides when a
zoomed-in chart reads raw points instead of tiles; min, max and last are exact.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from functools import cache
from itertools import groupby
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
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

from tracklet.store import schema as s
from tracklet.store._util import execute_rows
from tracklet.store.dialects import positional
from tracklet.store.histories import history_id_of

AXES = {"step": 0, "time": 1}
BASE_SHIFT = {0: 6, 1: 10}  # level-0 tiles span 64 steps, or 1,024 ms
LEVELS = {0: 7, 1: 10}  # coarsest: 2^24 steps, 2^37 ms (4.4 years)
FANOUT_SHIFT = 3  # each level is 8 times coarser: a chart folds at most 8 tiles per pixel
# A history gets tiles once it holds more points than this; charts read shorter ones point by point.
TILED_AFTER = 1_000

TILE_COLUMNS = (
    "run_uuid", "key", "axis", "level", "bucket", "first_x", "last_x", "last_value",
    "min_value", "max_value", "min_ts", "max_ts", "n_points",
)  # fmt: skip
_ROWS_PER_STATEMENT = 400  # 13 binds a row: under SQLite's and PostgreSQL's bind-parameter limits

# (run_uuid, key, axis, level, bucket, first_x, last_x, last_value, min, max, min_ts, max_ts, n_points)
Tile = tuple[str, str, int, int, int, int, int, float, float, float, int, int, int]


def shift(axis: int, level: int) -> int:
    return BASE_SHIFT[axis] + FANOUT_SHIFT * level


def _is_sorted(xs: Sequence[int]) -> bool:
    # Sorting an already sorted list is one pass in C (timsort finds the single run): 4 times faster
    # than comparing neighbours through map().
    xs = list(xs)
    return xs == sorted(xs)


def _level0(run_id: str, key: str, axis: int, xs: Sequence[int], ts: Sequence[int],
            values: Sequence[float], ts_sorted: bool) -> list[Tile]:  # fmt: skip
    """The level-0 tiles of one metric's points on one axis (per-point work in C: this runs per batch).
    ts_sorted: whether the timestamps are in order (usual: time goes on with the steps)."""
    if not (ts_sorted if xs is ts else _is_sorted(xs)):  # rarely: a batch logged out of order
        order = sorted(range(len(xs)), key=xs.__getitem__)
        xs, ts, values = [xs[i] for i in order], [ts[i] for i in order], [values[i] for i in order]
        ts_sorted = xs is ts or _is_sorted(ts)
    sh = BASE_SHIFT[axis]
    tiles: list[Tile] = []
    start, n = 0, len(xs)
    while start < n:
        bucket = xs[start] >> sh
        end = bisect_left(xs, (bucket + 1) << sh, start)
        v = values[start:end]
        if ts_sorted:
            min_ts, max_ts = ts[start], ts[end - 1]
        else:
            t = ts[start:end]
            min_ts, max_ts = min(t), max(t)
        # the last value is the point with the largest x (among equal x, the later one in the batch)
        tiles.append((run_id, key, axis, 0, bucket, xs[start], xs[end - 1], values[end - 1],
                      min(v), max(v), min_ts, max_ts, end - start))  # fmt: skip
        start = end
    return tiles


def _merged(tiles: Sequence[Tile], level: int, bucket: int) -> Tile:
    """One tile of `level` summarising these tiles of the level below (in bucket order)."""
    first, last = tiles[0], tiles[-1]
    if len(tiles) == 1:
        return (*last[:3], level, bucket, *last[5:])  # type: ignore[return-value]
    _, _, _, _, _, _, _, _, mins, maxs, min_ts, max_ts, counts = zip(*tiles, strict=True)
    return (last[0], last[1], last[2], level, bucket, first[5], last[6], last[7],
            min(mins), max(maxs), min(min_ts), max(max_ts), sum(counts))  # fmt: skip


def _all_levels(run_id: str, key: str, axis: int, xs: Sequence[int], ts: Sequence[int],
                values: Sequence[float], ts_sorted: bool) -> list[Tile]:  # fmt: skip
    level = _level0(run_id, key, axis, xs, ts, values, ts_sorted)
    tiles = list(level)
    for n in range(1, LEVELS[axis]):
        if level[0][4] >> FANOUT_SHIFT == level[-1][4] >> FANOUT_SHIFT:
            # The batch fits in one tile from here up (the usual case above level 1): fold it once.
            whole = _merged(level, n, level[0][4] >> FANOUT_SHIFT)
            tiles += [(*whole[:3], k, whole[4] >> (FANOUT_SHIFT * (k - n)), *whole[5:]) for k in range(n, LEVELS[axis])]  # type: ignore[misc]
            break
        level = [
            _merged(list(group), n, bucket)
            for bucket, group in groupby(level, key=lambda tile: tile[4] >> FANOUT_SHIFT)
        ]
        tiles += level
    return tiles


class Series(NamedTuple):
    """One metric's points of a batch, as columns in batch order (NaN left out: it is not charted)."""

    key: str
    steps: Sequence[int]
    stamps: Sequence[int]
    values: Sequence[float]


def series_of(keys: Sequence[str], stamps: Sequence[int], steps: Sequence[int], values: Sequence[float],
              nans: Sequence[bool]) -> list[Series]:  # fmt: skip
    """A batch's columns split by metric, in key order (concurrent writers then lock tile rows in one
    order), NaN points dropped, batch order kept within a metric."""
    keep = [i for i, nan in enumerate(nans) if not nan]
    keep.sort(key=keys.__getitem__)  # stable: batch order within a metric
    return [
        Series(key, [steps[i] for i in idx], [stamps[i] for i in idx], [values[i] for i in idx])
        for key, group in groupby(keep, key=keys.__getitem__)
        if (idx := list(group))
    ]


def batch_tiles(run_id: str, series: Sequence[Series]) -> list[Tile]:
    """Tiles of every level of a batch, metric by metric (the per-point work stays in C)."""
    tiles: list[Tile] = []
    for key, steps, stamps, values in series:
        stamps_sorted = _is_sorted(stamps)
        tiles += _all_levels(run_id, key, 0, steps, stamps, values, stamps_sorted)
        tiles += _all_levels(run_id, key, 1, stamps, stamps, values, stamps_sorted)
    return tiles


def _smaller(column: str) -> str:
    return f"{column} = CASE WHEN excluded.{column} < metric_tiles.{column} THEN excluded.{column} ELSE metric_tiles.{column} END"


def _larger(column: str) -> str:
    return f"{column} = CASE WHEN excluded.{column} > metric_tiles.{column} THEN excluded.{column} ELSE metric_tiles.{column} END"


@cache
def _merge_tiles_sql(engine: Engine, n_rows: int) -> str:
    mark = positional(engine)
    row = "(" + ", ".join([mark] * len(TILE_COLUMNS)) + ")"
    # All right-hand sides read the stored row as it was before the update (SQL's rule, both databases).
    merge = ", ".join(
        [
            _smaller("first_x"),
            "last_value = CASE WHEN excluded.last_x >= metric_tiles.last_x "
            "THEN excluded.last_value ELSE metric_tiles.last_value END",
            _larger("last_x"),
            _smaller("min_value"),
            _larger("max_value"),
            _smaller("min_ts"),
            _larger("max_ts"),
            "n_points = metric_tiles.n_points + excluded.n_points",
        ]
    )
    return (
        f"INSERT INTO metric_tiles ({', '.join(TILE_COLUMNS)}) VALUES {', '.join([row] * n_rows)} "
        f"ON CONFLICT (run_uuid, key, axis, level, bucket) DO UPDATE SET {merge}"
    )


def update(conn: Connection, run_id: str, series: Sequence[Series], counts: dict[str, tuple[int, int]]) -> None:
    """Bring the tiles up to date with a batch of just-written points, in the caller's transaction.

    counts: per metric of the batch, the number of points logged to it before and after the batch.
    """
    merge = [one for one in series if counts[one.key][0] > TILED_AFTER]
    if merge:
        execute_rows(conn, _merge_tiles_sql, batch_tiles(run_id, merge), _ROWS_PER_STATEMENT)
    for key in sorted(key for key, (before, after) in counts.items() if before <= TILED_AFTER < after):
        build_from_points(conn, run_id, key)  # long enough now: its first tiles, this batch included


# ---------------------------------------------------------------------------------------------
# Building from the points: histories that just grew long, or were logged before tiles were kept


def _shr(expr: Any, bits: int) -> Any:
    """`expr >> bits`, the shift inlined: PostgreSQL has `bigint >> integer` but no `bigint >> bigint`."""
    return expr.op(">>")(literal_column(str(int(bits))))


def _lit(value: Any, type_: Any) -> Any:
    # Typed binds: PostgreSQL cannot infer the type of a bare parameter in an INSERT … SELECT list.
    return cast(literal(value, type_), type_)


def x_column(axis: int) -> Any:
    return s.metrics.c.timestamp if axis else s.metrics.c.step


def _tiles_from_points(run_id: str, key: str, axis: int) -> Select[Any]:
    """Level-0 tiles of every point of a history."""
    m = s.metrics
    x = x_column(axis)
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
        .where(m.c.history_id == history_id_of(run_id, key), m.c.is_nan == false())
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
    last = last.where(p.c.history_id == history_id_of(run_id, key), p.c.is_nan == false()).limit(1)
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


def build_from_points(conn: Connection, run_id: str, key: str) -> None:
    """Every tile of one history, from its points (both axes), replacing any it had."""
    t = s.metric_tiles
    conn.execute(t.delete().where(t.c.run_uuid == run_id, t.c.key == key))
    for axis in AXES.values():
        conn.execute(t.insert().from_select(TILE_COLUMNS, _tiles_from_points(run_id, key, axis)))
        for level in range(1, LEVELS[axis]):
            conn.execute(t.insert().from_select(TILE_COLUMNS, _tiles_from_level_below(run_id, key, axis, level)))
