"""`--expose-prometheus DIR`: `/metrics` counts and times every request by method, endpoint (the route,
never the request's own path) and status, added up over the workers, whichever worker answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import TrackletServer

LOG_METRIC = "/api/2.0/mlflow/runs/log-metric"
UPLOAD = "/api/2.0/mlflow-artifacts/artifacts/{path:path}"


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    tmp = tmp_path_factory.mktemp("prometheus")
    (tmp / "metrics").mkdir()
    (tmp / "metrics" / "counter_1.db").write_bytes(b"left by an earlier server")  # must not count
    env = {"TRACKLET_EXPOSE_PROMETHEUS": str(tmp / "metrics")}
    server = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", str(tmp / "artifacts"), workers=2, env=env).start()
    yield server
    server.stop()


def samples(server: TrackletServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"{server.url}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def requests_of(found: dict, endpoint: str, status: str, method: str = "POST") -> float:  # type: ignore[type-arg]
    labels = (("endpoint", endpoint), ("method", method), ("status", status))
    return found.get(("tracklet_http_requests_total", labels), 0.0)


def test_requests_are_counted_and_timed_over_every_worker(monitored: TrackletServer) -> None:
    before = samples(monitored)
    with httpx.Client(base_url=monitored.url) as http:
        experiment = http.post("/api/2.0/mlflow/experiments/create", json={"name": f"p-{uuid.uuid4().hex[:8]}"})
        run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment.json()["experiment_id"]})
        run_id = run.json()["run"]["info"]["run_id"]
        point = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
        for step in range(40):
            assert http.post(LOG_METRIC, json={**point, "step": step}).status_code == 200
        assert http.post(LOG_METRIC, json={**point, "value": "not a number"}).status_code == 400
    # New connections, so that both workers answer some.
    for _ in range(10):
        assert httpx.post(f"{monitored.url}{LOG_METRIC}", json=point).status_code == 200

    after = samples(monitored)
    assert requests_of(after, LOG_METRIC, "200") - requests_of(before, LOG_METRIC, "200") == 50
    assert requests_of(after, LOG_METRIC, "400") - requests_of(before, LOG_METRIC, "400") == 1
    timed = ("tracklet_http_request_duration_seconds_count", (("endpoint", LOG_METRIC), ("method", "POST")))
    assert after[timed] - before.get(timed, 0.0) == 51
    assert not any(run_id in str(labels) for _, labels in after), "a label names a run"


def test_routes_with_parameters_and_unknown_paths_have_fixed_labels(monitored: TrackletServer, tmp_path: Path) -> None:
    before = samples(monitored)
    for name in ("a.txt", "b.txt"):
        put = httpx.put(f"{monitored.url}/api/2.0/mlflow-artifacts/artifacts/0/{uuid.uuid4().hex}/{name}", content=b"x")
        assert put.status_code == 200
    assert httpx.get(f"{monitored.url}/api/2.0/mlflow/no-such-endpoint").status_code == 404

    after = samples(monitored)
    assert requests_of(after, UPLOAD, "200", "PUT") - requests_of(before, UPLOAD, "200", "PUT") == 2
    assert requests_of(after, "other", "404", "GET") - requests_of(before, "other", "404", "GET") == 1


def test_without_the_option_there_is_no_metrics_endpoint(sqlite_server: TrackletServer) -> None:
    assert httpx.get(f"{sqlite_server.url}/metrics").status_code == 404
