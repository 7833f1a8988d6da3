"""Evenly spaced samples of metric histories: MLflow's `metrics/get-history-bulk-interval`.

MLflow 3.17's SQL store answers it per run with `NTILE(max_results)` over the history's points in
(step, timestamp, value, is_nan) order within [start_step, end_step]: the first point of each bucket,
the last point always kept (it replaces the last pick when there are already `max_results`). Done like
that, a million-point history is a full scan plus a sort: about 4.6 s on SQLite here.

tracklet picks the same positions (`positions`) without reading the history:

- the number of points in range and where each picked position lies come from the step-axis tiles
  (`metric_tiles`, `tracklet.store.tiles`), which count the points of each power-of-two step range;
- each picked point is then one `LIMIT 1 OFFSET o` inside its tile, an index range scan over the
  tile's timestamps (the `metrics` primary key leads with timestamp), many of them per statement.

Tile counts exclude NaN points and count exact duplicates twice (`tiles.py`), so the tiles are used
only when the history's count of logged points (`latest_metrics.n_points`) equals the tiles' total —
no NaN, no duplicates from before the history was tiled. Otherwise (short histories have no tiles,
old ones may wait for a rebuild) the positions are picked by one window query over the range, exact
and as slow as MLflow's. A duplicate logged after tiling shifts the positions of the points after it
by one; the first and last points are still exact, and a pick past its tile's real end is dropped.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

from sqlalchemy import Connection

from tracklet.entities import MetricWithRunId
from tracklet.store.database import Database
from tracklet.store.dialects import positional
from tracklet.store.histories import in_history
from tracklet.store.tiles import LEVELS, shift

# The tile level is chosen by cost: reading a tile row costs about as much as sorting three points
# of a tile for a pick's OFFSET (both measured on SQLite: 1.2 µs and 0.4 µs).
_TILE_COST, _POINT_COST = 3, 1
# A tile holding more points than this (many points per step) makes an OFFSET scan too long: exact path.
_MAX_TILE_POINTS = 16_384
_ORDER = "step, timestamp, value, is_nan"
_ORDER_DESC = "step DESC, timestamp DESC, value DESC, is_nan DESC"

Row = tuple[int, int, float, bool]  # timestamp, step, value, is_nan


def positions(total: int, max_results: int) -> list[int]:
    """Indices MLflow's NTILE sampling keeps among `total` ordered points: the first of each of
    `max_results` buckets (NTILE makes the first `total % max_results` buckets one larger), and the
    last point, which replaces the last pick when the sample is full."""
    if total <= max_results:
        return list(range(total))
    size, larger = divmod(total, max_results)
    picks = [b * size + min(b, larger) for b in range(max_results)]
    picks[-1] = total - 1
    return picks


class _Tile(NamedTuple):
    lo: int  # first step of the tile's part inside the range
    hi: int  # last step of it
    min_ts: int
    max_ts: int
    n: int  # points of the tile (exact count for a part cut by the range's ends)


def sample_history(
    conn: Connection, run_id: str, key: str, max_results: int, start_step: int | None, end_step: int | None
) -> list[MetricWithRunId]:
    """One run's evenly spaced sample of `key`, in (step, timestamp, value) order."""
    mark = positional(conn.engine)
    rows = _sample_from_tiles(conn, mark, run_id, key, max_results, start_step, end_step)
    if rows is None:
        rows = _sample_exactly(conn, mark, run_id, key, max_results, start_step, end_step)
    return [
        MetricWithRunId(key=key, value="NaN" if is_nan else value, timestamp=ts, step=step, run_id=run_id)
        for ts, step, value, is_nan in rows
    ]


def _range_sql(mark: str, start_step: int | None, end_step: int | None) -> tuple[str, list[object]]:
    if start_step is None or end_step is None:
        return "", []
    return f" AND step >= {mark} AND step <= {mark}", [start_step, end_step]


def _sample_exactly(
    conn: Connection, mark: str, run_id: str, key: str, max_results: int, start_step: int | None, end_step: int | None
) -> list[Row]:
    """The positions counted and picked over the points themselves: one count, one window query."""
    in_range, range_args = _range_sql(mark, start_step, end_step)
    where = f"{in_history(mark)}{in_range}"
    args = (run_id, key, *range_args)
    (total,) = Database.fetch_all(conn, f"SELECT COUNT(*) FROM metrics WHERE {where}", args)[0]
    picks = positions(int(total), max_results)
    if not picks:
        return []
    if len(picks) == total:
        sql = f"SELECT timestamp, step, value, is_nan FROM metrics WHERE {where} ORDER BY {_ORDER}"
        return Database.fetch_all(conn, sql, args)
    wanted = ", ".join(str(int(p)) for p in picks)
    sql = (
        "SELECT timestamp, step, value, is_nan FROM ("
        f"SELECT timestamp, step, value, is_nan, ROW_NUMBER() OVER (ORDER BY {_ORDER}) - 1 AS i "
        f"FROM metrics WHERE {where}) AS numbered WHERE i IN ({wanted}) ORDER BY i"
    )
    return Database.fetch_all(conn, sql, args)


def _sample_from_tiles(
    conn: Connection, mark: str, run_id: str, key: str, max_results: int, start_step: int | None, end_step: int | None
) -> list[Row] | None:
    """The sample found through the step-axis tiles; None when they cannot be trusted for this history."""
    coarsest = LEVELS[0] - 1
    head = Database.fetch_all(
        conn,
        "SELECT l.n_points, MIN(t.first_x), MAX(t.last_x), SUM(t.n_points), l.history_id FROM latest_metrics l "
        "JOIN metric_tiles t ON t.run_uuid = l.run_uuid AND t.key = l.key AND t.axis = 0 "
        f"AND t.level = {coarsest} WHERE l.run_uuid = {mark} AND l.key = {mark} GROUP BY l.n_points, l.history_id",
        (run_id, key),
    )
    if not head:
        return None  # no points, or no tiles (a short history): the exact path is cheap or empty
    logged, first, last, tiled, history_id = head[0]
    if int(logged) != int(tiled) or int(logged) <= max_results:
        return None
    lo = first if start_step is None else max(first, start_step)
    hi = last if end_step is None else min(last, end_step)
    if lo > hi:
        return []
    in_range = int(logged) if start_step is None else max(1, int(logged) * (hi - lo + 1) // (last - first + 1))

    def cost(level: int) -> float:
        n_tiles = min((hi >> shift(0, level)) - (lo >> shift(0, level)) + 1, in_range)
        return n_tiles * _TILE_COST + min(max_results, in_range) * in_range / n_tiles * _POINT_COST

    level = min(range(LEVELS[0]), key=cost)
    sh = shift(0, level)
    stored = Database.fetch_all(
        conn,
        "SELECT bucket, min_ts, max_ts, n_points FROM metric_tiles "
        f"WHERE run_uuid = {mark} AND key = {mark} AND axis = 0 AND level = {level} "
        f"AND bucket >= {lo >> sh} AND bucket <= {hi >> sh} ORDER BY bucket",
        (run_id, key),
    )
    tiles = []
    for bucket, min_ts, max_ts, n in stored:
        part_lo, part_hi = max(bucket << sh, lo), min(((bucket + 1) << sh) - 1, hi)
        if (part_lo, part_hi) != (bucket << sh, ((bucket + 1) << sh) - 1):  # cut by the range: count it
            n = _count(conn, history_id, part_lo, part_hi, min_ts, max_ts)
        if n:
            tiles.append(_Tile(part_lo, part_hi, min_ts, max_ts, int(n)))
    if any(t.n > _MAX_TILE_POINTS for t in tiles):
        return None
    ends = list(accumulate(t.n for t in tiles))  # points up to and including each tile
    if not ends:
        return []
    picks = positions(ends[-1], max_results)
    located = []
    for p in picks:
        i = bisect_right(ends, p)
        located.append((tiles[i], p - (ends[i - 1] if i else 0)))
    # The last point is read from the end of its tile, so a count that is off cannot lose it.
    last_tile = located[-1][0]
    located[-1] = (last_tile, -1)
    return _fetch_picks(conn, history_id, located)


# PostgreSQL: every pick at once, one index range scan each (`_pick_sql` with the tile's bounds as columns).
_LATERAL_PICKS_SQL = (
    "SELECT v.j, p.timestamp, p.step, p.value, p.is_nan FROM unnest(%s::int8[], %s::int8[], %s::int8[], "
    "%s::int8[], %s::int8[], %s::int8[]) AS v(j, min_ts, max_ts, lo, hi, skip) CROSS JOIN LATERAL ("
    "SELECT timestamp, step, value, is_nan FROM metrics WHERE history_id = %s AND timestamp >= v.min_ts "
    f"AND timestamp <= v.max_ts AND step >= v.lo AND step <= v.hi ORDER BY {_ORDER} LIMIT 1 OFFSET v.skip) AS p"
)


def _tile_where(history_id: int, tile: _Tile) -> str:
    # The history's id inline: a statement per pick, and the id looked up once (in `_sample_from_tiles`).
    return (
        f"history_id = {int(history_id)} AND timestamp >= {int(tile.min_ts)} AND timestamp <= {int(tile.max_ts)} "
        f"AND step >= {int(tile.lo)} AND step <= {int(tile.hi)}"
    )


def _count(conn: Connection, history_id: int, lo: int, hi: int, min_ts: int, max_ts: int) -> int:
    where = _tile_where(history_id, _Tile(lo, hi, min_ts, max_ts, 0))
    return int(Database.fetch_all(conn, f"SELECT COUNT(*) FROM metrics WHERE {where}", ())[0][0])


def _pick_sql(history_id: int, j: int, tile: _Tile, offset: int) -> str:
    order, skip = (_ORDER_DESC, 0) if offset < 0 else (_ORDER, offset)
    return (
        f"SELECT {j} AS j, timestamp, step, value, is_nan FROM metrics "
        f"WHERE {_tile_where(history_id, tile)} ORDER BY {order} LIMIT 1 OFFSET {int(skip)}"
    )


def _fetch_picks(conn: Connection, history_id: int, located: Sequence[tuple[_Tile, int]]) -> list[Row]:
    """The point at each (tile, offset) (offset -1: the tile's last point). SQLite runs in-process, so
    one statement per pick is cheapest (a UNION ALL of them is 3x slower); PostgreSQL gets one statement
    of a fixed text, the picks as arrays joined laterally (a UNION ALL of 320 picks took 0.2 s to plan)."""
    found: list[tuple] = []  # type: ignore[type-arg]
    if conn.engine.dialect.name == "sqlite":
        cursor = conn.connection.cursor()
        try:
            for j, (tile, offset) in enumerate(located):
                found.extend(cursor.execute(_pick_sql(history_id, j, tile, offset)).fetchall())
        finally:
            cursor.close()
    else:
        forward = [(j, tile, offset) for j, (tile, offset) in enumerate(located) if offset >= 0]
        columns = [
            [j for j, _, _ in forward],
            [tile.min_ts for _, tile, _ in forward],
            [tile.max_ts for _, tile, _ in forward],
            [tile.lo for _, tile, _ in forward],
            [tile.hi for _, tile, _ in forward],
            [offset for _, _, offset in forward],
        ]
        found.extend(Database.fetch_all(conn, _LATERAL_PICKS_SQL, (*columns, history_id)))
        for j, (tile, offset) in enumerate(located):
            if offset < 0:
                found.extend(Database.fetch_all(conn, _pick_sql(history_id, j, tile, offset), ()))
    rows: list[Row] = [tuple(r[1:]) for r in sorted(found)]  # type: ignore[misc]
    # An offset past a tile's real end (a duplicate counted twice) finds nothing, or the point another
    # pick found: the sample stays in order, without repeats.
    return [row for i, row in enumerate(rows) if i == 0 or row != rows[i - 1]]
