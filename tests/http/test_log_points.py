"""`POST /api/tracklet/runs/log-points`: tracklet's own bulk path for metric points, as parallel columns.

The stored result must be exactly what the same points sent through MLflow's `log-batch` give, and a
refused request must write nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.http.conftest import error, get_run, new_run, ok, post
from tracklet.server.api.points import MAX_POINTS

PATH = "/api/tracklet/runs/log-points"


def log_points(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post(PATH, json=body)


def history(api: httpx.Client, run_id: str, key: str) -> list[tuple[int, int, Any]]:
    found = ok(api.get("/api/2.0/mlflow/metrics/get-history", params={"run_id": run_id, "metric_key": key}))
    return [(m["step"], m["timestamp"], m["value"]) for m in found.get("metrics", [])]


def test_points_sent_as_columns_are_stored_as_log_batch_stores_them(api: httpx.Client) -> None:
    columns_run, batch_run = new_run(api), new_run(api)
    keys = ["loss", "acc"] * 1500
    values = [1.0 / (i + 1) for i in range(3000)]
    stamps = [1_700_000_000_000 + i for i in range(3000)]
    steps = [i // 2 for i in range(3000)]
    ok(log_points(api, {"run_id": columns_run, "key": keys, "value": values, "timestamp": stamps, "step": steps}))
    for start in range(0, 3000, 1000):
        metrics = [
            {"key": k, "value": v, "timestamp": t, "step": s}
            for k, v, t, s in list(zip(keys, values, stamps, steps, strict=True))[start : start + 1000]
        ]
        ok(post(api, "/runs/log-batch", {"run_id": batch_run, "metrics": metrics}))
    for key in ("loss", "acc"):
        assert history(api, columns_run, key) == history(api, batch_run, key)
        assert len(history(api, columns_run, key)) == 1500
    assert get_run(api, columns_run)["data"]["metrics"] == get_run(api, batch_run)["data"]["metrics"]


def test_step_defaults_to_zero_and_nan_and_infinity_come_as_strings(api: httpx.Client) -> None:
    run_id = new_run(api)
    body = {"run_id": run_id, "key": ["m", "m", "m"], "value": ["NaN", "Infinity", 2.5], "timestamp": [1, 2, 3]}
    ok(log_points(api, body))
    points = history(api, run_id, "m")
    assert [(step, ts) for step, ts, _ in points] == [(0, 1), (0, 2), (0, 3)]
    assert points[0][2] == "NaN" and points[2][2] == 2.5
    assert points[1][2] > 1e308  # +inf is stored as the largest double, as MLflow does


BAD_REQUESTS = {
    "columns of unequal length": ({"key": ["m", "m"], "value": [1.0], "timestamp": [1, 2]}, "'value' has 1 entries"),
    "a refused metric name": ({"key": ["m", "bad key!"], "value": [1.0, 2.0], "timestamp": [1, 2]}, "key[1]"),
    "a negative timestamp": ({"key": ["m", "m"], "value": [1.0, 2.0], "timestamp": [1, -2]}, "timestamp[1]"),
    "no points": ({"key": [], "value": [], "timestamp": []}, "'key'"),
    "a null value": ({"key": ["m"], "value": [None], "timestamp": [1]}, "value[0]"),
    "a value that is no number": ({"key": ["m"], "value": ["high"], "timestamp": [1]}, "value[0]"),
    "too many points": (
        {"key": ["m"] * (MAX_POINTS + 1), "value": [0.5] * (MAX_POINTS + 1), "timestamp": [1] * (MAX_POINTS + 1)},
        f"at most {MAX_POINTS} points",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS), ids=list(BAD_REQUESTS))
def test_a_bad_request_is_refused_whole_with_a_clear_message(api: httpx.Client, case: str) -> None:
    run_id = new_run(api)
    body, expected = BAD_REQUESTS[case]
    message = error(log_points(api, {"run_id": run_id, **body}))
    assert expected in message
    assert history(api, run_id, "m") == [], "a refused request wrote points"
    assert get_run(api, run_id)["data"].get("metrics", []) == []


def test_unknown_and_deleted_runs_are_refused(api: httpx.Client) -> None:
    body = {"key": ["m"], "value": [1.0], "timestamp": [1]}
    error(log_points(api, {"run_id": "0" * 32, **body}), 404, "RESOURCE_DOES_NOT_EXIST")
    run_id = new_run(api)
    ok(post(api, "/runs/delete", {"run_id": run_id}))
    assert "must be in the 'active' state" in error(log_points(api, {"run_id": run_id, **body}))
    error(log_points(api, body))  # no run id at all
