"""Metric points are stored under an integer id per history (run, key), on SQLite and PostgreSQL,
and stores from before (revision 0004) are migrated without losing a point."""

from __future__ import annotations

import math

import pytest
from alembic import command
from sqlalchemy import select, text

from tracklet.store import schema as s
from tracklet.store.database import Database
from tracklet.store.metrics import MetricPoint
from tracklet.store.migrations import alembic_config, current_revision, upgrade
from tracklet.store.store import Store

T0 = 1_700_000_000_000


def _history_ids(store: Store) -> dict[tuple[str, str], int]:
    latest = s.latest_metrics
    with store.db.read() as conn:
        return {(r[0], r[1]): r[2] for r in conn.execute(select(latest.c.run_uuid, latest.c.key, latest.c.history_id))}


def _points(store: Store, run_id: str, key: str) -> list[tuple[int, int, float]]:
    points, _ = store.get_metric_history(run_id, key, None, None)
    return [(p.timestamp, p.step, p.value) for p in points]


def test_each_history_gets_its_own_id_which_later_batches_keep(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        runs = [store.create_run(0, "alice", T0, None, []).info.run_id for _ in range(3)]
        for run_id in runs:  # several new histories in one batch
            store.log_batch(run_id, [MetricPoint(key=k, value=1.0, timestamp=T0, step=0) for k in "abc"], [], [])
        first = _history_ids(store)
        assert len(first) == 9 and len(set(first.values())) == 9
        for run_id in runs:  # known and new histories mixed
            store.log_batch(run_id, [MetricPoint(key=k, value=2.0, timestamp=T0, step=1) for k in "bcd"], [], [])
        later = _history_ids(store)
        assert {k: later[k] for k in first} == first
        assert len(set(later.values())) == 12 and min(later[(r, "d")] for r in runs) > max(first.values())
        assert _points(store, runs[1], "b") == [(T0, 0, 1.0), (T0, 1, 2.0)]
        assert _points(store, runs[1], "a") == [(T0, 0, 1.0)]
    finally:
        store.close()


def _old_store(store_uri: str) -> tuple[Database, str]:
    """A store at revision 0004 (points keyed by run_uuid and key) holding one run."""
    db = Database(store_uri)
    upgrade(db.engine, "0004")
    old = Store(store_uri, migrate=False)
    run_id = old.create_run(0, "alice", T0, None, []).info.run_id
    old.close()
    return db, run_id


def _insert_old_points(db: Database, run_id: str, key: str, points: list[tuple[int, int, float]]) -> None:
    with db.write() as conn:
        conn.execute(
            text(
                "INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan) "
                "VALUES (:r, :k, :ts, :step, :v, :nan)"
            ),
            [
                {"r": run_id, "k": key, "ts": ts, "step": step, "v": 0.0 if math.isnan(v) else v, "nan": math.isnan(v)}
                for ts, step, v in points
            ],
        )


def test_upgrading_keeps_every_point_and_new_histories_get_fresh_ids(store_uri: str) -> None:
    db, run_id = _old_store(store_uri)
    histories = {
        "loss": [(T0 + i, i, 1.0 / (i + 1)) for i in range(1_500)],
        "acc": [(T0, 0, 0.5), (T0, 0, float("nan")), (T0 + 1, 1, 0.75)],
    }
    for key, points in histories.items():
        _insert_old_points(db, run_id, key, points)
        last_ts, last_step, last_value = points[-1]
        with db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO latest_metrics (run_uuid, key, timestamp, step, value, is_nan, n_points) "
                    "VALUES (:r, :k, :ts, :step, :v, :nan, :n)"
                ),
                {"r": run_id, "k": key, "ts": last_ts, "step": last_step, "v": last_value, "nan": False,
                 "n": len(points)},
            )  # fmt: skip
    db.dispose()

    store = Store(store_uri)  # migrates to head
    try:
        assert current_revision(store.db.engine) != "0004"
        loss = _points(store, run_id, "loss")
        assert loss == histories["loss"]
        acc = store.get_metric_history(run_id, "acc", None, None)[0]
        assert [(p.step, p.value) for p in acc] == [(0, "NaN"), (0, 0.5), (1, 0.75)]  # NaN is stored as 0
        store.log_batch(run_id, [MetricPoint(key="new", value=3.0, timestamp=T0, step=0)], [], [])
        store.log_batch(run_id, [MetricPoint(key="loss", value=9.0, timestamp=T0 + 5_000, step=5_000)], [], [])
        ids = _history_ids(store)
        assert len(set(ids.values())) == 3 and ids[(run_id, "new")] > max(ids[(run_id, k)] for k in histories)
        assert _points(store, run_id, "loss")[-1] == (T0 + 5_000, 5_000, 9.0)
        assert _points(store, run_id, "new") == [(T0, 0, 3.0)]
    finally:
        store.close()


def test_downgrading_restores_the_old_layout(store_uri: str) -> None:
    store = Store(store_uri)
    run_id = store.create_run(0, "alice", T0, None, []).info.run_id
    store.log_batch(
        run_id, [MetricPoint(key="loss", value=v, timestamp=T0, step=i) for i, v in enumerate([3.0, 2.0])], [], []
    )
    engine = store.db.engine
    command.downgrade(alembic_config(engine), "0004")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT run_uuid, key, step, value FROM metrics ORDER BY step")).all()
    store.close()
    assert [tuple(r) for r in rows] == [(run_id, "loss", 0, 3.0), (run_id, "loss", 1, 2.0)]


def test_points_without_a_latest_row_stop_the_upgrade_and_nothing_changes(store_uri: str) -> None:
    db, run_id = _old_store(store_uri)
    _insert_old_points(db, run_id, "orphan", [(T0, 0, 1.0)])  # no latest_metrics row: never written so by tracklet
    with pytest.raises(RuntimeError, match="1 of 1 points have no latest_metrics row"):
        upgrade(db.engine)
    assert current_revision(db.engine) == "0004"
    with db.read() as conn:
        assert conn.execute(text("SELECT run_uuid, key, value FROM metrics")).all() == [(run_id, "orphan", 1.0)]
    db.dispose()
