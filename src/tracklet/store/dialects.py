"""Everything that differs between SQLite and PostgreSQL lives here.

- URLs: `postgresql://` is mapped to the psycopg 3 driver.
- SQLite: WAL mode, foreign keys, a long busy timeout, and write transactions opened with
  `BEGIN IMMEDIATE` so that a writer waits for the lock up front instead of failing mid-transaction.
- SQLite has no regular expressions of its own: `REGEXP` is Python's `re.search`.
- Upserts: both dialects offer `INSERT … ON CONFLICT`, through their own `insert` constructs.
- Hot-path statements and bulk reads: psycopg's raw cursors (PostgreSQL's own `$1` markers, results in
  binary).
- Trace metrics: percentiles (PostgreSQL's `percentile_cont`; on SQLite an aggregate of ours, the same
  linear interpolation) and numbers read from JSON text (SQLite's JSON functions; on PostgreSQL a pattern,
  as a cast of text that is not JSON would fail the whole query).
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Float,
    Text,
    and_,
    case,
    cast,
    create_engine,
    event,
    func,
    literal,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.elements import ColumnElement

from tracklet.errors import InvalidParameterValue

WRITE_OPTION = "tracklet_write"
# Connections per server process: 8 kept open, up to 10 more while many store threads read at once.
_POOL_SIZE, _MAX_OVERFLOW = 8, 10


def engine_for(uri: str) -> Engine:
    url = make_url(uri)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(uri)
    if backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
        engine = create_engine(url, pool_size=_POOL_SIZE, max_overflow=_MAX_OVERFLOW)
        _ping_when_idle(engine)
        return engine
    raise InvalidParameterValue(f"Unsupported backend store URI {uri!r}: use sqlite:///… or postgresql://…")


# A pooled PostgreSQL connection unused for this long is pinged before use (a database restart or an idle
# timeout may have closed it); a busy one is not: a ping per request was a tenth of a run's creation.
_PING_IDLE_AFTER_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, only for connections that sat idle: a dead one is replaced at checkout
    (raising `DisconnectionError` there makes the pool connect afresh). A connection that dies while in
    use fails its request, and SQLAlchemy then recycles every older connection of the pool."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", math.inf) < _PING_IDLE_AFTER_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as err:
            raise DisconnectionError("a pooled connection was closed by the database") from err


# Upserts with RETURNING (the points counted per history) and row values need SQLite 3.35 (2021).
MIN_SQLITE = (3, 35)


def connects_without_waiting(engine: Engine) -> bool:
    """Whether a connection taken from the engine's pool now would be ready at once (pooled and idle, or
    a new one within the pool's limit) rather than wait for another thread to give one back."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):  # SQLite in memory: one connection per thread
        return True
    return pool.checkedin() > 0 or pool.checkedout() < pool.size() + _MAX_OVERFLOW


def _sqlite_engine(uri: str) -> Engine:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise InvalidParameterValue(
            f"tracklet needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this Python links "
            f"SQLite {sqlite3.sqlite_version}"
        )
    url = make_url(uri)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 120},
        pool_size=_POOL_SIZE,
        max_overflow=_MAX_OVERFLOW,
        pool_use_lifo=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=120000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()
        dbapi_connection.create_function("regexp", 2, _regexp, deterministic=True)
        dbapi_connection.create_aggregate(_SQLITE_PERCENTILE, 2, _Percentile)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _regexp(pattern: str, value: str | None) -> bool:
    """SQLite's `x REGEXP pattern` (span filters' RLIKE), which SQLite leaves to the application."""
    return value is not None and re.search(pattern, value) is not None


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def positional(engine: Engine) -> str:
    """The driver's positional bind marker, for hand-written hot-path SQL."""
    return "?" if engine.dialect.name == "sqlite" else "%s"


def driver_cursor(conn: Connection) -> Any:
    """The driver's own cursor, for hot-path statements and reads of many rows (their SQL goes through
    `driver_sql`). On PostgreSQL a raw cursor receiving results in binary: parsing numbers from text was half
    of psycopg's work on a metric history, and a regular cursor parses the query's text for `%s` markers in
    Python, caching the result only up to 50 markers: a 500-row INSERT cost more to parse than to run."""
    if conn.dialect.name == "sqlite":
        return conn.connection.cursor()
    import psycopg

    cursor = psycopg.RawCursor(conn.connection.dbapi_connection)  # type: ignore[call-overload]
    cursor.format = psycopg.pq.Format.BINARY
    return cursor


def driver_sql(conn: Connection, sql: str) -> str:
    """Hand-written SQL with `positional` markers, as `driver_cursor` takes it."""
    if conn.dialect.name == "sqlite" or "%s" not in sql:
        return sql
    return _numbered_markers(sql)


@lru_cache(maxsize=1024)
def _numbered_markers(sql: str) -> str:
    """`%s` markers numbered `$1, $2, …` (no hand-written SQL holds a literal `%`)."""
    first, *rest = sql.split("%s")
    return first + "".join(f"${i}{part}" for i, part in enumerate(rest, 1))


def insert(engine: Engine, table: Any) -> Any:
    """An INSERT that supports `.on_conflict_do_nothing()` / `.on_conflict_do_update()` on this dialect."""
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def rows_of_runs(engine: Engine, table: str, columns: str, run_ids: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    """SELECT of `columns` from the rows of `table` that belong to these runs, and its arguments: how a page
    of runs reads its children.

    On PostgreSQL the ids go as one value (`_UNNEST_IDS`), each probing the table's (run_uuid, …) primary
    key: given an IN list of 1,000 ids, or a join with them, it estimates them as a share of the table and
    reads all of it once that share passes a few percent (params of a 1,000-run page in a database of 20,000
    runs: 22 ms scanned, 10 ms probed), a cost that grows with the database, not with the page. `OFFSET 0`
    keeps the per-id subquery from being flattened into such a join."""
    if engine.dialect.name == "sqlite":
        return f"SELECT {columns} FROM {table} WHERE run_uuid IN ({', '.join('?' * len(run_ids))})", tuple(run_ids)
    one_run = f"SELECT {columns} FROM {table} WHERE {table}.run_uuid = ids.id OFFSET 0"
    return f"SELECT found.* FROM {_UNNEST_IDS} CROSS JOIN LATERAL ({one_run}) AS found", (",".join(run_ids),)


# The ids of `rows_of_runs` go as one comma-separated string: psycopg dumps a list of 1,000 strings as an
# array in Python (2.7 ms; the string 0.3 ms), and a page reads six tables. Run ids are `[\w-]` (checked
# at the API); one holding a comma would read as the ids it separates, rows callers never match by id.
_UNNEST_IDS = "unnest(string_to_array(%s, ',')) AS ids(id)"


def json_key_values(engine: Engine, table: str, run_ids: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    """SELECT of `run_uuid` and a JSON array `[{"key": …, "value": …}, …]` per run of `table` (NULL or no row
    for a run with none), as text, and its arguments: building JSON in the database spares a Python object
    per row."""
    if engine.dialect.name == "sqlite":
        array = "json_group_array(json_object('key', key, 'value', value))"
        sql, args = rows_of_runs(engine, table, f"run_uuid, {array}", run_ids)
        return f"{sql} GROUP BY run_uuid", args
    # Spliced from `to_json` strings (which escape them): a quarter cheaper than json_agg(json_build_object(…)),
    # and compact (json_agg writes `"key" : "v"`). One aggregate per run id, found through the primary key, which
    # also spares sorting 10,000 rows by run id for a GROUP BY (see `rows_of_runs`).
    pair = """'{"key":' || to_json(key)::text || ',"value":' || to_json(value)::text || '}'"""
    array = f"'[' || string_agg({pair}, ',') || ']'"
    one_run = f"SELECT {array} FROM {table} WHERE {table}.run_uuid = ids.id"
    return f"SELECT id, ({one_run}) FROM {_UNNEST_IDS}", (",".join(run_ids),)


# -- trace metrics ---------------------------------------------------------------------------------

_SQLITE_PERCENTILE = "tracklet_percentile"
_PG_NUMBER = r"^-?[0-9]{1,19}(\.[0-9]{1,18})?$"  # no exponent; a span's end in ns has 19 digits


class _Percentile:
    """SQLite's `tracklet_percentile(value, percent)`: PostgreSQL's `percentile_cont(percent / 100)`, the
    linear interpolation between the two closest ranks (numpy's default, and what MLflow computes)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.percent: float | None = None

    def step(self, value: Any, percent: Any) -> None:
        if value is not None:
            self.values.append(float(value))
        if self.percent is None and percent is not None:
            self.percent = float(percent)

    def finalize(self) -> float | None:
        if not self.values or self.percent is None:
            return None
        ordered = sorted(self.values)
        position = self.percent / 100 * (len(ordered) - 1)
        below = int(position)
        above = min(below + 1, len(ordered) - 1)
        return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def percentile(engine: Engine, column: ColumnElement[Any], percent: float) -> ColumnElement[Any]:
    """The aggregate: the `percent`th percentile (0 to 100) of the group's values, interpolated."""
    if is_sqlite(engine):
        return getattr(func, _SQLITE_PERCENTILE)(column, literal(percent, Float()))
    return func.percentile_cont(literal(percent / 100, Float())).within_group(column)


def json_number(engine: Engine, text: ColumnElement[Any], key: str) -> ColumnElement[Any]:
    """The number under `key` of a JSON object kept as text (NULL where the text is not JSON, or the key
    holds no number). On PostgreSQL what follows the first `"key":` up to a comma or brace, if it reads as
    a number: the key is a top-level one, written by `json.dumps`, in every text this reads (token usage,
    a span's times, a cost); as fast as a cast to JSONB, which would fail the query on text that is not
    JSON, and five times faster than a regular expression over the text."""
    if is_sqlite(engine):
        path = literal(f"$.{key}")
        numeric = func.json_type(text, path).in_(("integer", "real"))
        return case((func.json_valid(text) == 1, case((numeric, func.json_extract(text, path)))))
    after = func.split_part(text, literal(f'"{key}":'), 2)
    found = func.btrim(func.split_part(func.split_part(after, ",", 1), "}", 1), literal(" \t\r\n"))
    return case((found.op("~")(literal(_PG_NUMBER)), cast(found, postgresql.NUMERIC)))


def json_type_at(engine: Engine, document: ColumnElement[Any], path: Sequence[str]) -> ColumnElement[Any]:
    """The JSON type at `path` in JSON text tracklet wrote (always valid): boolean, number, string, object,
    array or null, as PostgreSQL names them (NULL where nothing is there)."""
    if is_sqlite(engine):
        kind = func.json_type(document, literal("$." + ".".join(path)))
        return case(
            (kind.in_(("true", "false")), "boolean"),
            (kind.in_(("integer", "real")), "number"),
            (kind == "text", "string"),
            else_=kind,
        )
    return func.jsonb_typeof(type_coerce(cast(document, postgresql.JSONB), postgresql.JSONB)[list(path)])


def json_text_at(engine: Engine, document: ColumnElement[Any], path: Sequence[str]) -> ColumnElement[Any]:
    """The JSON at `path` in JSON text tracklet wrote, as JSON text: a string with its quotes (`"yes"`),
    `true`, `0.5`, an object."""
    if is_sqlite(engine):
        where = literal("$." + ".".join(path))
        value = func.json_extract(document, where)
        kind = func.json_type(document, where)
        return case(
            (kind == "text", func.json_quote(value)),
            (kind.in_(("true", "false", "null")), kind),
            else_=cast(value, Text()),
        )
    found = type_coerce(cast(document, postgresql.JSONB), postgresql.JSONB)[list(path)]
    return cast(found, Text())


def floor_division(engine: Engine, numerator: ColumnElement[Any], denominator: int) -> ColumnElement[Any]:
    """`numerator` divided by a positive integer, rounded down (time buckets, ns to ms); `numerator` may be
    an integer or, read from JSON, a number of any kind."""
    if is_sqlite(engine):  # CAST cuts toward zero: one less for a negative quotient that was cut
        cut = cast(numerator.self_group().op("/")(literal(denominator)), BigInteger())  # grouped: all of `a - b`
        return cut - case((and_(numerator < 0, cut * denominator != numerator), 1), else_=0)
    # As NUMERIC: PostgreSQL's integer division cuts toward zero too.
    return cast(func.floor(cast(numerator, postgresql.NUMERIC).op("/")(literal(denominator))), BigInteger())
