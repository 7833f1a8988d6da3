"""Response shapes against the recorded MLflow exchanges (mlflow-wire-samples.jsonl).

For each endpoint, a scenario produces the same kind of object MLflow answered with, and every field
path MLflow's response carried must be present in tracklet's (MLflow 3's `workspace` aside).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.http.conftest import API, get_run, new_experiment, ok, post, samples

IGNORED = {
    "workspace",
    "features_enabled",
    "presigned_upload_model_id_supported",
    "presigned_upload_run_id_supported",
}


def field_paths(value: Any, prefix: str = "") -> set[str]:
    """The same notation as the samples file: `run.data.metrics[].key`."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= field_paths(child, path)
    elif isinstance(value, list):
        for child in value:
            paths |= field_paths(child, prefix + "[]")
    return paths


def expected_paths(endpoint: str) -> set[str]:
    fields = samples()[endpoint]["response_fields"]
    return {f for f in fields if not any(part.split("[")[0] in IGNORED for part in f.split("."))}


def assert_shape(endpoint: str, body: Any, optional: frozenset[str] = frozenset()) -> None:
    missing = expected_paths(endpoint) - field_paths(body) - optional
    assert not missing, f"{endpoint}: fields MLflow sends but tracklet does not: {sorted(missing)}"


@pytest.fixture(scope="module")
def scenario(server):
    """One experiment with a tag, a finished run with a metric at step 0, a param, a tag, a dataset input and
    a logged model linked as output, plus a metric on that model."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=60) as api:
        exp = new_experiment(api)
        ok(post(api, "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "k", "value": "v"}))
        run = ok(
            post(
                api,
                "/runs/create",
                {"experiment_id": exp, "start_time": 1, "tags": [{"key": "t", "value": "v"}]},
            )
        )
        run_id = run["run"]["info"]["run_id"]
        model = ok(
            post(
                api,
                "/logged-models",
                {"experiment_id": exp, "name": "model", "source_run_id": run_id, "params": [{"key": "p", "value": "1"}],
                 "tags": [{"key": "mt", "value": "x"}]},
            )
        )["model"]  # fmt: skip
        model_id = model["info"]["model_id"]
        ok(post(api, "/runs/log-batch", {
            "run_id": run_id,
            "metrics": [{"key": "m", "value": 1.0, "timestamp": 5, "step": 0},
                        {"key": "mm", "value": 2.0, "timestamp": 5, "step": 0, "model_id": model_id}],
            "params": [{"key": "p", "value": "1"}, {"key": "empty", "value": ""}],
        }))  # fmt: skip
        ok(post(api, "/runs/log-inputs", {
            "run_id": run_id,
            "datasets": [{"dataset": {"name": "d", "digest": "abc", "source_type": "local", "source": "/x", "schema": "{}",
                                      "profile": "{}"}, "tags": [{"key": "mlflow.data.context", "value": "train"}]}],
            "models": [{"model_id": model_id}],
        }))  # fmt: skip
        ok(post(api, "/runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]}))
        ok(post(api, "/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 10}))
        return {"exp": exp, "run_id": run_id, "model_id": model_id, "create_run": run, "create_model": model}


def test_experiment_shapes(api, scenario):
    exp = scenario["exp"]
    assert_shape(
        "GET /api/2.0/mlflow/experiments/get",
        ok(api.get(f"{API}/experiments/get", params={"experiment_id": exp})),
    )
    name = ok(api.get(f"{API}/experiments/get", params={"experiment_id": exp}))["experiment"]["name"]
    assert_shape(
        "GET /api/2.0/mlflow/experiments/get-by-name",
        ok(api.get(f"{API}/experiments/get-by-name", params={"experiment_name": name})),
    )
    found = ok(
        post(
            api,
            "/experiments/search",
            {"max_results": 1, "filter": f"tags.k = 'v' AND experiment_id = '{exp}'"},
        )
    )
    assert_shape("POST /api/2.0/mlflow/experiments/search", found, frozenset({"next_page_token"}))
    assert_shape(
        "POST /api/2.0/mlflow/experiments/create",
        ok(post(api, "/experiments/create", {"name": f"shape-{exp}"})),
    )


def test_run_shapes(api, scenario):
    run_id = scenario["run_id"]
    assert_shape("POST /api/2.0/mlflow/runs/create", scenario["create_run"])
    assert_shape("GET /api/2.0/mlflow/runs/get", {"run": get_run(api, run_id)})
    updated = ok(post(api, "/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 10}))
    assert_shape("POST /api/2.0/mlflow/runs/update", updated)
    found = ok(post(api, "/runs/search", {"experiment_ids": [scenario["exp"]], "max_results": 1}))
    assert_shape("POST /api/2.0/mlflow/runs/search", found, frozenset({"next_page_token"}))


def test_empty_values_and_zero_steps_are_sent(api, scenario):
    """MLflow sends fields that were set, even to "" or 0 (the R client builds data frames from them)."""
    run = get_run(api, scenario["run_id"])
    assert {"key": "empty", "value": ""} in run["data"]["params"]
    assert {"key": "m", "value": 1.0, "timestamp": 5, "step": 0} in run["data"]["metrics"]
    assert run["outputs"]["model_outputs"] == [{"model_id": scenario["model_id"], "step": 0}]
    history = ok(api.get(f"{API}/metrics/get-history", params={"run_id": scenario["run_id"], "metric_key": "m"}))
    assert history["metrics"] == [{"key": "m", "value": 1.0, "timestamp": 5, "step": 0}]
    assert scenario["create_model"]["info"]["model_type"] == ""


def test_empty_results_are_empty_objects(api, scenario):
    exp = new_experiment(api)
    assert ok(post(api, "/runs/search", {"experiment_ids": [exp]})) in ({}, {"runs": []})
    assert ok(post(api, "/runs/search", {})) in ({}, {"runs": []})
    history = ok(api.get(f"{API}/metrics/get-history", params={"run_id": scenario["run_id"], "metric_key": "none"}))
    assert history in ({}, {"metrics": []})
    assert ok(post(api, "/runs/set-tag", {"run_id": scenario["run_id"], "key": "x", "value": "y"})) == {}


def test_history_shape(api, scenario):
    body = ok(
        api.get(
            f"{API}/metrics/get-history",
            params={"run_id": scenario["run_id"], "metric_key": "m", "max_results": 1},
        )
    )
    assert_shape("GET /api/2.0/mlflow/metrics/get-history", body, frozenset({"next_page_token"}))


def test_logged_model_shapes(api, scenario):
    model_id = scenario["model_id"]
    assert_shape("POST /api/2.0/mlflow/logged-models", {"model": scenario["create_model"]})
    got = ok(api.get(f"{API}/logged-models/{model_id}"))
    assert_shape("GET /api/2.0/mlflow/logged-models/{model_id}", got)
    finalized = ok(
        api.patch(f"{API}/logged-models/{model_id}", json={"model_id": model_id, "status": "LOGGED_MODEL_READY"})
    )
    assert finalized["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert_shape("PATCH /api/2.0/mlflow/logged-models/{model_id}", finalized)
    found = ok(post(api, "/logged-models/search", {"experiment_ids": [scenario["exp"]], "filter": "name = 'model'"}))
    assert_shape("POST /api/2.0/mlflow/logged-models/search", found)


def test_probe_shapes(api):
    info = ok(api.get("/api/3.0/mlflow/server-info"))
    assert_shape("GET /api/3.0/mlflow/server-info", info)
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False
    health = api.get("/health")
    assert health.status_code == 200 and health.text == "OK"
    version = api.get("/version")
    assert version.status_code == 200
    major_minor = tuple(int(x) for x in version.text.strip().split(".")[:2])
    assert major_minor < (3, 4)  # keeps the client away from OTLP span export


def test_r_client_artifacts_list(api, scenario):
    run_id = scenario["run_id"]
    run = get_run(api, run_id)
    root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    for path, content in (("a.csv", b"x"), ("tree/b.csv", b"yy"), ("tree/sub/c.csv", b"zzz")):
        assert api.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/{path}", content=content).status_code == 200
    body = ok(api.get(f"{API}/artifacts/list", params={"run_uuid": run_id, "run_id": run_id}))
    assert body["root_uri"] == run["info"]["artifact_uri"]
    assert_shape("GET /api/2.0/mlflow/artifacts/list", body)
    assert {(f["path"], f["is_dir"]) for f in body["files"]} == {("a.csv", False), ("tree", True)}
    sub = ok(api.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "tree"}))
    # Paths are relative to the run root (unlike the proxy listing's basenames).
    assert {(f["path"], f["is_dir"], f.get("file_size")) for f in sub["files"]} == {
        ("tree/b.csv", False, 2),
        ("tree/sub", True, None),
    }
    single = ok(api.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "a.csv"}))
    assert "files" not in single or single["files"] == []
    proxy = ok(api.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/tree"}))
    assert_shape("GET /api/2.0/mlflow-artifacts/artifacts", proxy)
    assert {f["path"] for f in proxy["files"]} == {"b.csv", "sub"}


def test_r_client_log_model(api, scenario):
    run_id = scenario["run_id"]
    model_json = {
        "artifact_path": "model",
        "flavors": {"crate": {"version": "0.1.0", "model": "crate.bin"}},
        "utc_time_created": "2024-01-01 00:00:00.000000",
        "run_id": run_id,
    }
    assert ok(post(api, "/runs/log-model", {"run_id": run_id, "model_json": json.dumps(model_json)})) == {}
    assert (
        ok(
            post(
                api,
                "/runs/log-model",
                {"run_id": run_id, "model_json": json.dumps({**model_json, "artifact_path": "m2"})},
            )
        )
        == {}
    )
    tags = {t["key"]: t["value"] for t in get_run(api, run_id)["data"]["tags"]}
    history = json.loads(tags["mlflow.log-model.history"])
    assert [m["artifact_path"] for m in history] == ["model", "m2"]
    response = post(api, "/runs/log-model", {"run_id": run_id, "model_json": "{not json"})
    assert response.status_code == 400
    response = post(api, "/runs/log-model", {"run_id": run_id})
    assert response.status_code == 400
