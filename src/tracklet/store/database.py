"""Connections and transactions.

All writes of one process go through `Database.write()`, which holds a lock for the whole
transaction: on SQLite there is only one writer at a time anyway, and queuing writers in the process
(instead of letting them race for the file lock) is what keeps "database is locked" away. Several
server processes on one SQLite file still serialize on `BEGIN IMMEDIATE` with a long busy timeout.
Since the lock admits one writer, SQLite writes share one long-lived connection: no pool checkout per
write, and its page cache stays warm (small writes are a hot path: every `log_metric` is one).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import starmap
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError

from tracklet.errors import InvalidParameterValue
from tracklet.store import dialects

T = TypeVar("T")
_CHUNK_ROWS = 2000


class AlreadyRunning(Exception):
    """Another process runs the same maintenance task on this store (`Database.one_at_a_time`)."""


@contextmanager
def _bad_values_are_client_errors() -> Iterator[None]:
    """Values the database cannot hold (NUL characters on PostgreSQL, integers beyond int64) come from the
    request: answer 400, never 500 (clients retry 5xx for minutes)."""
    try:
        yield
    except DataError as err:
        reason = str(err.orig).splitlines()[0] if err.orig is not None else "value out of range"
        raise InvalidParameterValue(f"Invalid value in request: {reason}") from None
    except OverflowError:
        raise InvalidParameterValue("Invalid value in request: an integer is out of range") from None


@contextmanager
def _driver_cursor(conn: Connection) -> Iterator[Any]:
    cursor = dialects.driver_cursor(conn)
    try:
        yield cursor
    except conn.dialect.dbapi.DataError as err:  # type: ignore[union-attr]
        raise InvalidParameterValue(f"Invalid value in request: {str(err).splitlines()[0]}") from None
    finally:
        cursor.close()


class Database:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine: Engine = dialects.engine_for(uri)
        self.is_sqlite = dialects.is_sqlite(self.engine)
        # Re-entrant: `writer_if_free` holds it around a whole store call, whose `write()` takes it again.
        self._write_lock = threading.RLock() if self.is_sqlite else None
        self._writer: Connection | None = None  # SQLite only, used under `_write_lock`

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with _bad_values_are_client_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with _bad_values_are_client_errors(), self.engine.begin() as conn:
                yield conn
            return
        with _bad_values_are_client_errors(), self._write_lock:
            if self._writer is None or self._writer.invalidated:
                self._writer = self.engine.connect().execution_options(**{dialects.WRITE_OPTION: True})
            try:
                with self._writer.begin():
                    yield self._writer
            except BaseException:
                if self._writer.invalidated:  # a lost connection is replaced on the next write
                    self._writer.close()
                    self._writer = None
                raise

    def let_others_write(self, busy_since: float) -> None:
        """Between the transactions of a long job (gc): on SQLite, wait as long as the last one held the
        writer (at least 10 ms), so that other processes waiting for it get their turn instead of
        finding it taken again each time their busy handler wakes up. PostgreSQL locks rows, not the
        database: nothing to do."""
        if self.is_sqlite:
            time.sleep(max(0.01, time.perf_counter() - busy_since))

    @contextmanager
    def writer_if_free(self) -> Iterator[bool]:
        """Holds this process's writer for the block if no other thread has it, without waiting; yields
        whether it does (never on PostgreSQL, which has no process-wide writer). Lets a small write skip
        the hop to a store thread (`server/protocol.run_write`)."""
        if self._write_lock is None or not self._write_lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            self._write_lock.release()

    @contextmanager
    def one_at_a_time(self, task: str) -> Iterator[None]:
        """Hold the store's lock for `task` (an import, a gc) for the block: a second process starting
        the same task fails at once (`AlreadyRunning`) instead of racing the first over the same rows.
        PostgreSQL: a session advisory lock on a connection of its own; SQLite: an OS lock on a file
        beside the database. Either is released when the process ends, however it ends."""
        if self.is_sqlite:
            with _file_lock(self.engine.url.database, task):
                yield
            return
        key = zlib.crc32(f"tracklet:{task}".encode())
        with self.engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                raise AlreadyRunning(f"another '{task}' is running on this store; wait for it to finish")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})

    def connects_without_waiting(self) -> bool:
        """Whether `read()` would have a connection at once rather than wait for another thread's."""
        return dialects.connects_without_waiting(self.engine)

    def sql(self, text: str) -> str:
        """Hand-written SQL (written with `?` markers) in this driver's bind style."""
        return text if self.is_sqlite else text.replace("?", "%s")

    def marks(self, n: int) -> str:
        """`n` positional bind markers for hand-written SQL on hot paths: `?, ?, ?` or `%s, %s, %s`."""
        return ", ".join([dialects.positional(self.engine)] * n)

    @staticmethod
    def fetch_all(conn: Connection, sql: str, args: tuple[object, ...]) -> list[tuple]:  # type: ignore[type-arg]
        """Rows as plain tuples straight from the driver's cursor, for reads of many thousands of rows."""
        return Database.run(conn, sql, args)

    @staticmethod
    def fetch_as(conn: Connection, sql: str, args: tuple[object, ...], make: Callable[..., T]) -> list[T]:
        """`make(*row)` for each row, straight from the driver's cursor, for reads that build hundreds of
        thousands of objects (metric histories). Rows come in chunks: psycopg converts a chunk at once
        (iterating its cursor costs a Python call per row) and sqlite3 never holds every tuple at once."""
        objects: list[T] = []
        with _driver_cursor(conn) as cursor:
            cursor.execute(dialects.driver_sql(conn, sql), args)
            while rows := cursor.fetchmany(_CHUNK_ROWS):
                objects += starmap(make, rows)
        return objects

    @staticmethod
    def run(conn: Connection, sql: str, args: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
        """A hot-path statement straight through the driver's cursor: rows as plain tuples ([] when it has none).
        SQLAlchemy's bookkeeping costs ~80 µs per statement here, more than a small write itself."""
        with _driver_cursor(conn) as cursor:
            cursor.execute(dialects.driver_sql(conn, sql), args)
            return list(cursor.fetchall()) if cursor.description is not None else []

    @staticmethod
    def copy_new_rows(
        conn: Connection, table: str, columns: tuple[str, ...], types: tuple[str, ...], rows: list[tuple]
    ) -> bool:  # type: ignore[type-arg]
        """PostgreSQL only: append rows with COPY (binary), the cheapest way in for thousands of rows (1,000
        points: 3.7 ms against 7.6 ms for two 500-row INSERTs through the raw cursor; a regular cursor's
        parsing of their 2,500 markers each cost ~20 ms more). Returns False, having written nothing, when a
        row's key already exists (COPY has no ON CONFLICT: the caller then writes the rows another way); a
        savepoint keeps the transaction usable."""
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with _driver_cursor(conn) as cursor:
            cursor.execute("SAVEPOINT copy_new_rows")
            try:
                with cursor.copy(sql) as copy:
                    copy.set_types(types)
                    for row in rows:
                        copy.write_row(row)
            except conn.dialect.dbapi.IntegrityError:  # type: ignore[union-attr]
                cursor.execute("ROLLBACK TO SAVEPOINT copy_new_rows")
                return False
            cursor.execute("RELEASE SAVEPOINT copy_new_rows")
        return True

    def refresh_statistics(self) -> None:
        """After a bulk load (an import): PostgreSQL's planner reads the tables' sizes and value spreads
        from statistics that autovacuum renews only a while later; until then a search of thousands of
        runs plans as if the tables were empty (1.5 to 2.7 times slower at 10,000 runs, measured). SQLite
        keeps none unless asked, and tracklet's queries are written for its planner without them."""
        if self.is_sqlite:
            return
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")

    def insert(self, table):  # type: ignore[no-untyped-def]
        return dialects.insert(self.engine, table)

    def dispose(self) -> None:
        if self._write_lock is not None:
            with self._write_lock:
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
        self.engine.dispose()


@contextmanager
def _file_lock(database: str | None, task: str) -> Iterator[None]:
    if not database or database == ":memory:" or database.startswith("file:"):
        yield  # no file: nothing another process could share
        return
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): no lock, as before there was one
        yield
        return
    with open(f"{database}.{task}.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another '{task}' is running on {database}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
