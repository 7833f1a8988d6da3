"""`GET metrics/get-history-bulk-interval`: MLflow UI's chart read, against the recorded exchange and
MLflow 3.17's sampling rule (NTILE over the points in (step, timestamp, value) order, last point kept).

The official client has no call for it (`MlflowClient` never sends it), so these are HTTP tests.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.http.conftest import error, new_experiment, new_run, ok, post, samples

ENDPOINT = "GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
PATHS = ["/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", "/api/2.0/mlflow/metrics/get-history-bulk-interval"]
DOCS = " See the API docs for more information about request parameters."


def bulk(api: httpx.Client, params: list[tuple[str, Any]], path: str = PATHS[0]) -> httpx.Response:
    return api.get(path, params=params)


def log(api: httpx.Client, run_id: str, points: list[tuple[int, int, float]], key: str = "m") -> None:
    """(step, timestamp, value) points, 1,000 per log-batch."""
    for start in range(0, len(points), 1000):
        metrics = [{"key": key, "step": s, "timestamp": t, "value": v} for s, t, v in points[start : start + 1000]]
        ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": metrics}))


def mlflow_sample(points: list[tuple[int, int, float]], max_results: int, start: int | None = None,
                  end: int | None = None) -> list[tuple[int, int, float]]:  # fmt: skip
    """MLflow 3.17's SQL store, restated: NTILE(max_results) over the ordered points in range, the
    first row of each bucket, and the last point (replacing the last pick when the sample is full)."""
    rows = sorted(p for p in set(points) if start is None or start <= p[0] <= end)  # type: ignore[operator]
    if not rows:
        return []
    n = min(max_results, len(rows))
    sizes = [len(rows) // n + (1 if b < len(rows) % n else 0) for b in range(n)]
    firsts, at = [], 0
    for size in sizes:
        firsts.append(rows[at])
        at += size
    if firsts[-1] != rows[-1]:
        if len(firsts) >= max_results:
            firsts[-1] = rows[-1]
        else:
            firsts.append(rows[-1])
    return firsts


def got(response: httpx.Response, run_id: str, key: str = "m") -> list[tuple[int, int, float]]:
    points = ok(response).get("metrics", [])
    assert all(p["run_id"] == run_id and p["key"] == key for p in points)
    return [(p["step"], p["timestamp"], p["value"]) for p in points]


def test_the_recorded_exchange(api: httpx.Client) -> None:
    sample = samples()[ENDPOINT]["example"]
    run_id = new_run(api)
    log(api, run_id, [(0, 10, 1.5), (1, 9, 2.5), (1, 11, 0.5)], key="bm")
    query = [(k, run_id if k == "run_ids" else v) for k, v in parse_qsl(sample["request"]["query"])]
    expected = sample["response"]["body"]
    for point in expected["metrics"]:
        point["run_id"] = run_id
    for path in PATHS:
        response = bulk(api, query, path)
        assert response.headers["content-type"] == "application/json"
        assert ok(response) == expected


def test_short_history_is_sampled_like_mlflow(api: httpx.Client) -> None:
    run_id = new_run(api)
    points = [(s, 1000 + s, s / 10) for s in range(0, 300, 3)] + [(30, 5, -1.0), (30, 2000, 7.0)]
    log(api, run_id, points)
    for max_results, start, end in [(2500, None, None), (7, None, None), (1, None, None), (2, None, None),
                                    (10, 30, 90), (5, 31, 32), (5, 400, 500)]:  # fmt: skip
        params: list[tuple[str, Any]] = [("run_ids", run_id), ("metric_key", "m"), ("max_results", max_results)]
        if start is not None:
            params += [("start_step", start), ("end_step", end)]
        assert got(bulk(api, params), run_id) == mlflow_sample(points, max_results, start, end), params


def test_long_history_is_sampled_like_mlflow(api: httpx.Client) -> None:
    """Past 1,000 points a history has tiles and the sample is located through them: same answer."""
    run_id = new_run(api)
    # 4,500 points: gaps in the steps, two points on every 7th step, time not always in step order
    points = [(s * 3, 10_000 + s, (s * 37 % 101) / 7) for s in range(4000)]
    points += [(s * 3, 9_000 - s, -s / 3) for s in range(0, 4000, 7)]
    log(api, run_id, points)
    default = mlflow_sample(points, 2500)
    assert got(bulk(api, [("run_ids", run_id), ("metric_key", "m")]), run_id) == default
    for max_results, start, end in [(320, None, None), (1, None, None), (3, None, None), (100, 1000, 7000),
                                    (50, 4, 4), (9, 2998, 3004), (2500, 0, 11_997)]:  # fmt: skip
        params: list[tuple[str, Any]] = [("run_ids", run_id), ("metric_key", "m"), ("max_results", max_results)]
        if start is not None:
            params += [("start_step", start), ("end_step", end)]
        assert got(bulk(api, params), run_id) == mlflow_sample(points, max_results, start, end), params


def test_long_history_with_nan_is_sampled_like_mlflow(api: httpx.Client) -> None:
    run_id = new_run(api)
    log(api, run_id, [(s, s, float(s)) for s in range(1500)])
    ok(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": "NaN", "timestamp": 3000, "step": 1500}))
    points = got(bulk(api, [("run_ids", run_id), ("metric_key", "m"), ("max_results", 4)]), run_id)
    assert points == [(0, 0, 0.0), (376, 376, 376.0), (751, 751, 751.0), (1500, 3000, "NaN")]


def test_runs_come_in_the_order_asked_and_unknown_runs_add_nothing(api: httpx.Client) -> None:
    exp = new_experiment(api)
    a, b = new_run(api, exp), new_run(api, exp)
    log(api, a, [(s, s, 1.0) for s in range(5)])
    log(api, b, [(s, s, 2.0) for s in range(3)])
    params = [("run_ids", b), ("run_ids", "0" * 32), ("run_ids", a), ("metric_key", "m"), ("max_results", 2)]
    body = ok(bulk(api, params))
    assert [(p["run_id"], p["step"]) for p in body["metrics"]] == [(b, 0), (b, 2), (a, 0), (a, 4)]
    assert ok(bulk(api, [("run_ids", a), ("metric_key", "other")])) == {}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("metric_key=m", "Missing value for required parameter 'run_ids'." + DOCS),
        ("run_ids=r", "Missing value for required parameter 'metric_key'." + DOCS),
        ("run_ids=r&metric_key=", "Missing value for required parameter 'metric_key'." + DOCS),
        ("&".join(["run_ids=r"] * 101) + "&metric_key=m",
         "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids." + DOCS),
        ("run_ids=r&metric_key=m&max_results=0", "max_results must be between 1 and 2500." + DOCS),
        ("run_ids=r&metric_key=m&max_results=2501", "max_results must be between 1 and 2500." + DOCS),
        ("run_ids=r&metric_key=m&max_results=ten",
         "Invalid value \"ten\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'." + DOCS),
        ("run_ids=r&metric_key=m&start_step=1.5&end_step=3",
         "Invalid value \"1.5\" for parameter 'start_step' supplied:  Hint: Value was of type 'str'." + DOCS),
        ("run_ids=r&metric_key=m&start_step=0&end_step=99999999999999999999",
         "Invalid value \"99999999999999999999\" for parameter 'end_step' supplied:  Hint: Value was of type 'str'."
         + DOCS),
        ("run_ids=r&metric_key=m&start_step=3",
         "If either start step or end step are specified, both must be specified."),
        ("run_ids=r&metric_key=m&end_step=3", "If either start step or end step are specified, both must be specified."),
        ("run_ids=r&metric_key=m&start_step=5&end_step=1",
         "end_step must be greater than start_step. Found start_step=5 and end_step=1."),
    ],
)  # fmt: skip
def test_bad_requests_get_mlflows_messages(api: httpx.Client, query: str, message: str) -> None:
    for path in PATHS:
        assert error(api.get(f"{path}?{query}")) == message
