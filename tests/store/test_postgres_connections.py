"""Pooled PostgreSQL connections: the database may close them (a restart, an idle timeout, an operator's
`pg_terminate_backend`); the next store call must not fail for it. Busy connections skip the check."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tracklet.store import dialects
from tracklet.store.metrics import MetricPoint
from tracklet.store.store import Store

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    st = Store(postgres.create_database("conns_" + str(time.monotonic_ns())))
    yield st
    st.close()


def _close_store_connections(store: Store) -> int:
    """Ends every server process serving the store's database, as a restart would, and counts them."""
    url = store.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_connections_closed_by_the_database_while_idle_are_replaced_without_an_error(store: Store) -> None:
    run_id = store.create_run(0, "alice", 1, "before", []).info.run_id
    assert _close_store_connections(store) >= 1
    time.sleep(dialects._PING_IDLE_AFTER_S + 0.2)
    store.log_batch(run_id, [MetricPoint("m", 1.0, 2, 0)], [], [])  # a write, then a read, on fresh connections
    assert [m.value for m in store.get_run(run_id).data.metrics] == [1.0]


def test_a_busy_connection_is_not_pinged(store: Store) -> None:
    store.create_run(0, "alice", 1, "warm", [])
    pings = []
    original = store.db.engine.dialect.do_ping
    store.db.engine.dialect.do_ping = lambda conn: pings.append(conn) or original(conn)  # type: ignore[method-assign]
    try:
        for i in range(20):
            store.create_run(0, "alice", 1, f"busy-{i}", [])
        assert pings == []
        time.sleep(dialects._PING_IDLE_AFTER_S + 0.2)
        store.create_run(0, "alice", 1, "after a pause", [])
        assert len(pings) == 1
    finally:
        del store.db.engine.dialect.do_ping
