"""Direct HTTP against a real `tracklet server`: what the MLflow clients never send.

Every response seen through the `api` fixture is checked for the promise that bad input never
yields a 5xx (MLflow clients retry 5xx for minutes) and that errors are MLflow's JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import TrackletServer

API = "/api/2.0/mlflow"
# Real request/response pairs recorded from an MLflow 3.17.2 server (a copy of ../shared/reference).
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "mlflow-wire-samples.jsonl"


def check_answer(response: httpx.Response) -> None:
    response.read()
    path = response.request.url.path
    if response.status_code == 501 and path.startswith(
        ("/api/2.0/mlflow-artifacts/mpu/", "/api/2.0/mlflow-artifacts/presigned/")
    ):
        return  # on a local store, as MLflow's server (test_fuzz_s3 holds an S3 store to answering)
    if response.status_code == 503 and "/3.0/mlflow/workspaces" in path:
        # without --enable-workspaces, as MLflow's server (test_workspaces checks the words)
        assert "disabled because the server is running without workspaces support" in response.text
        return
    assert response.status_code < 500, (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:500]}"
    )
    if response.status_code >= 400 and response.request.url.path.startswith("/api/") and response.status_code != 405:
        body = response.json()
        assert set(body) >= {"error_code", "message"}, body
        assert "detail" not in body


@pytest.fixture
def api(server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.url, timeout=60, event_hooks={"response": [check_answer]}) as client:
        yield client


def post(api: httpx.Client, path: str, body: Any) -> httpx.Response:
    return api.post(API + path, json=body)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json() if response.content else {}


def error(response: httpx.Response, status: int = 400, code: str = "INVALID_PARAMETER_VALUE") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return body["message"]  # type: ignore[no-any-return]


def new_experiment(api: httpx.Client) -> str:
    return ok(post(api, "/experiments/create", {"name": f"http-{uuid.uuid4().hex[:10]}"}))["experiment_id"]  # type: ignore[no-any-return]


def new_run(api: httpx.Client, experiment_id: str | None = None) -> str:
    body = {"experiment_id": experiment_id or new_experiment(api)}
    return ok(post(api, "/runs/create", body))["run"]["info"]["run_id"]  # type: ignore[no-any-return]


def get_run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    return ok(api.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]  # type: ignore[no-any-return]


def samples() -> dict[str, dict[str, Any]]:
    return {d["endpoint"]: d for d in map(json.loads, SAMPLES.read_text().splitlines()) if d}


ADMIN = ("admin", "admin-password-1")


@pytest.fixture(scope="module", params=BACKENDS)
def guarded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    """A running `tracklet server --auth` on each backend, its first admin `ADMIN`."""
    tmp = tmp_path_factory.mktemp("auth")
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": ADMIN[1]}
    server = TrackletServer(_store_uri(request.param, tmp, request), str(tmp / "artifacts"), env=env).start()
    yield server
    server.stop()
