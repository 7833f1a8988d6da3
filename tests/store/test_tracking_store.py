"""The tracking store's rules, on SQLite and on a real PostgreSQL (the `store_uri` fixture)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest

from tests.support.doubles import EXTREME_DOUBLES, random_doubles
from tracklet.entities import KeyValue
from tracklet.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.store.metrics import MetricPoint
from tracklet.store.migrations import current_revision
from tracklet.store.store import Store
from tracklet.validation import DOUBLE_MAX


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    s = Store(store_uri)
    yield s
    s.close()


def _run(store: Store, experiment_id: int = 0) -> str:
    return store.create_run(experiment_id, "alice", 1000, None, []).info.run_id


def test_a_new_store_is_migrated_and_has_the_default_experiment(store: Store) -> None:
    assert current_revision(store.db.engine) is not None
    default = store.get_experiment(0)
    assert (default.name, default.lifecycle_stage) == ("Default", "active")
    assert default.artifact_location == "mlflow-artifacts:/0"


def test_opening_a_store_twice_keeps_its_data(store_uri: str) -> None:
    first = Store(store_uri)
    experiment_id = first.create_experiment("kept")
    first.close()
    again = Store(store_uri)
    assert again.get_experiment_by_name("kept").experiment_id == experiment_id
    again.close()


def test_experiment_names_stay_reserved_by_deleted_experiments(store: Store) -> None:
    experiment_id = int(store.create_experiment("exp"))
    store.delete_experiment(experiment_id)
    with pytest.raises(ResourceAlreadyExists):
        store.create_experiment("exp")
    assert store.get_experiment_by_name("exp").lifecycle_stage == "deleted"


def test_deleting_an_experiment_deletes_its_runs_and_restoring_restores_them(store: Store) -> None:
    experiment_id = int(store.create_experiment("e"))
    run_id = _run(store, experiment_id)
    store.delete_run(run_id)
    store.delete_experiment(experiment_id)
    assert store.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(ResourceDoesNotExist):
        store.delete_experiment(experiment_id)
    store.restore_experiment(experiment_id)
    assert store.get_run(run_id).info.lifecycle_stage == "active"


def test_runs_get_a_generated_name_and_the_run_name_tag(store: Store) -> None:
    run = store.create_run(0, "alice", 1, None, [])
    tags = {t.key: t.value for t in run.data.tags}
    assert tags["mlflow.runName"] == run.info.run_name
    assert run.info.run_name.count("-") == 2


def test_renaming_through_the_tag_renames_the_run(store: Store) -> None:
    run_id = _run(store)
    store.log_batch(run_id, [], [], [KeyValue(key="mlflow.runName", value="renamed")])
    assert store.get_run(run_id).info.run_name == "renamed"


def test_params_are_immutable_but_the_same_value_may_be_logged_again(store: Store) -> None:
    run_id = _run(store)
    store.log_batch(run_id, [], [KeyValue(key="lr", value="0.1")], [])
    store.log_batch(run_id, [], [KeyValue(key="lr", value="0.1")], [])
    with pytest.raises(InvalidParameterValue, match="Changing param values is not allowed.*key='lr'"):
        store.log_batch(run_id, [], [KeyValue(key="lr", value="0.2")], [])


def test_a_rejected_batch_writes_nothing(store: Store) -> None:
    run_id = _run(store)
    store.log_batch(run_id, [], [KeyValue(key="lr", value="0.1")], [])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(
            run_id, [MetricPoint("loss", 1.0, 1, 0)], [KeyValue(key="lr", value="0.2")], [KeyValue(key="t", value="v")]
        )
    run = store.get_run(run_id)
    assert run.data.metrics == [] and "t" not in {t.key for t in run.data.tags}


def test_the_latest_metric_is_the_largest_step_then_timestamp_then_value(store: Store) -> None:
    run_id = _run(store)
    points = [MetricPoint("m", 5.0, 100, 1), MetricPoint("m", 9.0, 50, 2), MetricPoint("m", 1.0, 40, 2)]
    store.log_batch(run_id, points, [], [])
    store.log_batch(run_id, [MetricPoint("m", 3.0, 50, 2)], [], [])  # smaller value at the same (step, ts)
    (latest,) = store.get_run(run_id).data.metrics
    assert (latest.value, latest.step, latest.timestamp) == (9.0, 2, 50)


@pytest.mark.parametrize("nan", [False, True], ids=["finite", "with-nan"])
def test_a_batch_of_interleaved_metrics_keeps_each_latest_point_and_history(store: Store, nan: bool) -> None:
    run_id = _run(store)
    b_values = [2.0, math.nan if nan else 4.0, 3.0]
    points = [
        p
        for i, v in enumerate(b_values)
        for p in (MetricPoint("a", float(i), 10 + i, i), MetricPoint("b", v, 20, 5 - i))
    ]
    store.log_batch(run_id, points, [], [])
    latest = {m.key: (m.value, m.step) for m in store.get_run(run_id).data.metrics}
    assert latest == {"a": (2.0, 2), "b": (2.0, 5)}
    assert [p.step for p in store.get_metric_history(run_id, "a", None, None)[0]] == [0, 1, 2]
    b = [(p.step, p.value) for p in store.get_metric_history(run_id, "b", None, None)[0]]
    assert b == [(3, 3.0), (4, "NaN" if nan else 4.0), (5, 2.0)]


def test_history_is_ordered_by_timestamp_then_step_and_ignores_exact_duplicates(store: Store) -> None:
    run_id = _run(store)
    points = [MetricPoint("m", 5.0, 100, 1), MetricPoint("m", 9.0, 50, 2), MetricPoint("m", 1.0, 50, 1)]
    store.log_batch(run_id, points, [], [])
    store.log_batch(run_id, points[:1], [], [])
    history, token = store.get_metric_history(run_id, "m", None, None)
    assert [(p.timestamp, p.step, p.value) for p in history] == [(50, 1, 1.0), (50, 2, 9.0), (100, 1, 5.0)]
    assert token is None


@pytest.mark.parametrize("mixed", [False, True], ids=["one-metric", "with-nan-and-two-metrics"])
def test_a_big_batch_logged_again_with_new_points_keeps_every_point_once(store: Store, mixed: bool) -> None:
    """A client retrying a batch of thousands (on PostgreSQL, batches this big are copied in: a repeated
    point must neither fail the batch nor be stored twice, and the new points of the retry still land)."""
    run_id = _run(store)

    def batch(steps: range) -> list[MetricPoint]:
        points = [MetricPoint("m", float(i) / 7, 1000 + i, i) for i in steps]
        if mixed:
            points += [MetricPoint("n", math.nan if i % 3 == 0 else float(i), 1000 + i, i) for i in steps]
        return points

    store.log_batch(run_id, batch(range(0, 1500)), [], [])
    store.log_batch(run_id, batch(range(1000, 2500)), [], [])  # 500 repeated points, 1,000 new
    history = store.get_metric_history(run_id, "m", None, None)[0]
    assert [(p.step, p.value) for p in history] == [(i, float(i) / 7) for i in range(2500)]
    latest = {m.key: (m.step, m.value) for m in store.get_run(run_id).data.metrics}
    assert latest["m"] == (2499, 2499 / 7)
    if mixed:
        n = store.get_metric_history(run_id, "n", None, None)[0]
        assert [p.step for p in n] == list(range(2500))
        assert [p.value for p in n if p.step % 3 == 0] == ["NaN"] * 834


def test_history_pages_with_an_opaque_token(store: Store) -> None:
    run_id = _run(store)
    store.log_batch(run_id, [MetricPoint("m", float(i), i, i) for i in range(25)], [], [])
    seen, token = [], None
    while True:
        page, token = store.get_metric_history(run_id, "m", 10, token)
        seen.extend(p.step for p in page)
        if token is None:
            break
    assert seen == list(range(25))
    with pytest.raises(InvalidParameterValue):
        store.get_metric_history(run_id, "m", 10, "garbage")


def _pages(store: Store, run_id: str, key: str, max_results: int) -> list[list[tuple[int, int, float | str]]]:
    pages, token = [], None
    while True:
        page, token = store.get_metric_history(run_id, key, max_results, token)
        pages.append([(p.timestamp, p.step, p.value) for p in page])
        if token is None:
            return pages


def test_history_values_come_back_bit_for_bit(store: Store) -> None:
    run_id = _run(store)
    values = EXTREME_DOUBLES + random_doubles(300)
    store.log_batch(run_id, [MetricPoint("m", v, i, 0) for i, v in enumerate(values)], [], [])
    read = [value for page in _pages(store, run_id, "m", 7) for _, _, value in page]
    assert [float(v).hex() for v in read] == [v.hex() for v in values]


def test_history_pages_through_nan_and_infinities_at_one_timestamp_and_step(store: Store) -> None:
    """Points that differ only in value (NaN is stored as 0 with a flag) page one at a time, in order."""
    run_id = _run(store)
    sent = [math.inf, 5e-324, math.nan, 0.0, -1.5, -math.inf]
    store.log_batch(run_id, [MetricPoint("m", v, 7, 3) for v in sent], [], [])
    pages = _pages(store, run_id, "m", 1)
    assert pages == [[(7, 3, v)] for v in (-DOUBLE_MAX, -1.5, 0.0, "NaN", 5e-324, DOUBLE_MAX)]


@pytest.mark.parametrize(
    ("n", "page_sizes"), [(0, [0]), (1, [1]), (4, [4]), (5, [5]), (6, [5, 1]), (10, [5, 5]), (11, [5, 5, 1])]
)
def test_history_page_boundaries(store: Store, n: int, page_sizes: list[int]) -> None:
    """A full last page has no token after it; an empty history is one empty page."""
    run_id = _run(store)
    store.log_batch(run_id, [MetricPoint("m", float(i), 100 - i, i) for i in range(n)], [], [])
    pages = _pages(store, run_id, "m", 5)
    assert [len(page) for page in pages] == page_sizes
    assert [step for page in pages for _, step, _ in page] == list(reversed(range(n)))


def test_nan_and_infinities_are_kept(store: Store) -> None:
    run_id = _run(store)
    store.log_batch(
        run_id,
        [MetricPoint("nan", math.nan, 1, 0), MetricPoint("inf", math.inf, 1, 0), MetricPoint("ninf", -math.inf, 1, 0)],
        [],
        [],
    )
    values = {m.key: m.value for m in store.get_run(run_id).data.metrics}
    assert values == {"nan": "NaN", "inf": DOUBLE_MAX, "ninf": -DOUBLE_MAX}


def test_writes_to_a_deleted_run_are_refused(store: Store) -> None:
    run_id = _run(store)
    store.delete_run(run_id)
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        store.log_batch(run_id, [MetricPoint("m", 1.0, 1, 0)], [], [])
    store.restore_run(run_id)
    store.log_batch(run_id, [MetricPoint("m", 1.0, 1, 0)], [], [])


def test_a_thousand_point_batch_of_many_keys_lands_whole(store: Store) -> None:
    run_id = _run(store)
    points = [MetricPoint(f"k{i % 10}", float(i), i, i // 10) for i in range(1000)]
    store.log_batch(run_id, points, [], [])
    latest = {m.key: m.value for m in store.get_run(run_id).data.metrics}
    assert latest == {f"k{j}": float(990 + j) for j in range(10)}
    assert len(store.get_metric_history(run_id, "k3", None, None)[0]) == 100


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    run_id = _run(store)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(50):
                store.log_batch(run_id, [MetricPoint(f"w{worker}", float(i), i, i)], [], [])
                store.create_run(0, f"user{worker}", i, None, [])
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for w in range(8):
        assert len(store.get_metric_history(run_id, f"w{w}", None, None)[0]) == 50


def test_logged_models_link_to_their_run(store: Store) -> None:
    run_id = _run(store)
    model = store.create_logged_model(0, "model", "", run_id, [KeyValue(key="p", value="1")], [])
    assert model.info.status == "LOGGED_MODEL_PENDING"
    assert model.info.artifact_uri == f"mlflow-artifacts:/0/models/{model.info.model_id}/artifacts"
    store.log_outputs(run_id, [(model.info.model_id, 0)])
    store.finalize_logged_model(model.info.model_id, "LOGGED_MODEL_READY")
    assert [o.model_id for o in store.get_run(run_id).outputs.model_outputs] == [model.info.model_id]
    found, _ = store.search_logged_models([0], "name = 'model'", None, 10, None)
    assert [m.info.status for m in found] == ["LOGGED_MODEL_READY"]
