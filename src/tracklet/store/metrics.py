"""Metric points: set-based ingestion, the latest-value table and history reads.

A batch is reduced in Python to one candidate per key, then written with two statements: an upsert
of `latest_metrics` that only replaces a row's point when the new (step, timestamp, value) is larger,
counts the points logged per key (which decides when a history gets chart tiles: `tiles.update` writes
them last, in the same transaction) and gives each history's integer id (a new history gets its id
there); then an INSERT of all points under those ids (exact duplicates ignored by the primary key;
on PostgreSQL a batch of 100 points or more is COPYed in instead, `_insert_points`).
These statements are the hottest path of the server, so they are written as SQL text
(identical on SQLite and PostgreSQL apart from bind markers) and sent straight through the driver.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache, partial
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Protocol

import msgspec
from sqlalchemy import Connection, Engine, select

from tracklet.entities import Metric
from tracklet.errors import InvalidParameterValue
from tracklet.store import schema as s
from tracklet.store import tiles
from tracklet.store._util import chunks, execute_flat, values_sql
from tracklet.store.database import Database
from tracklet.store.dialects import positional
from tracklet.store.histories import in_history
from tracklet.validation import DOUBLE_MAX

_INFINITIES = (math.inf, -math.inf)


class MetricPoint(msgspec.Struct, frozen=True):
    key: str
    value: float
    timestamp: int
    step: int
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


_POINT_COLUMNS = ("history_id", "timestamp", "step", "value", "is_nan")
_POINT_TYPES = ("int8", "int8", "int8", "float8", "bool")
_LATEST_COLUMNS = ("run_uuid", "key", "timestamp", "step", "value", "is_nan", "n_points")
# Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
_ROWS_PER_STATEMENT = 500
# From this many points on PostgreSQL, COPY (`Database.copy_new_rows`); below it, a multi-row INSERT (its
# savepoint makes COPY dearer for 20 points: 0.45 against 0.40 ms; at 100 it wins, 0.64 against 0.95 ms).
_COPY_FROM_POINTS = 100


def _insert_points_sql(engine: Engine, n_rows: int) -> str:
    return f"INSERT INTO metrics {values_sql(engine, _POINT_COLUMNS, n_rows)} ON CONFLICT DO NOTHING"


def _insert_points(conn: Connection, rows: Iterable[tuple], n_rows: int) -> None:  # type: ignore[type-arg]
    """The history rows (history_id, timestamp, step, value, is_nan); exact duplicates of stored points are
    ignored. Big batches on PostgreSQL are copied in, unless one of them is a duplicate (a client's retry)."""
    if n_rows >= _COPY_FROM_POINTS and conn.dialect.name != "sqlite":
        rows = list(rows)
        if Database.copy_new_rows(conn, "metrics", _POINT_COLUMNS, _POINT_TYPES, rows):
            return
    execute_flat(conn, _insert_points_sql, tuple(chain.from_iterable(rows)), len(_POINT_COLUMNS), _ROWS_PER_STATEMENT)


def _newer(column: str) -> str:
    return f"{column} = CASE WHEN {_IS_NEWER} THEN excluded.{column} ELSE latest_metrics.{column} END"


_IS_NEWER = (
    "(excluded.step, excluded.timestamp, excluded.value) > "
    "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
)


def _new_history_id(engine: Engine, i: int) -> str:
    """The id a history gets if the i-th row of an upsert creates it. A history is deleted only with all
    its points and chart tiles (its run purged by `tracklet gc`, or an interrupted import discarded by
    `RunStore.discard_partial_run`), so an id SQLite gives again names nothing stale. PostgreSQL draws
    from a sequence; SQLite has one writer at a time, so one more than the largest id is free (the
    unique index finds it in a seek; the i keeps the rows apart if SQLite computes the subquery once
    per statement)."""
    if engine.dialect.name == "sqlite":
        return f"(SELECT COALESCE(MAX(history_id), 0) FROM latest_metrics) + {i + 1}"
    return "nextval('metric_history_ids')"


@cache
def _upsert_latest_sql(engine: Engine, n_rows: int) -> str:
    mark = positional(engine)
    marks = ", ".join([mark] * len(_LATEST_COLUMNS))
    rows = ", ".join(f"({marks}, {_new_history_id(engine, i)})" for i in range(n_rows))
    # Every row is updated (the count always grows) so that RETURNING gives each key's count and id.
    return (
        f"INSERT INTO latest_metrics ({', '.join(_LATEST_COLUMNS)}, history_id) VALUES {rows} "
        f"ON CONFLICT (run_uuid, key) DO UPDATE SET {_newer('timestamp')}, {_newer('step')}, "
        f"{_newer('value')}, {_newer('is_nan')}, n_points = latest_metrics.n_points + excluded.n_points "
        "RETURNING key, n_points, history_id"
    )


def _upsert_latest(conn: Connection, latest: list[tuple]) -> dict[str, tuple[int, int]]:  # type: ignore[type-arg]
    """Write each key's latest point and count; returns per key the count of points logged so far and
    the history's id."""
    written: dict[str, tuple[int, int]] = {}
    for part in chunks(latest, _ROWS_PER_STATEMENT):
        sql = _upsert_latest_sql(conn.engine, len(part))
        for key, n_points, history_id in Database.run(conn, sql, tuple(chain.from_iterable(part))):
            written[key] = (n_points, history_id)
    return written


class MetricLike(Protocol):
    """What `write_points` reads from a point: `MetricPoint`, or a request's decoded metric as is."""

    key: Any
    value: Any
    timestamp: Any
    step: int
    model_id: str | None
    dataset_name: str | None
    dataset_digest: str | None


def write_points(db: Database, conn: Connection, run_id: str, points: Sequence[MetricLike]) -> None:
    if not points:
        return
    write_columns(
        conn, run_id, [p.key for p in points], [p.value for p in points], [p.timestamp for p in points],
        [p.step for p in points],
    )  # fmt: skip
    model_rows = [
        {
            "model_id": p.model_id,
            "key": p.key,
            "timestamp": p.timestamp,
            "step": p.step,
            "value": value,
            "is_nan": is_nan,
            "run_id": run_id,
            "dataset_name": p.dataset_name or "",
            "dataset_digest": p.dataset_digest or "",
        }
        for p in points
        if p.model_id
        for value, is_nan in [stored_value(p.value)]
    ]
    if model_rows:
        _write_model_metrics(db, conn, model_rows)


def stored_value(value: float) -> tuple[float, bool]:
    """(value, is_nan) as stored: NaN as 0 with the flag, infinities as the largest doubles (MLflow's rule)."""
    if value != value:
        return 0.0, True
    if value in _INFINITIES:
        return (DOUBLE_MAX if value > 0 else -DOUBLE_MAX), False
    return value, False


def write_columns(
    conn: Connection,
    run_id: str,
    keys: Sequence[str],
    values: Sequence[float],
    timestamps: Sequence[int],
    steps: Sequence[int],
) -> None:
    """Write points given as parallel columns (as tracklet's own client sends them: `api/points.py`): the
    history rows, each key's latest point and count, and the chart tiles. A batch is a thousand points or
    more, so the common one (one metric, finite values) goes column by column in C, building no object
    per point; NaN, infinities or several metrics take `_write_mixed`."""
    n = len(keys)
    if not n:
        return
    # No NaN and no infinity (or a sum beyond the doubles: the general path is exact).
    if not (keys.count(keys[0]) == n and math.isfinite(sum(values))):
        _write_mixed(conn, run_id, keys, values, timestamps, steps)
        return
    key = keys[0]
    step, timestamp, value = max(zip(steps, timestamps, values, strict=True))  # the newest: largest (step, ts, value)
    n_after, history_id = _upsert_latest(conn, [(run_id, key, timestamp, step, value, False, n)])[key]
    _insert_points(conn, zip(repeat(history_id, n), timestamps, steps, values, repeat(False, n), strict=True), n)
    tiles.update(conn, run_id, [tiles.Series(key, steps, timestamps, values)], {key: (n_after - n, n_after)})


# the latest point of a key is the one with the largest (step, timestamp, value)
_NEWEST = itemgetter(3, 2, 4)


def _write_mixed(
    conn: Connection,
    run_id: str,
    keys: Sequence[str],
    values: Sequence[float],
    timestamps: Sequence[int],
    steps: Sequence[int],
) -> None:
    """`write_columns` for any batch: a loop per point stores NaN and infinities and picks each key's
    newest point."""
    stored = [stored_value(v) for v in values]
    rows = [
        (run_id, key, timestamp, step, value, is_nan)
        for key, timestamp, step, (value, is_nan) in zip(keys, timestamps, steps, stored, strict=True)
    ]
    latest: dict[str, tuple] = {}  # type: ignore[type-arg]
    for row in rows:
        current = latest.get(row[1])
        if current is None or _NEWEST(row) > _NEWEST(current):
            latest[row[1]] = row
    in_batch = Counter(keys)
    # Two rows for one key in one statement would make PostgreSQL's upsert fail: hence the reduction above.
    # Sorted by key: concurrent batches into one run then lock the rows in the same order (no deadlock).
    written = _upsert_latest(conn, [(*latest[key], in_batch[key]) for key in sorted(latest)])
    points = [(written[key][1], timestamp, step, value, is_nan) for _, key, timestamp, step, value, is_nan in rows]
    _insert_points(conn, points, len(points))
    series = tiles.series_of(keys, timestamps, steps, [v for v, _ in stored], [nan for _, nan in stored])
    tiles.update(conn, run_id, series, {key: (written[key][0] - k, written[key][0]) for key, k in in_batch.items()})


def _write_model_metrics(db: Database, conn: Connection, model_rows: list[dict[str, object]]) -> None:
    """Metrics logged with a model_id are mirrored into the logged model's metrics."""
    known = {
        r[0]
        for r in conn.execute(
            select(s.logged_models.c.model_id).where(
                s.logged_models.c.model_id.in_({r["model_id"] for r in model_rows})
            )
        )
    }
    model_rows = [r for r in model_rows if r["model_id"] in known]
    if model_rows:
        stmt = db.insert(s.logged_model_metrics)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["model_id", "key", "timestamp", "step", "run_id", "dataset_name", "dataset_digest"],
                set_={"value": stmt.excluded.value, "is_nan": stmt.excluded.is_nan},
            ),
            model_rows,
        )


def _encode_history_token(row: tuple[int, int, float, bool]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(row)).encode()).decode()


def _decode_history_token(token: str) -> tuple[int, int, float, bool]:
    try:
        ts, step, value, is_nan = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not all(-(2**63) <= int(n) < 2**63 for n in (ts, step)):
            raise ValueError("outside int64")
        return int(ts), int(step), float(value), bool(is_nan)
    except Exception:
        raise InvalidParameterValue(f"Invalid page token: {token!r}") from None


def read_history(
    conn: Connection, run_id: str, key: str, max_results: int | None, page_token: str | None
) -> tuple[list[Metric], str | None]:
    """All points of one metric ordered by (timestamp, step, value); keyset paging when max_results is given.

    Histories can hold millions of points and the driver's work per row and per column is most of the
    cost, so only three columns are read (NaN comes as NULL: its stored value is always 0) and each row
    becomes a `Metric` straight from the cursor.
    """
    mark = positional(conn.engine)
    # Named, or PostgreSQL would call the CASE column "value" and ORDER BY value would sort by it (NaN last).
    sql = (
        "SELECT CASE WHEN is_nan THEN NULL ELSE value END AS value_or_null, timestamp, step "
        f"FROM metrics WHERE {in_history(mark)}"
    )
    args: list[object] = [run_id, key]
    if page_token:
        sql += f" AND (timestamp, step, value, is_nan) > ({mark}, {mark}, {mark}, {mark})"
        args.extend(_decode_history_token(page_token))
    sql += " ORDER BY timestamp, step, value, is_nan"
    if max_results is not None:
        sql += f" LIMIT {int(max_results) + 1}"
    points = Database.fetch_as(conn, sql, tuple(args), partial(Metric, key))
    for point in points:
        if point.value is None:
            point.value = "NaN"
    token = None
    if max_results is not None and len(points) > max_results:
        del points[max_results:]
        last = points[-1]
        nan = isinstance(last.value, str)
        token = _encode_history_token((last.timestamp, last.step, 0.0 if nan else float(last.value), nan))
    return points, token
