"""Routing: unknown routes answer as the MLflow client expects, wrong methods 405, and no input ever yields a 5xx."""

from __future__ import annotations

import json

import pytest

from tests.http.conftest import API, new_run

UNKNOWN_API_ROUTES = [
    ("GET", "/api/2.0/mlflow/nothing-here"),
    ("POST", "/api/2.0/mlflow/runs/frobnicate"),
    ("POST", "/api/3.0/mlflow/traces/tr-1/unknown"),
    ("GET", "/api/2.0/mlflow/unified-traces"),
    ("GET", "/api/3.0/mlflow/server-features"),
    ("POST", "/api/2.0/mlflow/registered-models/frobnicate"),
    ("GET", "/api/2.0/mlflow/model-versions/list"),
    ("GET", "/api/2.0/mlflow/experiments/get/extra"),
    ("GET", "/api/9.9/anything"),
    ("DELETE", "/api/2.0/mlflow/unknown/thing"),
    ("GET", "/ajax-api/2.0/mlflow/nothing"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN_API_ROUTES)
def test_unknown_api_routes_are_endpoint_not_found(api, method, path):
    response = api.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == "ENDPOINT_NOT_FOUND"
    assert "detail" not in body


@pytest.mark.parametrize("path", ["/nothing", "/v1/metrics", "/static/x.js", "/api"])
def test_unknown_routes_outside_the_api(api, path):
    response = api.get(path)
    assert response.status_code == 404
    # Either not JSON at all, or MLflow's error JSON: never FastAPI's {"detail": ...}.
    try:
        body = response.json()
    except json.JSONDecodeError:
        return
    assert "detail" not in body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{API}/runs/get"),
        ("GET", f"{API}/runs/search"),
        ("GET", f"{API}/runs/create"),
        ("PUT", f"{API}/experiments/create"),
        ("DELETE", f"{API}/runs/get"),
        ("POST", f"{API}/metrics/get-history"),
        ("GET", f"{API}/runs/log-batch"),
        ("POST", f"{API}/experiments/get-by-name"),
        ("PUT", f"{API}/logged-models/m-0123/params"),
        ("POST", "/api/2.0/mlflow-artifacts/artifacts/0/x.txt"),
        ("POST", "/health"),
        ("GET", f"{API}/registered-models/create"),
        ("POST", f"{API}/registered-models/get"),
        ("POST", f"{API}/registered-models/update"),
        ("POST", f"{API}/registered-models/delete"),
        ("POST", f"{API}/registered-models/search"),
        ("PUT", f"{API}/registered-models/alias"),
        ("POST", f"{API}/model-versions/delete"),
        ("POST", f"{API}/model-versions/update"),
        ("GET", f"{API}/model-versions/transition-stage"),
        ("GET", "/v1/traces"),
        ("POST", f"{API}/model-versions/get-download-uri"),
    ],
)
def test_wrong_methods_are_405(api, method, path):
    response = api.request(method, path)
    assert response.status_code == 405


def test_experiments_search_answers_get_and_post(api):
    assert api.get(f"{API}/experiments/search", params={"max_results": 1}).status_code == 200
    assert api.post(f"{API}/experiments/search", json={"max_results": 1}).status_code == 200


def test_tracking_uri_with_trailing_slash_paths(api):
    # Clients build `<tracking_uri><path>`; a stray slash must not turn into a 5xx.
    response = api.get(f"{API}/experiments/get/", params={"experiment_id": "0"})
    assert response.status_code in (200, 307, 404)


# ---- a sweep: odd bodies on every JSON endpoint never yield a 5xx --------------------------------

POST_ENDPOINTS = [
    "/experiments/create", "/experiments/delete", "/experiments/restore", "/experiments/update",
    "/experiments/set-experiment-tag", "/experiments/delete-experiment-tag", "/experiments/search",
    "/runs/create", "/runs/update", "/runs/delete", "/runs/restore", "/runs/log-parameter", "/runs/log-metric",
    "/runs/log-batch", "/runs/set-tag", "/runs/delete-tag", "/runs/search", "/runs/log-inputs", "/runs/outputs",
    "/runs/log-model", "/logged-models", "/logged-models/search",
]  # fmt: skip
GET_ENDPOINTS = [
    "/experiments/get",
    "/experiments/get-by-name",
    "/runs/get",
    "/metrics/get-history",
    "/artifacts/list",
]

ODD_BODIES = [
    {},
    {"run_id": None, "experiment_id": None},
    {"run_id": "", "experiment_id": "", "name": "", "key": "", "value": ""},
    {"run_id": "0" * 32, "experiment_id": "0", "key": "k", "value": "v", "timestamp": 1, "name": "n"},
    {"run_id": "x" * 5000, "experiment_id": "9" * 40, "key": "k" * 5000},
    {"experiment_id": -1, "max_results": -1, "view_type": -1, "run_view_type": 99},
    {"experiment_ids": [None, 1, "a"], "filter": "'" * 3, "order_by": [None]},
    {"metrics": [None], "params": [None], "tags": [None], "datasets": [None], "models": [None]},
    {"metrics": [{}], "params": [{}], "tags": [{}], "datasets": [{}], "models": [{}]},
    {"model_json": "[]", "run_id": "0" * 32},
    {"status": {"nested": True}, "run_id": "0" * 32},
    {"filter": "metrics.a = 1e999999", "experiment_ids": ["0"]},
    {"filter": "params.a = '\x00'", "experiment_ids": ["0"]},
    {"filter": "attributes.start_time > 99999999999999999999999999", "experiment_ids": ["0"]},
    {"new_name": None, "experiment_id": "0"},
]


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_no_5xx_for_odd_bodies(api, path):
    for body in ODD_BODIES:
        response = api.post(API + path, json=body)
        assert response.status_code < 500, (path, body, response.text)


@pytest.mark.parametrize("path", GET_ENDPOINTS)
def test_no_5xx_for_odd_queries(api, path):
    for params in (
        {},
        {"run_id": "", "experiment_id": "", "experiment_name": ""},
        {"run_id": "0" * 32, "experiment_id": "1" * 30, "metric_key": "m", "max_results": "x"},
        {"run_uuid": "../../etc", "path": "../../etc", "experiment_name": "\x00"},
        {"run_id": "a", "max_results": "-5", "page_token": "%%%"},
    ):
        response = api.get(API + path, params=params)
        assert response.status_code < 500, (path, params, response.text)


def test_no_5xx_for_odd_logged_model_calls(api):
    for method, path, body in [
        ("GET", f"{API}/logged-models/nope", None),
        ("PATCH", f"{API}/logged-models/nope", {"status": "LOGGED_MODEL_READY"}),
        ("PATCH", f"{API}/logged-models/nope", {}),
        ("DELETE", f"{API}/logged-models/nope", None),
        ("PATCH", f"{API}/logged-models/nope/tags", {"tags": [{"key": "a", "value": "b"}]}),
        ("DELETE", f"{API}/logged-models/nope/tags/a", None),
        ("POST", f"{API}/logged-models/nope/params", {"params": [{"key": "a", "value": "b"}]}),
        ("POST", f"{API}/logged-models", {"experiment_id": "99999"}),
        ("POST", f"{API}/logged-models", {"experiment_id": "0", "source_run_id": "nope"}),
        (
            "POST",
            f"{API}/logged-models/search",
            {"experiment_ids": ["0"], "order_by": [{"field_name": "nope"}]},
        ),
        ("POST", f"{API}/logged-models/search", {"experiment_ids": ["0"], "filter": "metrics.x > 'a'"}),
        ("POST", f"{API}/logged-models/search", {"experiment_ids": ["0"], "page_token": "junk"}),
    ]:
        response = api.request(method, path, json=body)
        assert response.status_code < 500, (method, path, body, response.text)
        if method != "POST" or "search" in path:
            assert response.status_code in (400, 404), (method, path, response.text)


def test_outputs_and_inputs_with_unknown_models(api):
    run_id = new_run(api)
    response = api.post(f"{API}/runs/outputs", json={"run_id": run_id, "models": [{"model_id": "m-nope", "step": 0}]})
    assert response.status_code == 404
    response = api.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "models": [{"model_id": "m-nope"}]})
    assert response.status_code == 404


def test_nul_characters_are_refused_the_same_on_every_backend(api):
    """PostgreSQL cannot store NUL in text and SQLite could: both refuse it, naming the field, storing nothing."""
    run_id = new_run(api)
    for path, body, field in [
        ("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "a\x00b"}, "value"),
        ("/runs/set-tag", {"run_id": run_id, "key": "t", "value": "\x00"}, "value"),
        ("/runs/log-batch", {"run_id": run_id, "params": [{"key": "ok", "value": "1"}, {"key": "k\x00", "value": "2"}]},
         "params[1].key"),
        ("/experiments/create", {"name": "nul\x00name"}, "name"),
        ("/runs/search", {"experiment_ids": ["0"], "filter": "tags.t = '\x00'"}, "filter"),
    ]:  # fmt: skip
        response = api.post(API + path, json=body)
        assert response.status_code == 400, (path, response.text)
        assert response.json() == {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": f"Invalid value for parameter '{field}' supplied: text cannot contain NUL (\\u0000)",
        }
    data = api.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    assert "params" not in data and all(t["key"].startswith("mlflow.") for t in data.get("tags", []))
    response = api.get(f"{API}/experiments/get-by-name", params={"experiment_name": "\x00"})
    assert response.status_code == 400 and "'experiment_name'" in response.json()["message"]
    escaped = api.post(f"{API}/runs/set-tag", content=b'{"run_id": "%s", "key": "t", "value": "\\\\u0000"}' % run_id.encode(),
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert escaped.status_code == 200, "a backslash followed by u0000 is plain text"


def test_a_nul_byte_in_a_history_key_is_a_client_error(api):
    run_id = new_run(api)
    response = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "a\x00b"})
    assert response.status_code == 400 and "'metric_key'" in response.json()["message"]
