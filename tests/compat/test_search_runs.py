"""Run search through the official client: every comparator and identifier type, ordering, paging, pandas."""

from __future__ import annotations

import math

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from tests.compat.conftest import error_code, unique_name


def _run(client, exp_id, name, start, *, user, metrics=None, params=None, tags=None, status=None):
    run = client.create_run(exp_id, start_time=start, run_name=name, tags={"mlflow.user": user, **(tags or {})})
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, 1000, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, v) for k, v in (params or {}).items()],
    )
    if status:
        client.set_terminated(run_id, status=status, end_time=start + 500)
    return run_id


@pytest.fixture(scope="module")
def runs(server):
    """Five runs with known data in their own experiment; returns (experiment_id, {name: run_id})."""
    client = MlflowClient(server.url)
    exp_id = client.create_experiment(unique_name("search"))
    ids = {
        "r1": _run(client, exp_id, "r1", 1000, user="ana", metrics={"acc": 0.9, "loss": 0.1, "my-metric": 1},
                   params={"model": "cnn", "lr": "0.01"}, tags={"team": "a", "env.name": "prod"}),
        "r2": _run(client, exp_id, "r2", 2000, user="bob", metrics={"acc": 0.7, "loss": math.nan},
                   params={"model": "rnn", "lr": "0.1"}, tags={"team": "b"}),
        "r3": _run(client, exp_id, "r3", 3000, user="ana", metrics={"loss": 0.5},
                   params={"model": "CNN-large"}, status="FINISHED"),
        "r4": _run(client, exp_id, "r4", 4000, user="cy", metrics={"acc": 0.8},
                   params={"model": "tree"}, tags={"team": "a"}, status="FINISHED"),
        "r5": _run(client, exp_id, "other", 5000, user="bob", metrics={"acc": -1.0, "loss": math.inf},
                   tags={"team": "c"}, status="FAILED"),
    }  # fmt: skip
    client.log_inputs(
        ids["r4"],
        [
            DatasetInput(
                Dataset(name="wine", digest="abc123", source_type="local", source="/data/wine.csv"),
                tags=[InputTag("mlflow.data.context", "training")],
            )
        ],
    )
    client.log_inputs(
        ids["r1"],
        [
            DatasetInput(
                Dataset(name="iris", digest="def456", source_type="local", source="/data/iris.csv"),
                tags=[InputTag("mlflow.data.context", "eval")],
            )
        ],
    )
    return exp_id, ids


def _search(client, runs, filter_string="", **kwargs):
    exp_id, ids = runs
    by_id = {v: k for k, v in ids.items()}
    found = client.search_runs([exp_id], filter_string, **kwargs)
    return [by_id[r.info.run_id] for r in found]


def _set(client, runs, filter_string):
    return set(_search(client, runs, filter_string))


# Default order is start_time DESC, so results list newest first.
@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["r5", "r4", "r3", "r2", "r1"]),
        ("metrics.acc = 0.9", ["r1"]),
        ("metrics.acc != 0.9", ["r5", "r4", "r2"]),
        ("metrics.acc > 0.7", ["r4", "r1"]),
        ("metrics.acc >= 0.7", ["r4", "r2", "r1"]),
        ("metrics.acc < 0.8", ["r5", "r2"]),
        ("metrics.acc <= 0.8", ["r5", "r4", "r2"]),
        ("metric.acc > 0", ["r4", "r2", "r1"]),
        ("metrics.acc > -5 AND metrics.acc < 0.85", ["r5", "r4", "r2"]),
        ('metrics."my-metric" = 1', ["r1"]),
        ("metrics.`my-metric` >= 1.0", ["r1"]),
        # NaN never compares, except with !=; a missing metric never compares at all.
        ("metrics.loss < 1", ["r3", "r1"]),
        ("metrics.loss >= 0", ["r5", "r3", "r1"]),
        ("metrics.loss != 0.1", ["r5", "r3", "r2"]),
        ("metrics.loss > 1e300", ["r5"]),
    ],
)
def test_metric_comparators(mlflow_client, runs, filter_string, expected):
    assert _search(mlflow_client, runs, filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.model = 'cnn'", {"r1"}),
        ('params.model = "cnn"', {"r1"}),
        ("params.model != 'cnn'", {"r2", "r3", "r4"}),
        ("params.model LIKE 'c%'", {"r1"}),
        ("params.model LIKE '%n%'", {"r1", "r2"}),
        ("params.model ILIKE 'c%'", {"r1", "r3"}),
        ("params.model LIKE '_nn'", {"r1", "r2"}),
        ("params.lr IS NULL", {"r3", "r4", "r5"}),
        ("params.lr IS NOT NULL", {"r1", "r2"}),
        ("param.lr = '0.1'", {"r2"}),
        ("parameter.lr = '0.1'", {"r2"}),
        ("parameters.lr = '0.1' AND params.model = 'rnn'", {"r2"}),
        ("params.lr != '0.1'", {"r1"}),
    ],
)
def test_param_comparators(mlflow_client, runs, filter_string, expected):
    assert _set(mlflow_client, runs, filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tags.team = 'a'", {"r1", "r4"}),
        ("tags.team != 'a'", {"r2", "r5"}),
        ("tags.team LIKE '%'", {"r1", "r2", "r4", "r5"}),
        ("tags.team ILIKE 'A'", {"r1", "r4"}),
        ("tags.team IS NULL", {"r3"}),
        ("tags.team IS NOT NULL", {"r1", "r2", "r4", "r5"}),
        ("tag.team = 'c'", {"r5"}),
        ("tags.`env.name` = 'prod'", {"r1"}),
        ("tags.\"env.name\" = 'prod'", {"r1"}),
        ("tags.env.name = 'prod'", {"r1"}),
        ("tags.`mlflow.user` = 'bob'", {"r2", "r5"}),
        ("tags.mlflow.runName = 'other'", {"r5"}),
    ],
)
def test_tag_comparators(mlflow_client, runs, filter_string, expected):
    assert _set(mlflow_client, runs, filter_string) == expected


def test_attribute_comparators(mlflow_client, runs):
    exp_id, ids = runs

    def q(f):
        return _set(mlflow_client, runs, f)

    assert q(f"attributes.run_id = '{ids['r2']}'") == {"r2"}
    assert q(f"attributes.run_id IN ('{ids['r2']}', '{ids['r3']}')") == {"r2", "r3"}
    assert q(f"attributes.run_id NOT IN ('{ids['r2']}', '{ids['r3']}')") == {"r1", "r4", "r5"}
    assert q(f"run_id != '{ids['r1']}'") == {"r2", "r3", "r4", "r5"}
    assert q("attributes.run_name = 'other'") == {"r5"}
    assert q("attributes.run_name LIKE 'r%'") == {"r1", "r2", "r3", "r4"}
    assert q("attributes.run_name ILIKE 'R_'") == {"r1", "r2", "r3", "r4"}
    assert q("attributes.run_name != 'other'") == {"r1", "r2", "r3", "r4"}
    assert q("`Run name` = 'r3'") == {"r3"}
    assert q("attributes.status = 'FINISHED'") == {"r3", "r4"}
    assert q("attributes.status != 'RUNNING'") == {"r3", "r4", "r5"}
    assert q("status = 'FAILED'") == {"r5"}
    assert q("attributes.user_id = 'ana'") == {"r1", "r3"}
    assert q("attr.user_id LIKE 'b%'") == {"r2", "r5"}
    assert q(f"attributes.artifact_uri = 'mlflow-artifacts:/{exp_id}/{ids['r4']}/artifacts'") == {"r4"}
    assert q(f"attributes.artifact_uri LIKE '%{ids['r4']}%'") == {"r4"}
    assert q("attributes.start_time > 3000") == {"r4", "r5"}
    assert q("attributes.start_time >= 3000") == {"r3", "r4", "r5"}
    assert q("attributes.start_time = 2000") == {"r2"}
    assert q("attributes.start_time != 2000") == {"r1", "r3", "r4", "r5"}
    assert q("attributes.start_time < 2000") == {"r1"}
    assert q("attributes.start_time <= 2000") == {"r1", "r2"}
    assert q("attributes.created > 4000") == {"r5"}
    assert q("run.end_time > 0") == {"r3", "r4", "r5"}
    assert q("attributes.end_time <= 4500") == {"r3", "r4"}


def test_dataset_comparators(mlflow_client, runs):
    def q(f):
        return _set(mlflow_client, runs, f)

    assert q("datasets.name = 'wine'") == {"r4"}
    assert q("datasets.name != 'wine'") == {"r1"}
    assert q("dataset.name LIKE 'w%'") == {"r4"}
    assert q("datasets.name ILIKE 'IRIS'") == {"r1"}
    assert q("datasets.name IN ('wine', 'iris')") == {"r1", "r4"}
    assert q("datasets.name NOT IN ('wine')") == {"r1"}
    assert q("datasets.digest = 'abc123'") == {"r4"}
    assert q("datasets.context = 'training'") == {"r4"}
    assert q("datasets.context IN ('eval')") == {"r1"}


@pytest.mark.parametrize(
    "bad_filter",
    [
        "metrics.acc = 0.9 OR metrics.acc = 0.7",
        "metrics.acc = '0.9'",
        "metrics.acc LIKE 0.9",
        "params.model > 'a'",
        "attributes.status IN ('RUNNING')",
        "nothing.x = 1",
        "metrics.acc =",
        "attributes.unknown = 'x'",
        "params.model = cnn",
    ],
)
def test_bad_filters_are_rejected(mlflow_client, runs, bad_filter):
    with pytest.raises(MlflowException) as excinfo:
        _search(mlflow_client, runs, bad_filter)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_filters_are_case_insensitive_on_keywords(mlflow_client, runs):
    assert _set(mlflow_client, runs, "params.model like 'c%' and tags.team is not null") == {"r1"}


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # Missing metrics sort last in both directions.
        (["metrics.acc ASC"], ["r5", "r2", "r4", "r1", "r3"]),
        (["metrics.acc DESC"], ["r1", "r4", "r2", "r5", "r3"]),
        (["metrics.acc"], ["r5", "r2", "r4", "r1", "r3"]),
        # NaN after real values and before missing ones, in both directions.
        (["metrics.loss ASC"], ["r1", "r3", "r5", "r2", "r4"]),
        (["metrics.loss DESC"], ["r5", "r3", "r1", "r2", "r4"]),
        (["params.model ASC"], ["r3", "r1", "r2", "r4", "r5"]),
        (["params.model DESC"], ["r4", "r2", "r1", "r3", "r5"]),
        # Ties broken by the implicit tail: start_time DESC.
        (["tags.team ASC"], ["r4", "r1", "r2", "r5", "r3"]),
        (["tags.team DESC", "attributes.start_time ASC"], ["r5", "r2", "r1", "r4", "r3"]),
        (["attributes.start_time ASC"], ["r1", "r2", "r3", "r4", "r5"]),
        (["attributes.run_name DESC"], ["r4", "r3", "r2", "r1", "r5"]),
        (["attributes.status ASC"], ["r5", "r4", "r3", "r2", "r1"]),
        (["attributes.user_id ASC", "metrics.acc DESC"], ["r1", "r3", "r2", "r5", "r4"]),
        (["created ASC"], ["r1", "r2", "r3", "r4", "r5"]),
    ],
)
def test_order_by(mlflow_client, runs, order_by, expected):
    assert _search(mlflow_client, runs, order_by=order_by) == expected


@pytest.mark.parametrize("bad", [["metrics.acc sideways"], ["metrics.acc ASC", "metrics.acc DESC"], ["nothing.x"]])
def test_bad_order_by(mlflow_client, runs, bad):
    with pytest.raises(MlflowException) as excinfo:
        _search(mlflow_client, runs, order_by=bad)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_view_types_in_search(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique_name("view"))
    live = mlflow_client.create_run(exp_id).info.run_id
    gone = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.delete_run(gone)

    def ids(vt):
        return {r.info.run_id for r in mlflow_client.search_runs([exp_id], run_view_type=vt)}

    assert ids(ViewType.ACTIVE_ONLY) == {live}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {live, gone}


def test_paging_visits_every_run_once(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique_name("pages"))
    created = [mlflow_client.create_run(exp_id, start_time=1000 + i).info.run_id for i in range(23)]
    # Same start_time for several runs: the run_id tail keeps pages stable.
    created += [mlflow_client.create_run(exp_id, start_time=500).info.run_id for _ in range(4)]

    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_runs([exp_id], max_results=5, page_token=token, order_by=["metrics.nope"])
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 6
    assert len(seen) == len(set(seen)) == 27
    assert set(seen) == set(created)
    assert seen[:23] == list(reversed(created[:23]))
    assert seen[23:] == sorted(created[23:])


def test_paging_an_exact_multiple_ends_without_token(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique_name("pages"))
    for _ in range(4):
        mlflow_client.create_run(exp_id)
    first = mlflow_client.search_runs([exp_id], max_results=2)
    second = mlflow_client.search_runs([exp_id], max_results=2, page_token=first.token)
    assert len(first) == len(second) == 2
    if second.token:  # MLflow may hand out a token that leads to an empty page
        assert len(mlflow_client.search_runs([exp_id], max_results=2, page_token=second.token)) == 0


@pytest.mark.parametrize(
    "order_by",
    [[], ["metrics.m DESC"], ["params.p", "start_time"], ["tags.t DESC", "metrics.m"], ["end_time"]],
)
def test_paging_in_any_order_gives_one_search_page_by_page(mlflow_client, order_by):
    exp_id = mlflow_client.create_experiment(unique_name("pages"))
    for i in range(14):
        run_id = mlflow_client.create_run(exp_id, start_time=1000 + (i // 4) * 10).info.run_id  # ties
        mlflow_client.log_batch(
            run_id,
            metrics=[Metric("m", math.nan if i == 3 else (i % 5) / 4, 1000, 0)] if i % 3 else [],
            params=[Param("p", "Ab"[i % 2])] if i % 4 else [],
            tags=[RunTag("t", str(i % 3))] if i % 5 else [],
        )
        if i % 2:
            mlflow_client.set_terminated(run_id, end_time=2000 + i % 3)
    for filter_string in ("", "metrics.m >= 0.25"):
        everything = mlflow_client.search_runs([exp_id], filter_string, order_by=order_by, max_results=100)
        seen, token = [], None
        while True:
            page = mlflow_client.search_runs(
                [exp_id], filter_string, order_by=order_by, max_results=3, page_token=token
            )
            seen += [r.info.run_id for r in page]
            token = page.token
            if not token:
                break
        assert seen == [r.info.run_id for r in everything]


def test_invalid_page_token(mlflow_client, runs):
    with pytest.raises(MlflowException) as excinfo:
        _search(mlflow_client, runs, page_token="not-a-token")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_max_results_limits(mlflow_client, runs):
    assert len(_search(mlflow_client, runs, max_results=50000)) == 5
    with pytest.raises(MlflowException) as excinfo:
        _search(mlflow_client, runs, max_results=50001)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_search_across_experiments(mlflow_client, runs):
    exp_id, ids = runs
    other = mlflow_client.create_experiment(unique_name("other"))
    extra = mlflow_client.create_run(other, tags={"team": "a"}).info.run_id
    found = {r.info.run_id for r in mlflow_client.search_runs([exp_id, other], "tags.team = 'a'")}
    assert found == {ids["r1"], ids["r4"], extra}


def test_search_runs_to_pandas(mlflow_client, runs):
    exp_id, ids = runs
    df = mlflow.search_runs(experiment_ids=[exp_id], order_by=["attributes.start_time ASC"])
    assert list(df["run_id"]) == [ids[k] for k in ("r1", "r2", "r3", "r4", "r5")]
    assert list(df["params.model"])[:4] == ["cnn", "rnn", "CNN-large", "tree"]
    assert df["metrics.acc"].iloc[0] == 0.9
    assert math.isnan(df["metrics.acc"].iloc[2])  # r3 has no acc
    assert math.isnan(df["metrics.loss"].iloc[1])  # r2's NaN
    assert list(df["tags.team"])[:2] == ["a", "b"]
    assert list(df["status"]) == ["RUNNING", "RUNNING", "FINISHED", "FINISHED", "FAILED"]
    assert set(df.columns) >= {
        "experiment_id",
        "start_time",
        "end_time",
        "artifact_uri",
        "tags.mlflow.runName",
    }


def test_search_runs_by_experiment_name_to_pandas(mlflow_client, runs):
    exp_id, ids = runs
    name = mlflow_client.get_experiment(exp_id).name
    df = mlflow.search_runs(experiment_names=[name], filter_string="metrics.acc > 0.75")
    assert set(df["run_id"]) == {ids["r1"], ids["r4"]}
    runs_list = mlflow.search_runs(experiment_ids=[exp_id], output_format="list", max_results=2)
    assert len(runs_list) == 2


def test_search_with_no_experiments_is_empty(mlflow_client):
    assert mlflow_client.search_runs([]) == []
