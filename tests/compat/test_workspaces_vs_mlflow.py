"""The same workspace requests sent to `mlflow server` with workspaces on and to `tracklet server
--enable-workspaces`: the same statuses, error codes and messages, and answers of the same shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import MlflowServer, TrackletServer

WS = "/api/3.0/mlflow/workspaces"
API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"

# Where the two servers are known to part ways, on purpose (README, "Workspaces").
SAME_CODE_ONLY = {
    "duplicate workspace",  # MLflow's messages quote its database's error
    "same name again in a",
    "name of the wrong type",  # MLflow's and tracklet's words for a wrong JSON type differ everywhere
}


def _scenario() -> list[tuple[str, str, str, Any, dict[str, str]]]:
    """(label, method, path, JSON body, headers); `{e:x}` in a path is the id of experiment x."""
    a = {"X-MLflow-Workspace": "team-a"}
    b = {"X-MLflow-Workspace": "team-b"}
    return [
        ("create", "POST", WS, {"name": "team-a", "description": "A"}, {}),
        ("create with a root", "POST", WS, {"name": "team-b", "default_artifact_root": "s3://bucket/b"}, {}),
        ("duplicate workspace", "POST", WS, {"name": "team-a"}, {}),
        ("create default", "POST", WS, {"name": "default"}, {}),
        ("upper case", "POST", WS, {"name": "Team"}, {}),
        ("too short", "POST", WS, {"name": "t"}, {}),
        ("reserved", "POST", WS, {"name": "static-files"}, {}),
        ("no name", "POST", WS, {}, {}),
        ("name of the wrong type", "POST", WS, {"name": 5}, {}),
        ("relative root", "POST", WS, {"name": "team-r", "default_artifact_root": "rel/dir"}, {}),
        ("bad retention", "POST", WS, {"name": "team-r", "trace_archival_config": {"retention": "5y"}}, {}),
        ("list", "GET", WS, None, {}),
        ("get", "GET", f"{WS}/team-a", None, {}),
        ("get default", "GET", f"{WS}/default", None, {}),
        ("get missing", "GET", f"{WS}/nope", None, {}),
        ("get bad name", "GET", f"{WS}/No_Pe", None, {}),
        ("empty update", "PATCH", f"{WS}/team-a", {}, {}),
        ("update", "PATCH", f"{WS}/team-a", {"description": "A2"}, {}),
        ("update missing", "PATCH", f"{WS}/nope", {"description": "x"}, {}),
        (
            "header of no workspace",
            "GET",
            f"{API}/experiments/get?experiment_id=0",
            None,
            {"X-MLflow-Workspace": "nope"},
        ),
        ("header bad name", "GET", f"{API}/experiments/get?experiment_id=0", None, {"X-MLflow-Workspace": "No_Pe"}),
        ("experiment 0 from a", "GET", f"{API}/experiments/get?experiment_id=0", None, a),
        ("search in a", "POST", f"{API}/experiments/search", {"max_results": 10}, a),
        ("experiment in a", "POST", f"{API}/experiments/create", {"name": "x"}, a),
        ("experiment in b", "POST", f"{API}/experiments/create", {"name": "x"}, b),
        ("experiment in default", "POST", f"{API}/experiments/create", {"name": "x"}, {}),
        ("same name again in a", "POST", f"{API}/experiments/create", {"name": "x"}, a),
        ("with a location", "POST", f"{API}/experiments/create", {"name": "y", "artifact_location": "/tmp/y"}, a),
        ("by name in a", "GET", f"{API}/experiments/get-by-name?experiment_name=x", None, a),
        ("Default by name in a", "GET", f"{API}/experiments/get-by-name?experiment_name=Default", None, a),
        ("b's experiment from a", "GET", f"{API}/experiments/get?experiment_id={{e:b}}", None, a),
        ("run without experiment in a", "POST", f"{API}/runs/create", {}, a),
        ("runs of b searched from a", "POST", f"{API}/runs/search", {"experiment_ids": ["{e:b}"]}, a),
        ("model in a", "POST", f"{API}/registered-models/create", {"name": "m"}, a),
        ("model in default", "POST", f"{API}/registered-models/create", {"name": "m"}, {}),
        ("model only in default", "POST", f"{API}/registered-models/create", {"name": "d-only"}, {}),
        ("default's model from a", "GET", f"{API}/registered-models/get?name=d-only", None, a),
        ("models of a", "POST", f"{API}/registered-models/search", {}, a),
        ("artifact path into b from a", "GET", f"{ARTIFACTS}/workspaces/team-b/f.txt", None, a),
        ("artifact path without a name", "GET", f"{ARTIFACTS}/workspaces/", None, a),
        ("delete default", "DELETE", f"{WS}/default", None, {}),
        ("delete bad mode", "DELETE", f"{WS}/team-a?mode=SOMETIMES", None, {}),
        ("restrict", "DELETE", f"{WS}/team-a", None, {}),
        ("set default with clashes", "DELETE", f"{WS}/team-a?mode=SET_DEFAULT", None, {}),
        ("cascade", "DELETE", f"{WS}/team-a?mode=CASCADE", None, {}),
        ("deleted one", "GET", f"{WS}/team-a", None, {}),
        ("delete missing", "DELETE", f"{WS}/nope", None, {}),
        ("list at the end", "GET", WS, None, {}),
    ]


def _play(url: str) -> list[tuple[str, int, Any]]:
    answers: list[tuple[str, int, Any]] = []
    experiments: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=60) as http:
        for label, method, path, body, headers in _scenario():
            for key, value in experiments.items():
                path = path.replace(f"{{e:{key}}}", value)
            if isinstance(body, dict) and body.get("experiment_ids") == ["{e:b}"]:
                body = {"experiment_ids": [experiments["b"]]}
            answer = http.request(method, path, json=body, headers=headers)
            payload = (
                answer.json()
                if answer.content and answer.headers.get("content-type", "").startswith("application/json")
                else None
            )
            if label.startswith("experiment in ") and answer.status_code == 200:
                experiments[label.removeprefix("experiment in ")] = payload["experiment_id"]
            answers.append((label, answer.status_code, payload))
    return answers


def _shape(payload: Any) -> Any:
    """What must agree: error code and message, or the fields and values that do not vary by server
    (names, descriptions, roots, workspaces), not ids and times."""
    if not isinstance(payload, dict):
        return payload
    if "error_code" in payload:
        return {"error_code": payload["error_code"], "message": payload["message"]}
    kept: dict[str, Any] = {}
    for key, value in payload.items():
        if key in (
            "experiment_id",
            "creation_time",
            "last_update_time",
            "creation_timestamp",
            "last_updated_timestamp",
        ):
            continue
        if isinstance(value, list):
            kept[key] = [_shape(v) for v in value]
        elif isinstance(value, dict):
            kept[key] = _shape(value)
        elif key == "artifact_location":
            kept[key] = value.rsplit("/", 1)[0]  # the id differs
        else:
            kept[key] = value
    return kept


@pytest.fixture(scope="module")
def mlflow_answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, int, Any]]]:
    server = MlflowServer(Path(tmp_path_factory.mktemp("mlflow-ws")), env={"MLFLOW_ENABLE_WORKSPACES": "true"}).start()
    try:
        yield _play(server.url)
    finally:
        server.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tracklet_answers_the_workspace_scenario_as_mlflow_does(
    backend: str, mlflow_answers: list[tuple[str, int, Any]], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = {"TRACKLET_ENABLE_WORKSPACES": "true"}
    server = TrackletServer(_store_uri(backend, tmp_path, request), str(tmp_path / "artifacts"), env=env).start()
    try:
        tracklet_answers = _play(server.url)
    finally:
        server.stop()
    mismatches: list[tuple[str, Any, Any]] = []
    for (label, mlflow_status, mlflow_payload), (_, status, payload) in zip(
        mlflow_answers, tracklet_answers, strict=True
    ):
        if mlflow_payload is not None and mlflow_payload.get("error_code") == "INVALID_STATE":
            assert (status, payload["error_code"]) == (400, "INVALID_STATE"), label  # MLflow: 500 (README)
            assert payload["message"] == mlflow_payload["message"], label
            continue
        assert status == mlflow_status, (label, payload, mlflow_payload)
        if label in SAME_CODE_ONLY:
            assert payload["error_code"] == mlflow_payload["error_code"], label
            continue
        if _shape(payload) != _shape(mlflow_payload):
            mismatches.append((label, _shape(payload), _shape(mlflow_payload)))
    assert mismatches == []
