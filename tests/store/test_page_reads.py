"""A page of runs reads its params, tags and metrics through the tables' (run_uuid, key) primary keys on
PostgreSQL, whatever share of the table the page is: scanning the whole table costs in proportion to the
database, not to the page (params of 1,000 runs in a database of 20,000: 22 ms scanned, 10 ms probed)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import msgspec
import psycopg
import pytest

from tracklet.store import dialects
from tracklet.store.store import Store

pytestmark = pytest.mark.postgres

N_RUNS = 3000
PAGE = 1000


@pytest.fixture(scope="module")
def store(postgres) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    """3,000 runs with 10 params, 5 tags and 5 metrics each, written in bulk by SQL, then ANALYZEd."""
    st = Store(postgres.create_database("pages_" + str(time.monotonic_ns())))
    url = st.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, artifact_uri, lifecycle_stage)"
            " SELECT lpad(to_hex(i), 32, '0'), 0, 'run-' || i, 'u', 'FINISHED', i, 'a', 'active'"
            " FROM generate_series(1, %s) AS i",
            (N_RUNS,),
        )
        for table, n in (("params", 10), ("tags", 5)):
            conn.execute(
                f"INSERT INTO {table} (run_uuid, key, value) SELECT run_uuid, 'k' || j, 'v\"' || j FROM runs, "
                "generate_series(1, %s) AS j",
                (n,),
            )
        conn.execute(
            "INSERT INTO latest_metrics (run_uuid, key, timestamp, step, value, is_nan, n_points, history_id) "
            "SELECT run_uuid, 'm' || j, 1, 0, j / 10.0, false, 1, nextval('metric_history_ids') "
            "FROM runs, generate_series(1, 5) AS j"
        )
        conn.execute("ANALYZE")
    yield st
    st.close()


def _page(store: Store) -> list[str]:
    with store.db.read() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT run_uuid FROM runs ORDER BY start_time DESC")]
    return ids[:: N_RUNS // PAGE]  # spread over the whole table, as a filtered search's page is


def _plan(store: Store, sql: str, args: tuple[object, ...]) -> str:
    with store.db.read() as conn:
        rows = store.db.run(conn, "EXPLAIN " + sql, args)
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("table", ["runs", "params", "tags", "latest_metrics"])
def test_rows_of_a_page_are_probed_by_primary_key(store: Store, table: str) -> None:
    sql, args = dialects.rows_of_runs(store.db.engine, table, "*", _page(store))
    plan = _plan(store, sql, args)
    assert f"Seq Scan on {table}" not in plan and f"{table}_pkey" in plan, plan


@pytest.mark.parametrize("table", ["params", "tags"])
def test_json_of_a_page_is_built_per_run_through_the_primary_key(store: Store, table: str) -> None:
    sql, args = dialects.json_key_values(store.db.engine, table, _page(store))
    plan = _plan(store, sql, args)
    assert f"Seq Scan on {table}" not in plan and f"{table}_pkey" in plan, plan


def test_a_page_reads_the_same_encoded_or_as_objects(store: Store) -> None:
    ids = _page(store)
    with store.db.read() as conn:
        plain = store.load_runs(conn, ids)
        encoded = store.load_runs_encoded(conn, ids)
    assert [run.info.run_id for run in plain] == ids == [run.info.run_id for run in encoded]
    for run, wire in zip(plain, encoded, strict=True):
        as_json = {"params": wire.data.params, "tags": wire.data.tags}
        decoded = {k: {kv["key"]: kv["value"] for kv in msgspec.json.decode(bytes(v))} for k, v in as_json.items()}
        assert decoded == {
            "params": {p.key: p.value for p in run.data.params},
            "tags": {t.key: t.value for t in run.data.tags},
        }
        assert len(run.data.params) == 10 and len(run.data.tags) == 5 and len(run.data.metrics) == 5
