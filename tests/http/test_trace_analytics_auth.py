"""With `--auth`, the trace analytics, prompt links, logged-model listings and online scoring configs are
judged by the experiment they read or change: a read-only token may chart traces (two POSTs that only
read) but not link prompts, and a user who may not read the experiment sees none of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.http.conftest import ADMIN, API, ok
from tests.http.test_tokens import bearer, new_token, new_user, refused
from tests.support.processes import TrackletServer

API3 = "/api/3.0/mlflow"


@pytest.fixture
def http(guarded: TrackletServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=guarded.url, timeout=60) as client:
        yield client


def _trace(http: httpx.Client, experiment_id: str, auth: tuple[str, str]) -> str:
    trace_id = f"tr-{uuid.uuid4().hex}"
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
    info = {"trace_id": trace_id, "trace_location": location, "request_time": "2026-11-27T13:37:27.147Z", "state": "OK"}
    ok(http.post(f"{API3}/traces", json={"trace": {"trace_info": info}}, auth=auth))
    return trace_id


def test_trace_analytics_need_read_and_prompt_links_edit(http: httpx.Client) -> None:
    alice, bob = new_user(http), new_user(http)
    experiment_id = ok(http.post(f"{API}/experiments/create", json={"name": f"a-{uuid.uuid4().hex[:6]}"}, auth=alice))[
        "experiment_id"
    ]
    trace_id = _trace(http, experiment_id, alice)
    model_id = ok(http.post(f"{API}/logged-models", json={"experiment_id": experiment_id}, auth=alice))["model"][
        "info"
    ]["model_id"]
    grant = {"experiment_id": experiment_id, "username": bob[0], "permission": "NO_PERMISSIONS"}
    ok(http.post(f"{API}/experiments/permissions/create", json=grant, auth=alice))

    metrics = {
        "experiment_ids": [experiment_id],
        "view_type": "TRACES",
        "metric_name": "trace_count",
        "aggregations": [{"aggregation_type": "COUNT"}],
    }
    correlation = {
        "experiment_ids": [experiment_id],
        "filter_string1": "trace.status = 'OK'",
        "filter_string2": "tag.k = 'v'",
    }
    link = {"trace_id": trace_id, "prompt_versions": [{"name": "qa", "version": "1"}]}
    listing = f"{API}/logged-models/{model_id}/artifacts/directories"
    online = {"experiment_id": experiment_id, "name": "polite", "sample_rate": 0.5}

    reader = bearer(new_token(http, alice, name="dashboard", scope="read")[0])
    counted = ok(http.post(f"{API3}/traces/metrics", json=metrics, headers=reader))
    assert counted["data_points"][0]["values"] == {"COUNT": 1.0}
    assert (
        ok(http.post(f"{API3}/traces/calculate-filter-correlation", json=correlation, headers=reader))["total_count"]
        == 1
    )
    assert ok(http.get(listing, headers=reader))["root_uri"].endswith(f"/models/{model_id}/artifacts")
    assert "may only read" in refused(
        http.post(f"{API}/traces/link-prompts", json=link, headers=reader), 403, "PERMISSION_DENIED"
    )
    refused(http.put(f"{API3}/scorers/online-config", json=online, headers=reader), 403, "PERMISSION_DENIED")
    ok(http.post(f"{API}/traces/link-prompts", json=link, auth=alice))

    for path in (f"{API3}/traces/metrics", "/ajax-api/3.0/mlflow/traces/metrics"):
        refused(http.post(path, json=metrics, auth=bob), 403, "PERMISSION_DENIED")
    refused(
        http.post(f"{API3}/traces/calculate-filter-correlation", json=correlation, auth=bob), 403, "PERMISSION_DENIED"
    )
    refused(http.get(listing, auth=bob), 403, "PERMISSION_DENIED")
    refused(http.post(f"{API}/traces/link-prompts", json=link, auth=bob), 403, "PERMISSION_DENIED")
    assert ok(http.post(f"{API3}/traces/metrics", json=metrics, auth=ADMIN))["data_points"]
