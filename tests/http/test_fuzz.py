"""Every HTTP endpoint, fed whatever hypothesis makes up, against a real server on both backends.

The promise checked: whatever arrives (wrong types, huge numbers, NaN, lone surrogates, 70,000-character
strings, filter strings assembled from the search grammar's own words, path traversal in path
parameters, bodies that are not JSON at all), the answer is a success or a 4xx in MLflow's error shape,
never a 5xx, and nothing stored before is changed or lost. Half the bodies are built from the field
names of the server's own request schemas, half typed from the endpoint's own schema (valid throughout
but for one field, at any depth); both are filled with real ids of a seeded world (an experiment, runs,
a logged model, a registered model with a version and an alias, traces with spans and an assessment),
so they get past "not found" into the code behind it; what an endpoint's valid bodies deleted is brought
back before the next one. A canary experiment, whose ids are never handed to the fuzzer, is read back
after each endpoint's examples; no file may appear outside the artifact root. The spans file a client
uploads for a trace, which the server reads back, is fuzzed the same way (valid but for one field).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.http.conftest import API, check_answer, ok
from tests.support.fuzzing import EXAMPLES, RANDOM, endpoints, fuzz_endpoint, one_field_odd
from tracklet.server.app import api_routes
from tracklet.server.ui import ui_routes

ENDPOINTS = endpoints([*api_routes(), *ui_routes()])

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(server) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Real things for the fuzzer to aim at (`pool`) and a canary it is never told about."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(server.url)
    mlflow.set_tracking_uri(server.url)
    experiment_id = client.create_experiment("fuzz-target")
    runs = []
    for i in range(2):
        run = client.create_run(experiment_id, run_name=f"fuzz-{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[mlflow.entities.Metric("m", 0.5 * i, 1, step) for step in range(3)],
            params=[mlflow.entities.Param("p", f"v{i}")],
            tags=[mlflow.entities.RunTag("t", "x")],
        )
        runs.append(run.info.run_id)
    client.log_text(runs[0], "hello", "dir/file.txt")
    model = client.create_logged_model(experiment_id, name="fuzz-model", source_run_id=runs[0])
    client.create_registered_model("fuzz-registered")
    client.create_model_version("fuzz-registered", f"runs:/{runs[0]}/model", run_id=runs[0])
    client.set_registered_model_alias("fuzz-registered", "champion", "1")
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_span("fuzz-span") as span:
        span.set_inputs({"x": 1})
    mlflow.flush_trace_async_logging()
    trace_id = span.trace_id
    assessment = mlflow.log_feedback(trace_id=trace_id, name="quality", value=True)
    location = client.get_trace(trace_id).info.tags["mlflow.artifactLocation"].removeprefix("mlflow-artifacts:/")
    spans = httpx.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{location}/traces.json", timeout=60).json()
    assert spans["spans"], spans  # the file MLflow's client uploaded, for the fuzzer to make odd

    canary_experiment = client.create_experiment("fuzz-canary", tags={"keep": "me"})
    canary_run = client.create_run(canary_experiment, run_name="canary").info.run_id
    client.log_batch(
        canary_run,
        metrics=[mlflow.entities.Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(5)],
        params=[mlflow.entities.Param("lr", "0.1")],
        tags=[mlflow.entities.RunTag("stage", "canary")],
    )
    client.log_text(canary_run, "precious", "canary.txt")
    mlflow.set_experiment(experiment_id=experiment_id)  # the fluent API must not aim at the canary either

    pool = [
        experiment_id, "0", *runs, model.model_id, "fuzz-registered", "1", "champion", "m", "p", "t",
        "dir/file.txt", "dir", trace_id, assessment.assessment_id, "fuzz-span", "fuzz-target", "quality",
        f"{experiment_id}/{runs[0]}/artifacts/dir/file.txt", f"{experiment_id}/{runs[0]}/artifacts",
    ]  # fmt: skip
    # The same, by the name of the field that holds them (for the typed bodies).
    ids = {
        "experiment_id": [experiment_id], "run_id": runs, "model_id": [model.model_id], "trace_id": [trace_id],
        "assessment_id": [assessment.assessment_id], "name": ["fuzz-registered", "fuzz-target", "quality"],
        "version": ["1"], "alias": ["champion"], "path": ["dir", "dir/file.txt"],
    }  # fmt: skip
    return {
        "pool": pool,
        "ids": ids,
        "experiment": experiment_id,
        "spans": spans,
        "runs": runs,
        "canary_ids": {canary_experiment, canary_run},
        "canary_experiment": canary_experiment,
        "canary_run": canary_run,
    }


def _snapshot(api: httpx.Client, world: dict[str, Any]) -> dict[str, Any]:
    run_id = world["canary_run"]
    run = ok(api.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    return {
        "experiment": ok(api.get(f"{API}/experiments/get", params={"experiment_id": world["canary_experiment"]})),
        "run": run,
        "history": ok(api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"})),
        "artifact": api.get(f"/get-artifact?run_id={run_id}&path=canary.txt").text,
    }


@pytest.fixture(scope="module")
def before(server, world) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.url, timeout=60) as api:
        return _snapshot(api, world)


@pytest.fixture
def checked_api(server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.url, timeout=60, event_hooks={"response": [check_answer]}) as client:
        yield client


def _revive(url: str, world: dict[str, Any]) -> None:
    """Bring back what an earlier endpoint's valid bodies deleted, so the next one gets past "not found":
    the experiment and runs restored, the registered model (deleted or renamed) made again, with its alias."""
    with httpx.Client(base_url=url, timeout=60) as api:
        api.post(f"{API}/experiments/restore", json={"experiment_id": world["experiment"]})
        for run_id in world["runs"]:
            api.post(f"{API}/runs/restore", json={"run_id": run_id})
        if api.get(f"{API}/registered-models/get", params={"name": "fuzz-registered"}).status_code == 404:
            ok(api.post(f"{API}/registered-models/create", json={"name": "fuzz-registered"}))
        version = {"name": "fuzz-registered", "version": "1"}
        if api.get(f"{API}/model-versions/get", params=version).status_code == 404:
            source = {
                "name": "fuzz-registered",
                "source": f"runs:/{world['runs'][0]}/model",
                "run_id": world["runs"][0],
            }
            version["version"] = ok(api.post(f"{API}/model-versions/create", json=source))["model_version"]["version"]
        api.post(f"{API}/registered-models/alias", json={**version, "alias": "champion"})


def _files_outside_the_stores(server) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(server.artifacts_destination)
    return [
        path
        for path in root.parent.rglob("*")
        if path.is_file() and not path.is_relative_to(root) and not path.name.startswith("tracklet.db")
    ]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_an_endpoint_answers_anything_with_a_success_or_a_clear_error(checked_api, server, world, before, method, path):
    fuzz_endpoint(checked_api, method, path, world["pool"], world["canary_ids"], ids=world["ids"])
    if any(word in path for word in ("delete", "rename", "update")):  # what may take the world away
        _revive(server.url, world)
    assert _snapshot(checked_api, world) == before, "the canary experiment changed"
    assert not _files_outside_the_stores(server)


def test_a_trace_whose_spans_file_has_one_odd_field_is_still_answered(checked_api, world) -> None:  # type: ignore[no-untyped-def]
    """Spans reach the server as a file (`traces.json`, uploaded through the artifact proxy) that the
    server reads back for traces/get, batchGet, span filters and the UI: a real trace's file, with one
    field at any depth made odd, for a new trace each time (a span filter copies a file only once)."""
    valid, trace_id, experiment_id = world["spans"], world["ids"]["trace_id"][0], world["experiment"]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None)
    @given(
        spans=one_field_odd(st.just(valid)),
        span_filter=st.sampled_from(["span.name = 'fuzz-span'", "span.attributes.x = '1'", "span.content LIKE '%x%'"]),
    )
    def answered(spans: dict[str, Any], span_filter: str) -> None:
        new_id = "tr-" + uuid.uuid4().hex
        trace_info = {
            "trace_id": new_id,
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}},
            "request_time": "2026-01-01T00:00:00Z", "execution_duration": "1s", "state": "OK",
        }  # fmt: skip
        started = ok(checked_api.post("/api/3.0/mlflow/traces", json={"trace": {"trace_info": trace_info}}))
        where = started["trace"]["trace_info"]["tags"]["mlflow.artifactLocation"].removeprefix("mlflow-artifacts:/")
        content = json.dumps(spans).encode()
        ok(checked_api.put(f"/api/2.0/mlflow-artifacts/artifacts/{where}/traces.json", content=content))
        checked_api.get("/api/3.0/mlflow/traces/get", params={"trace_id": new_id})
        checked_api.get("/api/3.0/mlflow/traces/batchGet", params={"trace_ids": [new_id, trace_id]})
        checked_api.get("/api/tracklet/traces/spans", params={"trace_id": new_id})
        locations = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}]
        search = {"locations": locations, "filter": span_filter, "max_results": 5}
        checked_api.post("/api/3.0/mlflow/traces/search", json=search)

    answered()
