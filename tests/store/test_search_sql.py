"""Searches against a real database: which ids come back, in which order.

Runs on a temporary SQLite file and on a throwaway PostgreSQL started by the suite
(e.g. `postgresql+psycopg://user@localhost:5432/db`); there each run gets its own schema, dropped after.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, text

from tracklet.errors import InvalidParameterValue
from tracklet.store import schema
from tracklet.store.search_sql import experiment_search_select, logged_model_search_select, run_search_select

NAN = math.nan

# run_id: (experiment, name, status, user, start_time, end_time, lifecycle_stage)
RUNS = {
    "r01": (1, "alpha", "FINISHED", "ann", 100, 200, "active"),
    "r02": (1, "beta", "FINISHED", "bob", 200, 300, "active"),
    "r03": (1, "gamma", "RUNNING", "ann", 300, None, "active"),
    "r04": (1, "delta", "FAILED", "bob", 400, 500, "active"),
    "r05": (1, "Alpha2", "FINISHED", "carol", 500, 600, "active"),
    "r06": (1, "eps", "FINISHED", "ann", 600, 700, "deleted"),
    **{f"g{i:02d}": (2, f"gen-{i:02d}", "FINISHED", "dan", 1000 + i, None, "active") for i in range(20)},
}
# latest metrics: run_id -> {key: value}
METRICS: dict[str, dict[str, float]] = {
    "r01": {"acc": 0.9, "loss": 0.1},
    "r02": {"acc": 0.5, "loss": 0.4},
    "r03": {"acc": NAN, "loss": 0.3},
    "r04": {"loss": 0.2},
    "r05": {"acc": 0.7},
    "r06": {"acc": 0.95},
    **{f"g{i:02d}": {"acc": round(i * 0.05, 2)} for i in range(20)},
}
PARAMS = {
    "r01": {"lr": "0.1", "opt": "Adam"},
    "r02": {"lr": "0.01", "opt": "adam"},
    "r03": {"lr": "0.001"},
    "r04": {"opt": "SGD"},
    "r05": {"lr": "0.1", "opt": "Adam_W"},
    "r06": {"lr": "0.1"},
    **{f"g{i:02d}": {"lr": "0.1"} for i in range(20)},
}
TAGS = {
    "r01": {"team": "Vision"},
    "r02": {"team": "vision", "note": "100 done"},
    "r03": {"team": "NLP"},
    "r05": {"team": "vision_2", "note": "100% [done]*?"},
}
# run_id -> [(dataset name, digest, context or None)]
DATASETS = {
    "r01": [("mnist", "d1", "train"), ("mnist", "d2", "eval")],
    "r02": [("cifar", "c1", None)],
    "r03": [("Mnist-big", "d3", "train")],
}
# experiment_id: (name, creation_time, lifecycle_stage, tags)
EXPERIMENTS = {
    1: ("exp-a", 10, "active", {"team": "vision"}),
    2: ("exp-b", 20, "active", {"team": "Vision"}),
    3: ("Exp-C", 30, "deleted", {}),
    4: ("other", 20, "active", {}),
}
# model_id: (experiment, name, status, source_run_id, created, lifecycle_stage)
MODELS = {
    "m1": (1, "model-a", "READY", "r01", 100, "active"),
    "m2": (1, "model-b", "PENDING", None, 200, "active"),
    "m3": (1, "Model-C", "READY", "r02", 300, "active"),
    "m4": (2, "model-a", "READY", None, 150, "active"),
    "m5": (1, "model-del", "READY", None, 400, "deleted"),
}
# model_id -> [(key, value, timestamp, step, dataset_name)]
MODEL_METRICS = {
    "m1": [("acc", 0.5, 1, 0, "train"), ("acc", 0.8, 2, 1, "eval")],
    "m2": [("acc", 0.6, 5, 0, "eval")],
    "m3": [("acc", NAN, 5, 0, "eval")],
    "m5": [("acc", 0.99, 5, 0, "eval")],
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path_factory.mktemp('search') / 'search.db'}")
        schema.metadata.create_all(eng)
        _insert_rows(eng)
        yield eng
        eng.dispose()
        return
    pg = request.getfixturevalue("postgres")
    base = create_engine(pg.url().replace("postgresql://", "postgresql+psycopg://"))
    name = f"search_test_{uuid.uuid4().hex[:8]}"
    with base.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    eng = base.execution_options(schema_translate_map={None: name})
    try:
        schema.metadata.create_all(eng)
        _insert_rows(eng)
        yield eng
    finally:
        with base.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        base.dispose()


def _insert_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(schema.experiments),
            [
                {"experiment_id": eid, "name": name, "artifact_location": f"/a/{eid}",
                 "lifecycle_stage": stage, "creation_time": created, "last_update_time": created + eid}
                for eid, (name, created, stage, _) in EXPERIMENTS.items()
            ],
        )  # fmt: skip
        conn.execute(
            insert(schema.experiment_tags),
            [{"experiment_id": eid, "key": k, "value": v}
             for eid, (*_, tags) in EXPERIMENTS.items() for k, v in tags.items()],
        )  # fmt: skip
        conn.execute(
            insert(schema.runs),
            [
                {"run_uuid": rid, "experiment_id": exp, "name": name, "status": status, "user_id": user,
                 "start_time": start, "end_time": end, "artifact_uri": f"/a/{rid}", "lifecycle_stage": stage}
                for rid, (exp, name, status, user, start, end, stage) in RUNS.items()
            ],
        )  # fmt: skip
        conn.execute(
            insert(schema.latest_metrics),
            [
                {"run_uuid": rid, "key": k, "value": 0.0 if math.isnan(v) else v, "is_nan": math.isnan(v),
                 "timestamp": 0, "step": 0, "history_id": history_id}
                for history_id, (rid, k, v) in enumerate(
                    (rid, k, v) for rid, metrics in METRICS.items() for k, v in metrics.items()
                )
            ],
        )  # fmt: skip
        conn.execute(
            insert(schema.params),
            [{"run_uuid": rid, "key": k, "value": v} for rid, ps in PARAMS.items() for k, v in ps.items()],
        )
        tag_rows = [{"run_uuid": rid, "key": k, "value": v} for rid, ts in TAGS.items() for k, v in ts.items()]
        tag_rows += [{"run_uuid": rid, "key": "mlflow.runName", "value": row[1]} for rid, row in RUNS.items()]
        conn.execute(insert(schema.tags), tag_rows)
        conn.execute(
            insert(schema.dataset_inputs),
            [
                {"run_uuid": rid, "name": name, "digest": digest, "source_type": "code", "source": "{}",
                 "tags_json": json.dumps([{"key": "mlflow.data.context", "value": ctx}] if ctx else [])}
                for rid, inputs in DATASETS.items() for name, digest, ctx in inputs
            ],
        )  # fmt: skip
        conn.execute(
            insert(schema.logged_models),
            [
                {"model_id": mid, "experiment_id": exp, "name": name, "artifact_location": f"/m/{mid}",
                 "status": status, "model_type": "sklearn", "source_run_id": run,
                 "creation_timestamp_ms": created, "last_updated_timestamp_ms": created + 1,
                 "lifecycle_stage": stage}
                for mid, (exp, name, status, run, created, stage) in MODELS.items()
            ],
        )  # fmt: skip
        conn.execute(
            insert(schema.logged_model_metrics),
            [
                {"model_id": mid, "key": k, "value": 0.0 if math.isnan(v) else v, "is_nan": math.isnan(v),
                 "timestamp": ts, "step": step, "run_id": "r01", "dataset_name": ds, "dataset_digest": "x"}
                for mid, points in MODEL_METRICS.items() for k, v, ts, step, ds in points
            ],
        )  # fmt: skip
        conn.execute(insert(schema.logged_model_params), [{"model_id": "m2", "key": "alpha", "value": "1"}])
        conn.execute(insert(schema.logged_model_tags), [{"model_id": "m2", "key": "stage", "value": "prod"}])


def _ids(engine: Engine, stmt: Any) -> list[Any]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(stmt)]


@pytest.fixture
def runs(engine: Engine):  # type: ignore[no-untyped-def]
    """Run ids for a search in experiment 1 (or `experiments`), newest first unless ordered."""

    def search(filter_string: str = "", order_by: list[str] | None = None, view_type: str = "ACTIVE_ONLY",
               experiments: tuple[int, ...] = (1,), limit: int = 1000,
               offset: int = 0) -> list[str]:  # fmt: skip
        stmt = run_search_select(list(experiments), filter_string, view_type, order_by, limit, offset)
        return _ids(engine, stmt)

    return search


@pytest.fixture
def experiments(engine: Engine):  # type: ignore[no-untyped-def]
    def search(filter_string: str = "", order_by: list[str] | None = None, view_type: str = "ACTIVE_ONLY",
               limit: int = 100, offset: int = 0) -> list[int]:  # fmt: skip
        return _ids(engine, experiment_search_select(filter_string, view_type, order_by, limit, offset))

    return search


@pytest.fixture
def models(engine: Engine):  # type: ignore[no-untyped-def]
    def search(filter_string: str = "", order_by: list[dict[str, Any]] | None = None,
               experiments: tuple[int, ...] = (1,), datasets: list[dict[str, str]] | None = None,
               limit: int = 100, offset: int = 0) -> list[str]:  # fmt: skip
        stmt = logged_model_search_select(list(experiments), filter_string, order_by, limit, offset, datasets=datasets)
        return _ids(engine, stmt)

    return search


# --- runs: scope ------------------------------------------------------------------------------


def test_no_filter_returns_active_runs_newest_first(runs):
    assert runs() == ["r05", "r04", "r03", "r02", "r01"]


def test_view_types(runs):
    assert runs(view_type="DELETED_ONLY") == ["r06"]
    assert runs(view_type="ALL") == ["r06", "r05", "r04", "r03", "r02", "r01"]
    with pytest.raises(InvalidParameterValue, match="view_type"):
        runs(view_type="SOME")


def test_only_the_requested_experiments(runs):
    assert len(runs(experiments=(2,))) == 20
    assert len(runs(experiments=(1, 2))) == 25
    assert runs(experiments=()) == []


# --- runs: metrics ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.6", ["r05", "r01"]),
        ("metrics.acc >= 0.7", ["r05", "r01"]),
        ("metrics.acc < 0.7", ["r02"]),
        ("metrics.acc <= 0.9", ["r05", "r02", "r01"]),
        ("metrics.acc = 0.5", ["r02"]),
        ("metric.loss > 0.15 AND metrics.loss < 0.35", ["r04", "r03"]),
    ],
)
def test_metric_comparisons(runs, filter_string, expected):
    assert runs(filter_string) == expected


def test_nan_satisfies_only_not_equal(runs):
    assert runs("metrics.acc = 0") == []  # NaN is stored as 0 + flag
    assert runs("metrics.acc >= 0") == ["r05", "r02", "r01"]
    assert runs("metrics.acc != 0.5") == ["r05", "r03", "r01"]


def test_a_missing_metric_matches_nothing(runs):
    assert "r04" not in runs("metrics.acc != 123")
    assert runs("metrics.nope < 1") == []


# --- runs: params and tags --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.lr = '0.1'", ["r05", "r01"]),
        ('params.lr = "0.01"', ["r02"]),
        ("params.lr != '0.1'", ["r03", "r02"]),
        ("params.lr IS NULL", ["r04"]),
        ("params.lr IS NOT NULL", ["r05", "r03", "r02", "r01"]),
        ("params.opt = 'Adam' AND metrics.loss < 0.2", ["r01"]),
        ("tags.team IS NOT NULL", ["r05", "r03", "r02", "r01"]),
        ("tags.team IS NULL", ["r04"]),
        ("tags.team != 'vision'", ["r05", "r03", "r01"]),
        ("tags.mlflow.runName = 'beta'", ["r02"]),
        ("tags.`mlflow.runName` = 'beta'", ["r02"]),
    ],
)
def test_param_and_tag_comparisons(runs, filter_string, expected):
    assert runs(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tags.team LIKE 'vision%'", ["r05", "r02"]),
        ("tags.team LIKE 'V%'", ["r01"]),
        ("tags.team LIKE '_ision'", ["r02", "r01"]),
        ("params.opt LIKE 'adam'", ["r02"]),
        ("params.opt LIKE 'Adam%'", ["r05", "r01"]),
        ("tags.team LIKE 'vision\\_%'", ["r05"]),
    ],
)
def test_like_is_case_sensitive(runs, filter_string, expected):
    assert runs(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tags.team ILIKE 'vision%'", ["r05", "r02", "r01"]),
        ("tags.team ILIKE 'V%'", ["r05", "r02", "r01"]),
        ("params.opt ILIKE 'ADAM'", ["r02", "r01"]),
        ("tags.team ILIKE 'nlp'", ["r03"]),
    ],
)
def test_ilike_is_case_insensitive(runs, filter_string, expected):
    assert runs(filter_string) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("100%", ["r05", "r02"]),
        ("100\\%%", ["r05"]),  # an escaped % is literal
        ("%[done]%", ["r05"]),  # brackets, * and ? are no wildcards
        ("%*%", ["r05"]),
        ("100 done?", []),
        ("1*", []),
    ],
)
def test_like_special_characters(runs, pattern, expected):
    assert runs(f"tags.note LIKE '{pattern}'") == expected


def test_a_like_pattern_ending_in_an_escape_is_rejected(runs):
    with pytest.raises(InvalidParameterValue, match="escape"):
        runs("tags.note LIKE 'x\\'")


# --- runs: attributes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("attributes.run_name = 'alpha'", ["r01"]),
        ("`Run Name` = 'alpha'", ["r01"]),
        ("run_name LIKE 'Alpha%'", ["r05"]),
        ("run_name ILIKE 'alpha%'", ["r05", "r01"]),
        ("status != 'FINISHED'", ["r04", "r03"]),
        ("attr.user_id = 'ann'", ["r03", "r01"]),
        ("attributes.run_id IN ('r01', 'r04', 'g01')", ["r04", "r01"]),
        ("run_id NOT IN ('r01', 'r04')", ["r05", "r03", "r02"]),
        ("run_id = 'r02'", ["r02"]),
        ("created >= 300", ["r05", "r04", "r03"]),
        ("attributes.start_time < 200", ["r01"]),
        ("end_time > 0", ["r05", "r04", "r02", "r01"]),  # r03 has no end time
        ("artifact_uri LIKE '%/r05'", ["r05"]),
    ],
)
def test_attribute_comparisons(runs, filter_string, expected):
    assert runs(filter_string) == expected


# --- runs: datasets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("datasets.name = 'mnist'", ["r01"]),
        ("datasets.name LIKE 'mnist%'", ["r01"]),
        ("datasets.name ILIKE 'mnist%'", ["r03", "r01"]),
        ("dataset.digest IN ('c1', 'd3')", ["r03", "r02"]),
        ("datasets.context = 'train'", ["r03", "r01"]),
        ("datasets.context = 'eval'", ["r01"]),
        ("datasets.context != 'train'", ["r01"]),  # r02's input has no context
        ("datasets.context IN ('eval', 'test')", ["r01"]),
        ("datasets.name = 'mnist' AND datasets.context = 'eval'", ["r01"]),
        ("datasets.name != 'mnist'", ["r03", "r02"]),
    ],
)
def test_dataset_filters(runs, filter_string, expected):
    assert runs(filter_string) == expected


# --- runs: ordering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # NaN after the real values, missing after NaN, in both directions
        (["metrics.acc ASC"], ["r02", "r05", "r01", "r03", "r04"]),
        (["metrics.acc DESC"], ["r01", "r05", "r02", "r03", "r04"]),
        (["metrics.loss"], ["r01", "r04", "r03", "r02", "r05"]),
        # ties break on start_time DESC
        (["params.lr DESC"], ["r05", "r01", "r02", "r03", "r04"]),
        (["params.lr"], ["r03", "r02", "r05", "r01", "r04"]),
        # strings compare by code point: upper case before lower case
        (["tags.team"], ["r03", "r01", "r02", "r05", "r04"]),
        (["tags.team DESC"], ["r05", "r02", "r01", "r03", "r04"]),
        (["run_name"], ["r05", "r01", "r02", "r04", "r03"]),
        (["attributes.start_time"], ["r01", "r02", "r03", "r04", "r05"]),
        (["created DESC"], ["r05", "r04", "r03", "r02", "r01"]),
        (["end_time DESC"], ["r05", "r04", "r02", "r01", "r03"]),
        (["end_time"], ["r01", "r02", "r04", "r05", "r03"]),
        (["user_id DESC", "metrics.loss"], ["r05", "r04", "r02", "r01", "r03"]),
        (["params.opt", "metrics.acc DESC"], ["r01", "r05", "r04", "r02", "r03"]),
    ],
)
def test_ordering(runs, order_by, expected):
    assert runs(order_by=order_by) == expected


def test_ordering_and_filtering_together(runs):
    # r04 has no lr at all, so != does not match it either
    assert runs("params.lr != '0.001'", order_by=["metrics.acc"]) == ["r02", "r05", "r01"]


def test_equal_keys_fall_back_to_run_id(runs):
    # every generated run has lr = 0.1: ties on lr, then newest first
    assert runs(order_by=["params.lr", "start_time"], experiments=(2,))[:3] == ["g00", "g01", "g02"]


def test_bad_order_by_is_rejected(runs):
    with pytest.raises(InvalidParameterValue):
        runs(order_by=["metrics.acc sideways"])


# --- runs: paging -----------------------------------------------------------------------------


def test_pages_cover_the_whole_ordered_result(runs):
    everything = runs(order_by=["metrics.acc DESC"], experiments=(2,))
    assert everything[:3] == ["g19", "g18", "g17"]
    pages = [runs(order_by=["metrics.acc DESC"], experiments=(2,), limit=7, offset=o) for o in (0, 7, 14, 21)]
    assert [len(p) for p in pages] == [7, 7, 6, 0]
    assert sum(pages, []) == everything


def test_paging_with_a_filter(runs):
    assert runs("metrics.acc >= 0.5", experiments=(2,), limit=3, offset=2) == ["g17", "g16", "g15"]


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (10, -1)])
def test_bad_page_bounds_are_rejected(runs, limit, offset):
    with pytest.raises(InvalidParameterValue):
        runs(limit=limit, offset=offset)


# --- experiments ------------------------------------------------------------------------------


def test_experiments_default_order_is_newest_first_then_id(experiments):
    assert experiments() == [2, 4, 1]
    assert experiments(view_type="ALL") == [3, 2, 4, 1]
    assert experiments(view_type="DELETED_ONLY") == [3]


@pytest.mark.parametrize(
    ("filter_string", "view_type", "expected"),
    [
        ("name = 'exp-a'", "ACTIVE_ONLY", [1]),
        ("name LIKE 'exp%'", "ALL", [2, 1]),
        ("name ILIKE 'exp%'", "ALL", [3, 2, 1]),
        ("name != 'other'", "ACTIVE_ONLY", [2, 1]),
        ("experiment_id IN ('1', '4')", "ACTIVE_ONLY", [4, 1]),
        ("experiment_id NOT IN ('1', '4')", "ALL", [3, 2]),
        ("experiment_id = '2'", "ACTIVE_ONLY", [2]),
        ("experiment_id != '2'", "ACTIVE_ONLY", [4, 1]),
        ("creation_time > 15", "ACTIVE_ONLY", [2, 4]),
        ("last_update_time = 24", "ACTIVE_ONLY", [4]),
        ("tags.team = 'vision'", "ACTIVE_ONLY", [1]),
        ("tags.team LIKE 'V%'", "ACTIVE_ONLY", [2]),
        ("tags.team ILIKE 'V%'", "ACTIVE_ONLY", [2, 1]),
        ("tags.team IS NULL", "ACTIVE_ONLY", [4]),
        ("tags.team IS NOT NULL AND creation_time < 15", "ACTIVE_ONLY", [1]),
    ],
)
def test_experiment_filters(experiments, filter_string, view_type, expected):
    assert experiments(filter_string, view_type=view_type) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name"], [3, 1, 2, 4]),
        (["name DESC"], [4, 2, 1, 3]),
        (["creation_time"], [1, 2, 4, 3]),
        (["experiment_id DESC"], [4, 3, 2, 1]),
        (["last_update_time DESC"], [3, 4, 2, 1]),
    ],
)
def test_experiment_ordering(experiments, order_by, expected):
    assert experiments(order_by=order_by, view_type="ALL") == expected


def test_experiment_paging(experiments):
    assert experiments(view_type="ALL", limit=2) == [3, 2]
    assert experiments(view_type="ALL", limit=2, offset=2) == [4, 1]


def test_experiments_cannot_be_ordered_by_tags(experiments):
    with pytest.raises(InvalidParameterValue, match="tag"):
        experiments(order_by=["tags.team"])


# --- logged models ----------------------------------------------------------------------------


def test_models_default_order_is_newest_first(models):
    assert models() == ["m3", "m2", "m1"]  # m5 is deleted
    assert models(experiments=(1, 2)) == ["m3", "m2", "m4", "m1"]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'model-a'", ["m4", "m1"]),
        ("name='model-a'", ["m4", "m1"]),
        ("name LIKE 'model%'", ["m2", "m4", "m1"]),
        ("name ILIKE 'model%'", ["m3", "m2", "m4", "m1"]),
        ("name IN ('model-b', 'Model-C')", ["m3", "m2"]),
        ("status = 'READY'", ["m3", "m4", "m1"]),
        ("source_run_id = 'r01'", ["m1"]),
        ("source_run_id != 'r01'", ["m3"]),  # models without a source run never compare
        ("creation_timestamp >= 200", ["m3", "m2"]),
        ("creation_time < 200 AND model_type = 'sklearn'", ["m4", "m1"]),
        ("last_updated_timestamp = 151", ["m4"]),
        ("metrics.acc > 0.7", ["m1"]),  # any point of the metric
        ("metrics.acc < 0.55", ["m1"]),
        ("metrics.acc != 0.6", ["m3", "m1"]),  # NaN satisfies !=
        ("metrics.acc >= 0", ["m2", "m1"]),
        ("params.alpha = '1'", ["m2"]),
        ("tags.stage LIKE 'p%'", ["m2"]),
        ("tags.stage LIKE 'P%'", []),
        ("tags.stage ILIKE 'P%'", ["m2"]),
    ],
)
def test_model_filters(models, filter_string, expected):
    assert models(filter_string, experiments=(1, 2)) == expected


def test_model_datasets_restrict_metric_filters(models):
    assert models("metrics.acc > 0.7", datasets=[{"dataset_name": "train"}]) == []
    assert models("metrics.acc > 0.4", datasets=[{"dataset_name": "train"}]) == ["m1"]
    assert models(datasets=[{"dataset_name": "train"}]) == ["m1"]
    assert models(datasets=[{"dataset_name": "eval", "dataset_digest": "x"}]) == ["m3", "m2", "m1"]
    with pytest.raises(InvalidParameterValue, match="dataset_name"):
        models(datasets=[{"dataset_digest": "x"}])


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # latest point by timestamp: m1 -> 0.8; NaN (m3) then missing (m4) last in both directions
        ([{"field_name": "metrics.acc", "ascending": True}], ["m2", "m1", "m3", "m4"]),
        ([{"field_name": "metrics.acc", "ascending": False}], ["m1", "m2", "m3", "m4"]),
        ([{"field_name": "metrics.acc", "dataset_name": "train"}], ["m1", "m3", "m2", "m4"]),
        ([{"field_name": "name"}], ["m3", "m4", "m1", "m2"]),
        ([{"field_name": "creation_time", "ascending": True}], ["m1", "m4", "m2", "m3"]),
        ([{"field_name": "source_run_id", "ascending": False}], ["m3", "m1", "m2", "m4"]),
    ],
)
def test_model_ordering(models, order_by, expected):
    assert models(order_by=order_by, experiments=(1, 2)) == expected


def test_model_paging(models):
    assert models(experiments=(1, 2), limit=3) == ["m3", "m2", "m4"]
    assert models(experiments=(1, 2), limit=3, offset=3) == ["m1"]


def test_model_order_by_params_is_rejected(models):
    with pytest.raises(InvalidParameterValue, match="metrics"):
        models(order_by=[{"field_name": "params.alpha"}])
