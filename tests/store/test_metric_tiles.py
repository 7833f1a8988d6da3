"""Chart tiles are kept as points are written: every committed point is in them, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from tracklet.server.ui.history import downsample
from tracklet.store import schema as s
from tracklet.store.database import Database
from tracklet.store.metrics import MetricPoint
from tracklet.store.migrations import upgrade
from tracklet.store.store import Store
from tracklet.store.tiles import LEVELS, TILED_AFTER, Tile, batch_tiles, series_of

T0 = 1_700_000_000_000


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    st = Store(store_uri)
    yield st
    st.close()


def _tiles_of(run_id: str, points: list[tuple[str, int, int, float, bool]]) -> list[Tile]:
    """The tiles of a batch of (key, timestamp, step, value, is_nan) points, as ingestion folds them."""
    keys, stamps, steps, values, nans = (list(column) for column in zip(*points, strict=True))
    return batch_tiles(run_id, series_of(keys, stamps, steps, values, nans))


def _run(store: Store) -> str:
    return store.create_run(0, "alice", T0, None, []).info.run_id


def _log(store: Store, run_id: str, points: list[tuple[int, int, float]], key: str = "loss") -> None:
    """points: (step, timestamp, value), logged in batches of 1,000 as clients send them."""
    batch = [MetricPoint(key=key, value=v, timestamp=ts, step=step) for step, ts, v in points]
    for start in range(0, len(batch), 1000):
        store.log_batch(run_id, batch[start : start + 1000], [], [])


def _stored_tiles(store: Store, run_id: str, axis: int, level: int) -> dict[int, tuple]:  # type: ignore[type-arg]
    t = s.metric_tiles
    with store.db.read() as conn:
        rows = conn.execute(
            select(t.c.bucket, t.c.first_x, t.c.last_x, t.c.last_value, t.c.min_value, t.c.max_value, t.c.n_points)
            .where(t.c.run_uuid == run_id, t.c.axis == axis, t.c.level == level)
            .order_by(t.c.bucket)
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def _listed_for_rebuild(store: Store) -> set[tuple[str, str]]:
    r = s.metric_tile_rebuilds
    with store.db.read() as conn:
        return {(row[0], row[1]) for row in conn.execute(select(r.c.run_uuid, r.c.key))}


def test_the_tiles_of_a_batch_hold_min_max_and_last_of_each_bucket() -> None:
    points = [("loss", T0 + step, step, float(step % 7), False) for step in range(150)]
    points.append(("loss", T0 + 999, 5, 100.0, False))  # a spike at step 5, logged last
    points.append(("loss", T0 + 1000, 6, 0.0, True))  # NaN: not charted
    tiles = _tiles_of("r", points)
    by_step = {t[4]: t for t in tiles if t[2] == 0 and t[3] == 0}
    assert sorted(by_step) == [0, 1, 2]  # steps 0-63, 64-127, 128-149
    first = by_step[0]
    assert (first[5], first[6], first[7]) == (0, 63, 63 % 7)  # first x, last x, last value
    assert (first[8], first[9], first[12]) == (0.0, 100.0, 65)  # min, max, points (64 + the spike)
    coarsest = [t for t in tiles if t[2] == 0 and t[3] == LEVELS[0] - 1]
    assert [(t[4], t[5], t[6], t[7], t[9], t[12]) for t in coarsest] == [(0, 0, 149, 149 % 7, 100.0, 151)]
    by_time = [t for t in tiles if t[2] == 1 and t[3] == 0]
    assert [(t[4], t[5], t[6]) for t in by_time] == [(T0 >> 10, T0, T0 + 999)]


def test_a_batch_of_several_metrics_out_of_order() -> None:
    points = [(key, T0 + step, step, float(step), False) for step in (9, 3, 7) for key in ("b", "a")]
    level0 = [t for t in _tiles_of("r", points) if t[2] == 0 and t[3] == 0]
    assert [(t[1], t[5], t[6], t[7], t[8], t[9], t[12]) for t in level0] == [
        ("a", 3, 9, 9.0, 3.0, 9.0, 3),
        ("b", 3, 9, 9.0, 3.0, 9.0, 3),
    ]


def test_short_histories_have_no_tiles_and_chart_from_their_points(store: Store) -> None:
    run_id = _run(store)
    _log(store, run_id, [(step, T0 + step, float(step % 10)) for step in range(TILED_AFTER)])
    assert _stored_tiles(store, run_id, axis=0, level=0) == {}
    series = downsample(store.db, run_id, "loss", "step", None, None, 100)
    assert series.source == "points" and series.extent == [0, TILED_AFTER - 1]
    assert len(series.x) == 100 and max(series.max) == 9.0 and min(series.min) == 0.0


def _all_tiles(store: Store, run_id: str) -> list[tuple]:  # type: ignore[type-arg]
    t = s.metric_tiles
    with store.db.read() as conn:
        return sorted(tuple(row) for row in conn.execute(select(t).where(t.c.run_uuid == run_id)))


def test_a_history_that_grows_long_gets_the_tiles_of_all_its_points(store: Store) -> None:
    """Built from the points by the batch that crosses the threshold, merged batch by batch after:
    the same tiles as folding every point at once."""
    run_id = _run(store)
    rng = random.Random(5)
    points = [(step, T0 + step * 10 + rng.randrange(5), rng.gauss(0, 1)) for step in range(3_500)]
    points[1_234] = (1_234, points[1_234][1], 77.0)
    _log(store, run_id, points[:900])
    _log(store, run_id, points[900:1_600])  # crosses TILED_AFTER
    _log(store, run_id, points[1_600:])
    expected = sorted(_tiles_of(run_id, [("loss", ts, step, v, False) for step, ts, v in points]))
    assert _all_tiles(store, run_id) == [tuple(t) for t in expected]
    assert max(t[9] for t in expected if t[3] == LEVELS[0] - 1 and t[2] == 0) == 77.0


def test_a_late_point_with_an_old_timestamp_shows_in_the_chart(store: Store) -> None:
    """Points logged after a chart was read, with timestamps older than the ones already charted."""
    run_id = _run(store)
    _log(store, run_id, [(step, T0 + step * 1000, 0.0) for step in range(5000)])
    before = downsample(store.db, run_id, "loss", "step", None, None, 50)
    assert max(before.max) == 0.0 and before.source.startswith("tiles")
    _log(store, run_id, [(2500, T0 - 1, 42.0)])  # out of order in time and in steps
    after = downsample(store.db, run_id, "loss", "step", None, None, 50)
    assert max(after.max) == 42.0
    by_time = downsample(store.db, run_id, "loss", "time", None, None, 50)
    assert max(by_time.max) == 42.0 and by_time.extent == [T0 - 1, T0 + 4_999_000]


def test_a_long_history_is_read_from_tiles_with_its_extremes(store: Store) -> None:
    run_id = _run(store)
    rng = random.Random(3)
    values = [rng.uniform(-1, 1) for _ in range(20_000)]
    values[7_777] = 50.0
    _log(store, run_id, [(step, T0 + step, v) for step, v in enumerate(values)])
    series = downsample(store.db, run_id, "loss", "step", None, None, 100)
    assert series.source.startswith("tiles")
    assert len(series.x) <= 100
    assert max(series.max) == 50.0 and min(series.min) == min(values)
    assert series.x[-1] == 19_999 and series.last[-1] == values[-1]
    zoomed = downsample(store.db, run_id, "loss", "step", 7_700, 7_800, 200)
    assert zoomed.source == "points" and zoomed.x == list(range(7_700, 7_801)) and max(zoomed.max) == 50.0


def test_histories_from_before_the_upgrade_are_rebuilt_on_first_read(store_uri: str) -> None:
    """A store at revision 0002 (tiles built lazily) upgraded to the current schema."""
    db = Database(store_uri)
    upgrade(db.engine, "0002")
    db.dispose()
    old = Store(store_uri, migrate=False)
    run_id = _run(old)
    with old.db.write() as conn:
        for step in range(1_500):
            value = 9.0 if step == 123 else 1.0
            conn.execute(
                text(
                    "INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan) "
                    "VALUES (:r, 'loss', :ts, :step, :v, :nan)"
                ),
                {"r": run_id, "ts": T0 + step, "step": step, "v": value, "nan": False},
            )
        conn.execute(
            text(
                "INSERT INTO latest_metrics (run_uuid, key, timestamp, step, value, is_nan) "
                "VALUES (:r, 'loss', :ts, 1499, 1.0, :nan), (:r, 'short', :ts, 0, 1.0, :nan)"
            ),
            {"r": run_id, "ts": T0 + 1_499, "nan": False},
        )
    old.close()

    store = Store(store_uri)  # migrates to head
    try:
        assert _listed_for_rebuild(store) == {(run_id, "loss")}  # "short" has no point: not long
        _log(store, run_id, [(1_500, T0 + 1_500, 2.0)])  # logged after the upgrade, before the first read
        series = downsample(store.db, run_id, "loss", "step", None, None, 10)
        assert max(series.max) == 9.0 and series.extent == [0, 1_500] and series.last[-1] == 2.0
        assert sum(tile[5] for tile in _stored_tiles(store, run_id, axis=0, level=0).values()) == 1_501
        assert _listed_for_rebuild(store) == set()
        by_time = downsample(store.db, run_id, "loss", "time", None, None, 10)
        assert max(by_time.max) == 9.0 and by_time.extent == [T0, T0 + 1_500]
    finally:
        store.close()


def test_a_history_without_points_reads_empty(store: Store) -> None:
    run_id = _run(store)
    assert downsample(store.db, run_id, "nothing", "step", None, None, 10).source == "empty"
    _log(store, run_id, [(0, T0, float("nan"))], key="nan-only")
    assert downsample(store.db, run_id, "nan-only", "step", None, None, 10).x == []
