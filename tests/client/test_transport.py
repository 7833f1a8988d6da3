"""Transport and request planning, without a server (httpx.MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from tracklet import errors
from tracklet.client.client import TrackletClient
from tracklet.client.runs import MAX_METRICS, MAX_PARAMS, split_batch
from tracklet.client.transport import Transport


def make(handler) -> Transport:  # type: ignore[no-untyped-def]
    http = httpx.Client(base_url="http://server", transport=httpx.MockTransport(handler))
    return Transport(http, retry_seconds=5)


def test_error_json_becomes_the_same_exception_class() -> None:
    t = make(lambda r: httpx.Response(404, json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no run"}))
    with pytest.raises(errors.ResourceDoesNotExist, match="no run"):
        t.get("/api/2.0/mlflow/runs/get", run_id="x")


def test_error_without_json_is_derived_from_the_status() -> None:
    t = make(lambda r: httpx.Response(404, text="<html>Not Found</html>"))
    with pytest.raises(errors.EndpointNotFound):
        t.get("/nope")


def test_5xx_and_connection_errors_are_retried_4xx_are_not() -> None:
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused")
        if len(calls) == 2:
            return httpx.Response(503, json={"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
        return httpx.Response(200, json={"ok": True})

    assert make(flaky).post("/x", {}) == {"ok": True}
    assert len(calls) == 3

    bad = []

    def rejecting(request: httpx.Request) -> httpx.Response:
        bad.append(request)
        return httpx.Response(400, json={"error_code": "INVALID_PARAMETER_VALUE", "message": "nope"})

    with pytest.raises(errors.InvalidParameterValue):
        make(rejecting).post("/x", {})
    assert len(bad) == 1


def test_retries_stop_after_the_budget() -> None:
    t = make(lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    t.retry_seconds = 0.3
    with pytest.raises(errors.TemporarilyUnavailable, match="unreachable"):
        t.get("/x")


def test_requests_send_json_and_the_path_prefix_of_the_uri() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"experiment_id": "7"})

    http = httpx.Client(base_url="http://server", transport=httpx.MockTransport(handler))
    client = TrackletClient("http://server/prefix", transport=Transport(http, base_path="/prefix"))
    assert client.create_experiment("e") == "7"
    assert seen[0].url.path == "/prefix/api/2.0/mlflow/experiments/create"
    assert seen[0].headers["content-type"] == "application/json"


def test_nan_and_infinity_travel_as_strings() -> None:
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={})

    client = TrackletClient("http://s", transport=make(handler))
    client.log_metric("r", "m", float("nan"), 1, 0)
    client.log_metric("r", "m", float("-inf"), 1, 0)
    assert b'"NaN"' in bodies[0] and b'"-Infinity"' in bodies[1]


def test_split_batch_respects_the_server_limits_and_keeps_order() -> None:
    metrics = [{"key": "m", "value": float(i), "timestamp": 0, "step": i} for i in range(2500)]
    params = [{"key": f"p{i}", "value": "v"} for i in range(150)]
    tags = [{"key": f"t{i}", "value": "v"} for i in range(120)]
    requests = split_batch(metrics, params, tags)
    for m, p, t in requests:
        assert len(m) <= MAX_METRICS and len(p) <= MAX_PARAMS and len(t) <= 100
        assert len(m) + len(p) + len(t) <= 1000
    assert [x["step"] for m, _, _ in requests for x in m] == list(range(2500))
    assert sum(len(p) for _, p, _ in requests) == 150 and sum(len(t) for _, _, t in requests) == 120


def test_split_batch_never_repeats_a_param_key_in_one_request() -> None:
    params = [{"key": "a", "value": "1"}, {"key": "b", "value": "1"}, {"key": "a", "value": "2"}]
    requests = split_batch([], params, [])
    assert [[p["value"] for p in ps if p["key"] == "a"] for _, ps, _ in requests] == [["1"], ["2"]]
