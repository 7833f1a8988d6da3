"""Small helpers shared by the store modules."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import cache
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select

from tracklet.entities import KeyValue
from tracklet.store import search
from tracklet.store.database import Database
from tracklet.store.dialects import positional

T = TypeVar("T")

LOAD_CHUNK = 5000  # ids per IN (...) of a bulk read: under SQLite's and PostgreSQL's bind-parameter limits


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def time_ordered_id() -> str:
    """A new id: a UUID of version 7 (RFC 9562) as 32 hex digits, the creation time in ms first, then 74
    random bits. Runs' children (params, tags, metrics, ...) are keyed by run id first, so with ids in
    creation order a new run's rows append at the end of their B-trees instead of landing on random
    pages: creating runs costs about half the CPU at 10,000 runs (SQLite). Clients treat ids as opaque."""
    ms = now_ms()
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & (2**62 - 1)
    return f"{value:032x}"


def group_key_values(rows: Iterable[Any], owner: str = "run_uuid") -> dict[Any, list[KeyValue]]:
    grouped: dict[Any, list[KeyValue]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, owner)].append(KeyValue(key=row.key, value=row.value))
    return grouped


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@cache
def values_sql(engine: Engine, columns: tuple[str, ...], n_rows: int) -> str:
    """`(a, b) VALUES (?, ?), (?, ?)…` for n rows, in this driver's bind style."""
    mark = positional(engine)
    row = "(" + ", ".join([mark] * len(columns)) + ")"
    return f"({', '.join(columns)}) VALUES " + ", ".join([row] * n_rows)


@cache
def _insert_sql(engine: Engine, table: str, columns: tuple[str, ...], n_rows: int, tail: str) -> str:
    return f"INSERT INTO {table} {values_sql(engine, columns, n_rows)} {tail}"


def insert_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], tail: str = ""
) -> list[tuple[Any, ...]]:
    """Small hot-path inserts (a run's tags, a batch's params): one multi-row statement per 500 rows, not
    the driver's executemany (a statement per row on SQLite, a pipeline with its own sync on PostgreSQL).
    `tail` follows the VALUES (`ON CONFLICT …`, `RETURNING …`); the rows it returns are returned."""
    return execute_rows(conn, lambda engine, n: _insert_sql(engine, table, columns, n, tail), rows, 500)


def execute_flat(
    conn: Connection, make_sql: Callable[[Any, int], str], values: tuple[Any, ...], width: int, per_statement: int
) -> list[tuple[Any, ...]]:
    """Hot-path writes: rows given flat (`width` values a row, no tuple built per row) as multi-row
    statements of at most `per_statement` rows, `make_sql(engine, n_rows)` giving the SQL text for n
    rows, the values bound positionally through the driver. Returns the rows the statements return."""
    step = width * per_statement
    returned: list[tuple[Any, ...]] = []
    for start in range(0, len(values), step):
        part = values[start : start + step]
        returned += Database.run(conn, make_sql(conn.engine, len(part) // width), part)
    return returned


def execute_rows(
    conn: Connection, make_sql: Callable[[Any, int], str], rows: list[tuple[Any, ...]], per_statement: int
) -> list[tuple[Any, ...]]:
    """`execute_flat` for rows given as tuples (all of one width)."""
    if not rows:
        return []
    return execute_flat(conn, make_sql, tuple(chain.from_iterable(rows)), len(rows[0]), per_statement)


def read_page(
    db: Database,
    select_ids: Callable[[int, int], Select[Any]],
    load: Callable[[Connection, list[Any]], list[T]],
    max_results: int,
    page_token: str | None,
) -> tuple[list[T], str | None]:
    """One page of a search: `select_ids(limit, offset)` picks the ids in order, `load` reads whole
    entities for them; one row more than the page tells whether a next page exists."""
    offset = search.decode_page_token(page_token)
    with db.read() as conn:
        ids = [row[0] for row in conn.execute(select_ids(max_results + 1, offset))]
        items = load(conn, ids[:max_results])
    token = search.encode_page_token(offset + max_results) if len(ids) > max_results else None
    return items, token
