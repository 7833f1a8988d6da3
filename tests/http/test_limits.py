"""Every limit and key rule of reference §d.2, and the lifecycle errors of §d.3, straight over HTTP."""

from __future__ import annotations

import pytest

from tests.http.conftest import API, error, get_run, new_experiment, new_run, ok, post


@pytest.fixture
def run_id(api):
    return new_run(api)


def _params(api, run_id):
    return {p["key"]: p["value"] for p in get_run(api, run_id)["data"].get("params", [])}


def _tags(api, run_id):
    return {t["key"]: t["value"] for t in get_run(api, run_id)["data"].get("tags", [])}


# ---- keys -------------------------------------------------------------------------------------

GOOD_KEYS = ["a", "a/b", "a.b-c_d e:f", "métrique_ü", "k" * 250, "x/y/z", "..a"[1:]]
BAD_KEYS = [
    "a*b",
    "a\\b",
    "a?",
    "k" * 251,
    "../x",
    "a/../b",
    "/abs",
    "a//b",
    "end/",
    ".",
    "a/./b",
    "tab\tkey",
]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_good_keys(api, run_id, key):
    ok(post(api, "/runs/log-parameter", {"run_id": run_id, "key": key, "value": "v"}))
    ok(post(api, "/runs/set-tag", {"run_id": run_id, "key": key, "value": "v"}))
    ok(post(api, "/runs/log-metric", {"run_id": run_id, "key": key, "value": 1, "timestamp": 1}))


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys(api, run_id, key):
    error(post(api, "/runs/log-parameter", {"run_id": run_id, "key": key, "value": "v"}))
    error(post(api, "/runs/set-tag", {"run_id": run_id, "key": key, "value": "v"}))
    error(post(api, "/runs/log-metric", {"run_id": run_id, "key": key, "value": 1, "timestamp": 1}))
    for field in ("metrics", "params", "tags"):
        item = {"key": key, "value": 1, "timestamp": 1} if field == "metrics" else {"key": key, "value": "v"}
        message = error(post(api, "/runs/log-batch", {"run_id": run_id, field: [item]}))
        assert f"{field}[0].key" in message
    exp = new_experiment(api)
    error(post(api, "/experiments/set-experiment-tag", {"experiment_id": exp, "key": key, "value": "v"}))


def test_missing_keys(api, run_id):
    message = error(post(api, "/runs/log-parameter", {"run_id": run_id, "value": "v"}))
    assert message.startswith("Missing value for required parameter 'key'.")
    error(post(api, "/runs/set-tag", {"run_id": run_id, "key": "", "value": "v"}))
    error(post(api, "/runs/log-metric", {"run_id": run_id, "value": 1, "timestamp": 1}))


# ---- values -----------------------------------------------------------------------------------


def test_param_value_truncated_at_6000(api, run_id):
    ok(post(api, "/runs/log-parameter", {"run_id": run_id, "key": "long", "value": "x" * 6001}))
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "params": [{"key": "batched", "value": "y" * 100_000}]}))
    params = _params(api, run_id)
    assert params["long"] == "x" * 6000
    assert params["batched"] == "y" * 6000


def test_missing_param_value_is_empty(api, run_id):
    ok(post(api, "/runs/log-parameter", {"run_id": run_id, "key": "nothing"}))
    assert _params(api, run_id)["nothing"] == ""


def test_run_tag_value_truncated_at_8000(api, run_id):
    ok(post(api, "/runs/set-tag", {"run_id": run_id, "key": "long", "value": "t" * 8001}))
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "tags": [{"key": "batched", "value": "u" * 9000}]}))
    exp = new_experiment(api)
    created = ok(post(api, "/runs/create", {"experiment_id": exp, "tags": [{"key": "at-create", "value": "v" * 8500}]}))
    tags = _tags(api, run_id)
    assert tags["long"] == "t" * 8000
    assert tags["batched"] == "u" * 8000
    assert _tags(api, created["run"]["info"]["run_id"])["at-create"] == "v" * 8000


def test_experiment_name_limits(api):
    error(post(api, "/experiments/create", {"name": ""}))
    error(post(api, "/experiments/create", {}))
    error(post(api, "/experiments/create", {"name": "n" * 501}))
    name = ("n" * 480) + new_experiment(api)
    exp = ok(post(api, "/experiments/create", {"name": name[:500]}))["experiment_id"]
    assert ok(api.get(f"{API}/experiments/get", params={"experiment_id": exp}))["experiment"]["name"] == name[:500]
    error(post(api, "/experiments/update", {"experiment_id": exp, "new_name": ""}))
    error(post(api, "/experiments/update", {"experiment_id": exp, "new_name": "n" * 501}))


def test_an_experiment_created_with_a_tag_key_twice_keeps_the_last_value(api):
    # As runs/create and registered-models/create do (was a 500: the second row broke a unique key).
    name = f"twice-{new_experiment(api)}"
    tags = [{"key": "k", "value": "first"}, {"key": "other", "value": "o"}, {"key": "k", "value": "last"}]
    exp = ok(post(api, "/experiments/create", {"name": name, "tags": tags}))["experiment_id"]
    stored = ok(api.get(f"{API}/experiments/get", params={"experiment_id": exp}))["experiment"]["tags"]
    assert sorted((t["key"], t["value"]) for t in stored) == [("k", "last"), ("other", "o")]


def test_experiment_tag_value_limit_is_an_error(api):
    exp = new_experiment(api)
    ok(post(api, "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "ok", "value": "v" * 20000}))
    error(
        post(
            api,
            "/experiments/set-experiment-tag",
            {"experiment_id": exp, "key": "long", "value": "v" * 20001},
        )
    )
    error(
        post(
            api,
            "/experiments/create",
            {"name": f"tags-{exp}", "tags": [{"key": "long", "value": "v" * 20001}]},
        )
    )


@pytest.mark.parametrize("value", ["abc", "", "1.2.3", "nan-ish", "0x10"])
def test_non_numeric_metric_values(api, run_id, value):
    error(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": value, "timestamp": 1}))


def test_metric_timestamp_rules(api, run_id):
    message = error(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1}))
    assert "timestamp" in message
    error(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": -1}))
    error(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1.5}))
    message = error(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "timestamp": 1}))
    assert "value" in message


def test_metric_step_is_int64(api, run_id):
    ok(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}))  # default step 0
    ok(
        post(
            api,
            "/runs/log-metric",
            {"run_id": run_id, "key": "m", "value": 2, "timestamp": 2, "step": 2**63 - 1},
        )
    )
    error(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 3, "timestamp": 3, "step": 2**63}))
    error(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 3, "timestamp": 2**63}))
    history = ok(api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}))["metrics"]
    assert [m["step"] for m in history] == [0, 2**63 - 1]


# ---- log-batch --------------------------------------------------------------------------------


def _metrics(n):
    return [{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(n)]


def _kv(n, prefix="k"):
    return [{"key": f"{prefix}{i}", "value": str(i)} for i in range(n)]


def test_batch_limits_at_the_edge(api, run_id):
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": _metrics(1000)}))
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "params": _kv(100, "p"), "tags": _kv(100, "t")}))
    ok(
        post(
            api,
            "/runs/log-batch",
            {"run_id": run_id, "metrics": _metrics(800), "params": _kv(100, "q"), "tags": _kv(100, "u")},
        )
    )


@pytest.mark.parametrize(
    "body",
    [
        {"metrics": _metrics(1001)},
        {"params": _kv(101)},
        {"tags": _kv(101)},
        {"metrics": _metrics(900), "params": _kv(100, "p"), "tags": _kv(1, "t")},
    ],
)
def test_batch_limits_exceeded(api, run_id, body):
    error(post(api, "/runs/log-batch", {"run_id": run_id, **body}))
    data = get_run(api, run_id)["data"]
    assert "metrics" not in data and "params" not in data


def test_batch_duplicate_param_keys(api, run_id):
    message = error(
        post(
            api,
            "/runs/log-batch",
            {"run_id": run_id, "params": [{"key": "dp", "value": "1"}, {"key": "dp", "value": "2"}]},
        )
    )
    assert message == (
        "Duplicate parameter keys have been submitted: ['dp']. Please ensure the request contains only one "
        "param value per param key."
    )


def test_batch_missing_fields_name_the_element(api, run_id):
    good = {"key": "m", "value": 1, "timestamp": 1}
    message = error(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": [{"key": "m", "value": 1}]}))
    assert message.startswith("Missing value for required parameter 'metrics[0].timestamp'.")
    message = error(
        post(
            api,
            "/runs/log-batch",
            {"run_id": run_id, "metrics": [good, good, good, {"key": "m", "timestamp": 1}]},
        )
    )
    assert "metrics[3].value" in message
    message = error(
        post(
            api,
            "/runs/log-batch",
            {"run_id": run_id, "metrics": [good, {"key": "m", "value": "bad", "timestamp": 1}]},
        )
    )
    assert "metrics[1].value" in message
    message = error(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": [good, {"value": 1, "timestamp": 1}]}))
    assert "metrics[1].key" in message
    message = error(
        post(api, "/runs/log-batch", {"run_id": run_id, "params": [{"key": "a", "value": "1"}, {"value": "x"}]})
    )
    assert "params[1].key" in message
    assert "metrics" not in get_run(api, run_id)["data"]


def test_empty_batch_is_fine(api, run_id):
    ok(post(api, "/runs/log-batch", {"run_id": run_id}))
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": [], "params": [], "tags": []}))


@pytest.mark.parametrize("bad_id", ["-starts-with-dash", "has space", "x" * 257, "semi;colon", "../etc"])
def test_batch_run_id_format(api, bad_id):
    error(post(api, "/runs/log-batch", {"run_id": bad_id, "params": [{"key": "a", "value": "1"}]}))


def test_unknown_run_is_404(api):
    unknown = "0123456789abcdef0123456789abcdef"
    for path, body in [
        ("/runs/log-batch", {"run_id": unknown, "params": [{"key": "a", "value": "1"}]}),
        ("/runs/log-parameter", {"run_id": unknown, "key": "a", "value": "1"}),
        ("/runs/update", {"run_id": unknown, "status": "FINISHED"}),
        ("/runs/delete", {"run_id": unknown}),
        ("/runs/restore", {"run_id": unknown}),
        ("/runs/set-tag", {"run_id": unknown, "key": "a", "value": "1"}),
    ]:
        message = error(post(api, path, body), 404, "RESOURCE_DOES_NOT_EXIST")
        assert f"Run with id={unknown} not found" in message
    error(api.get(f"{API}/runs/get", params={"run_id": unknown}), 404, "RESOURCE_DOES_NOT_EXIST")


# ---- datasets (log-inputs) --------------------------------------------------------------------


def _dataset(**overrides):
    dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "/x.csv"}
    dataset.update(overrides)
    return {"dataset": {k: v for k, v in dataset.items() if v is not None}, "tags": []}


def test_dataset_at_the_limits(api, run_id):
    big = _dataset(name="n" * 500, digest="d" * 36, source="s" * 65535, schema="{" + "x" * (1024 * 1024 - 3) + "}")
    big["tags"] = [{"key": "k" * 255, "value": "v" * 500}]
    ok(post(api, "/runs/log-inputs", {"run_id": run_id, "datasets": [big]}))
    logged = get_run(api, run_id)["inputs"]["dataset_inputs"][0]
    assert logged["dataset"]["name"] == "n" * 500
    assert len(logged["dataset"]["schema"]) == 1024 * 1024 - 1


@pytest.mark.parametrize(
    "dataset",
    [
        _dataset(name="n" * 501),
        _dataset(digest="d" * 37),
        _dataset(source="s" * 65536),
        _dataset(schema="x" * (1024 * 1024)),
        _dataset(name=None),
        _dataset(digest=None),
        _dataset(source_type=None),
        _dataset(source=None),
        {**_dataset(), "tags": [{"key": "k" * 256, "value": "v"}]},
        {**_dataset(), "tags": [{"key": "k", "value": "v" * 501}]},
    ],
)
def test_dataset_limits(api, run_id, dataset):
    error(post(api, "/runs/log-inputs", {"run_id": run_id, "datasets": [dataset]}))
    assert not get_run(api, run_id)["inputs"].get("dataset_inputs")


def test_dataset_profile_limit(api, run_id):
    error(
        post(
            api,
            "/runs/log-inputs",
            {"run_id": run_id, "datasets": [_dataset(profile="p" * (16 * 1024 * 1024))]},
        )
    )


# ---- ids, max_results, names ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["abc", "1.5", "0x1", " "])
def test_experiment_id_must_be_an_integer(api, bad):
    message = error(api.get(f"{API}/experiments/get", params={"experiment_id": bad}))
    assert "Experiment ID must be a valid integer" in message
    error(post(api, "/runs/create", {"experiment_id": bad}))
    error(post(api, "/runs/search", {"experiment_ids": [bad]}))


def test_unknown_experiment_is_404(api):
    message = error(
        api.get(f"{API}/experiments/get", params={"experiment_id": "99999999"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert message == "No Experiment with id=99999999 exists"
    message = error(
        api.get(f"{API}/experiments/get-by-name", params={"experiment_name": "no-such-exp-x"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert message == "Could not find experiment with name 'no-such-exp-x'"
    error(post(api, "/experiments/delete", {"experiment_id": "99999999"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_search_max_results(api):
    exp = new_experiment(api)
    ok(post(api, "/runs/search", {"experiment_ids": [exp], "max_results": 50000}))
    ok(post(api, "/runs/search", {"experiment_ids": [exp]}))  # default 1000
    for bad in (0, -1, 50001):
        error(post(api, "/runs/search", {"experiment_ids": [exp], "max_results": bad}))
        error(post(api, "/experiments/search", {"max_results": bad}))
    message = error(post(api, "/experiments/search", {}))
    assert "max_results" in message
    ok(post(api, "/experiments/search", {"max_results": 50000}))


def test_history_max_results(api, run_id):
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": _metrics(7)}))
    error(api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m", "max_results": 0}))
    pages, token, seen = 0, None, []
    while True:
        params = {"run_id": run_id, "metric_key": "m", "max_results": 3}
        if token:
            params["page_token"] = token
        page = ok(api.get(f"{API}/metrics/get-history", params=params))
        seen += [m["step"] for m in page.get("metrics", [])]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == list(range(7))
    assert pages == 3
    error(
        api.get(
            f"{API}/metrics/get-history",
            params={"run_id": run_id, "metric_key": "m", "page_token": "garbage"},
        )
    )
    message = error(api.get(f"{API}/metrics/get-history", params={"run_id": run_id}))
    assert "metric_key" in message


def test_run_name_and_tag_conflict(api):
    exp = new_experiment(api)
    error(
        post(
            api,
            "/runs/create",
            {"experiment_id": exp, "run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}]},
        )
    )


def test_bad_search_inputs(api):
    exp = new_experiment(api)
    for body in (
        {"filter": "metrics.a = 1 OR metrics.b = 2"},
        {"filter": "params.x > 'a'"},
        {"filter": "((("},
        {"order_by": ["metrics.acc sideways"]},
        {"order_by": ["start_time", "start_time"]},
        {"page_token": "!!!"},
        {"page_token": "eyJvZmZzZXQiOiAtNX0="},  # {"offset": -5}
    ):
        error(post(api, "/runs/search", {"experiment_ids": [exp], **body}))
    error(post(api, "/experiments/search", {"max_results": 10, "page_token": "!!!"}))
    error(post(api, "/experiments/search", {"max_results": 10, "order_by": ["tags.x"]}))
    error(post(api, "/experiments/search", {"max_results": 10, "filter": "name = "}))


# ---- lifecycle (§d.3) -------------------------------------------------------------------------


def test_writes_to_deleted_runs(api, run_id):
    ok(post(api, "/runs/delete", {"run_id": run_id}))
    expected = f"The run {run_id} must be in the 'active' state. Current state is deleted."
    for path, body in [
        ("/runs/log-parameter", {"key": "p", "value": "1"}),
        ("/runs/log-metric", {"key": "m", "value": 1, "timestamp": 1}),
        ("/runs/set-tag", {"key": "t", "value": "1"}),
        ("/runs/log-batch", {"params": [{"key": "p", "value": "1"}]}),
        ("/runs/update", {"status": "FINISHED"}),
        ("/runs/delete-tag", {"key": "mlflow.runName"}),
        ("/runs/log-inputs", {"datasets": [_dataset()]}),
    ]:
        assert error(post(api, path, {"run_id": run_id, **body})) == expected, path


def test_create_run_in_deleted_experiment(api):
    exp = new_experiment(api)
    ok(post(api, "/experiments/delete", {"experiment_id": exp}))
    error(post(api, "/runs/create", {"experiment_id": exp}))
    error(post(api, "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "k", "value": "v"}))


def test_rename_of_deleted_experiment_is_400_not_500(api):
    exp = new_experiment(api)
    ok(post(api, "/experiments/delete", {"experiment_id": exp}))
    response = post(api, "/experiments/update", {"experiment_id": exp, "new_name": f"renamed-{exp}-x"})
    assert response.status_code == 400


def test_restore_active_experiment_is_404(api):
    exp = new_experiment(api)
    error(post(api, "/experiments/restore", {"experiment_id": exp}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_runs_create_without_experiment_uses_default(api):
    run = ok(post(api, "/runs/create", {}))["run"]
    assert run["info"]["experiment_id"] == "0"


def test_params_immutable_message(api, run_id):
    ok(post(api, "/runs/log-parameter", {"run_id": run_id, "key": "a", "value": "1"}))
    ok(post(api, "/runs/log-parameter", {"run_id": run_id, "key": "a", "value": "1"}))
    message = error(post(api, "/runs/log-parameter", {"run_id": run_id, "key": "a", "value": "2"}))
    assert message == (
        f"Changing param values is not allowed. Param with key='a' was already logged with value='1' "
        f"for run ID='{run_id}'. Attempted logging new value '2'."
    )
    message = error(
        post(
            api,
            "/runs/log-batch",
            {"run_id": run_id, "params": [{"key": "a", "value": "3"}, {"key": "b", "value": "1"}]},
        )
    )
    assert "Changing param values is not allowed" in message
    assert "b" not in _params(api, run_id)


def test_huge_numbers_are_never_a_500(api, run_id):
    import base64
    import json as _json

    exp = new_experiment(api)
    huge_offset = base64.b64encode(_json.dumps({"offset": 10**22}).encode()).decode()
    response = post(api, "/runs/search", {"experiment_ids": [exp], "page_token": huge_offset})
    assert response.status_code in (200, 400)
    response = post(api, "/experiments/search", {"max_results": 5, "page_token": huge_offset})
    assert response.status_code in (200, 400)
    ok(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}))
    response = api.get(
        f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m", "max_results": 2**63 - 1}
    )
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert len(response.json()["metrics"]) == 1
    error(post(api, "/runs/create", {"experiment_id": exp, "start_time": 2**64}))
    error(post(api, "/runs/update", {"run_id": run_id, "end_time": -(2**63) - 1}))
    error(
        post(
            api,
            "/experiments/create",
            {"name": f"big-{exp}", "artifact_location": None, "tags": [{"key": "k", "value": 10**30}]},
        )
    )
    history_token = base64.urlsafe_b64encode(_json.dumps([10**22, 0, 0.0, False]).encode()).decode()
    response = api.get(
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "m", "max_results": 1, "page_token": history_token},
    )
    assert response.status_code in (200, 400)
