"""A fault of the server itself (here: a table gone from under it) answers 500 in MLflow's JSON shape,
keeps its details (SQL, values) in the server log, and leaves every other endpoint working. Checked on
both of the app's request paths: the fixed API paths it dispatches itself and Starlette's router."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import TrackletServer

API = "/api/2.0/mlflow"


@pytest.fixture
def damaged(tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    """A server whose `params` and `logged_models` tables were dropped while it ran, and a run of it."""
    db = tmp_path / "tracklet.db"
    server = TrackletServer(f"sqlite:///{db}", str(tmp_path / "artifacts")).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            run_id = http.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
            with sqlite3.connect(db) as conn:
                conn.execute("DROP TABLE params")
                conn.execute("DROP TABLE logged_models")
            yield http, run_id
        assert "OperationalError" in server.log()
    finally:
        server.stop()


def _is_internal_error(response: httpx.Response) -> bool:
    body = response.json()
    return (
        response.status_code == 500
        and body["error_code"] == "INTERNAL_ERROR"
        and "server log" in body["message"]
        and "params" not in body["message"]  # no SQL or table names
    )


def test_a_fault_answers_mlflows_500_and_the_rest_keeps_working(damaged: tuple[httpx.Client, str]) -> None:
    http, run_id = damaged
    # A fixed path (dispatched by the app itself) and a path with a parameter (Starlette's router).
    assert _is_internal_error(http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "k", "value": "v"}))
    assert _is_internal_error(http.get(f"{API}/logged-models/m-0123456789abcdef"))

    logged = http.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "value": 1.5, "timestamp": 1})
    assert logged.status_code == 200
    history = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()
    assert [m["value"] for m in history["metrics"]] == [1.5]


def test_errors_of_tasks_run_side_by_side_are_answered_as_one() -> None:
    """A request's tasks in an anyio task group (a chart's runs) fail together, in an ExceptionGroup:
    request errors are the first one's 4xx (was a 500), anything else among them a 500."""
    import asyncio
    import json

    from starlette.requests import Request

    from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
    from tracklet.server.app import _handler_for

    request = Request({"type": "http", "method": "GET", "path": "/api/tracklet/metrics/history", "headers": []})

    def answer(exc: Exception) -> tuple[int, dict[str, str]]:
        response = asyncio.run(_handler_for(exc)(request, exc))
        return response.status_code, json.loads(bytes(response.body))

    bad, gone = InvalidParameterValue("bad range"), ResourceDoesNotExist("no run")
    assert answer(ExceptionGroup("tasks", [bad, ExceptionGroup("inner", [gone])])) == (
        400,
        {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad range"},
    )
    status, body = answer(ExceptionGroup("tasks", [bad, KeyError("bug")]))
    assert status == 500 and body["error_code"] == "INTERNAL_ERROR"
