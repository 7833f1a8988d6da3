"""Every HTTP endpoint, fed whatever hypothesis makes up, against a real server on both backends.

The promise checked: whatever arrives (wrong types, huge numbers, NaN, lone surrogates, 70,000-character
strings, filter strings assembled from the search grammar's own words, path traversal in path
parameters, bodies that are not JSON at all), the answer is a success or a 4xx in MLflow's error shape,
never a 5xx, and nothing stored before is changed or lost. The bodies are built from the field names of
the server's own request schemas and filled with real ids of a seeded world (an experiment, runs,
a logged model, a registered model with a version and an alias, traces with spans and an assessment),
so they get past "not found" into the code behind it. A canary experiment, whose ids are never handed
to the fuzzer, is read back after each endpoint's examples; no file may appear outside the artifact
root.

Examples are derandomized (CI sees the same requests each time); to hunt for more, run with
`TRACKLET_FUZZ_RANDOM=1 TRACKLET_FUZZ_EXAMPLES=500`.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

import tracklet.server.api
import tracklet.server.ui.api
from tests.http.conftest import API, _check, ok
from tracklet.server.app import api_routes
from tracklet.server.ui import ui_routes

EXAMPLES = int(os.environ.get("TRACKLET_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("TRACKLET_FUZZ_RANDOM") == "1"

pytestmark = pytest.mark.slow


def _endpoints() -> list[tuple[str, str]]:
    """(method, path) of every API route the server has without --auth; HEAD is GET's twin."""
    found = []
    for route in [*api_routes(), *ui_routes()]:
        if isinstance(route, Route) and route.path.startswith(("/api/", "/ajax-api/", "/v1/")):
            found += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def _request_field_names() -> list[str]:
    """The field names of every request schema the server decodes (msgspec Structs of its API modules)."""
    names: set[str] = set()
    modules = [tracklet.server.ui.api]
    for info in pkgutil.iter_modules(tracklet.server.api.__path__):
        modules.append(importlib.import_module(f"tracklet.server.api.{info.name}"))
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value is not msgspec.Struct:
                names.update(field.encode_name for field in msgspec.structs.fields(value))
    return sorted(names)


ENDPOINTS = _endpoints()
FIELDS = _request_field_names()

# Words of the search grammars (runs, experiments, models, traces), put together at random.
FILTER_WORDS = [
    "metrics.m", "params.p", "tags.t", "tags.`a b`", "attributes.status", "attributes.run_name", "run_id",
    "attributes.start_time", "name", "tags.mlflow.runName", "datasets.name", "span.name", "span.type",
    "span.attributes.k", "span.content", "trace.status", "trace.timestamp_ms", "trace.text", "request_metadata.k",
    "feedback.f", "expectation.e", "assessment.x", "prompt.p", "issue.i", "creation_timestamp", "version_number",
    "run_id", "source_run_id", "metrics.`m`", "params.\"p\"",
    "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "RLIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL",
    "and", "AND", "or", "(", ")", ",", "'v'", "'%'", "'_'", "'['", "'(('", "\"v\"", "0.5", "-1", "1e309", "NaN",
    "9999999999999999999999", "('a', 'b')", "()", "''", "'\\'", "`", "'", "DESC", "ASC", "NULL", "true",
]  # fmt: skip
ORDER_WORDS = ["metrics.m", "params.p", "tags.t", "attributes.start_time", "name", "run_name", "timestamp_ms",
               "creation_timestamp", "last_updated_timestamp", "version_number", "DESC", "ASC", "x.y", ""]  # fmt: skip
ODD_STRINGS = [
    "", " ", "x" * 251, "x" * 3_000, "x" * 70_000, "é" * 600, "\ud800", "\U0001f600", "a\x00b", "../../etc/passwd",
    "/abs/path", "..", "%2e%2e/", "C:\\x", "a/../../b", "%", "_", "'", '"', "\\", "NaN", "-Infinity", "-1", "0",
    "9" * 30, "1.5", "true", "null", "[]", "{}", "models:/m/1", "runs:/abc/model", "s3://bucket/key", "file:///etc",
    "m-" + "0" * 32, "tr-" + "0" * 32, "ACTIVE_ONLY", "DELETED_ONLY", "ALL", "FINISHED", "Production", "OK",
]  # fmt: skip


def _path_value(pool: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(pool), st.sampled_from(ODD_STRINGS), st.text(max_size=12))


def _values(pool: list[str], canary: set[str]) -> st.SearchStrategy[Any]:
    def not_canary(value: Any) -> bool:
        return str(value) not in canary

    scalars = st.one_of(
        st.sampled_from(pool),
        st.sampled_from(ODD_STRINGS),
        st.text(max_size=16).filter(not_canary),
        st.integers().filter(not_canary),
        st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -1, 0]),
        st.floats(),
        st.booleans(),
        st.none(),
        st.lists(st.sampled_from(FILTER_WORDS), max_size=9).map(" ".join),
    )
    # Lists of MLflow's small records (metrics, params, tags) with wrong and right fields alike.
    records = st.fixed_dictionaries(
        {},
        optional={
            "key": scalars,
            "value": scalars,
            "timestamp": scalars,
            "step": scalars,
            "name": scalars,
            "dataset": st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=4),
        },
    )
    return st.recursive(
        scalars | records,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), children, max_size=4)
        ),
        max_leaves=10,
    )


def _bodies(pool: list[str], canary: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    values = _values(pool, canary)
    targeted = {
        "filter": st.lists(st.sampled_from(FILTER_WORDS), max_size=9).map(" ".join),
        "filter_string": st.lists(st.sampled_from(FILTER_WORDS), max_size=9).map(" ".join),
        "order_by": st.lists(st.lists(st.sampled_from(ORDER_WORDS), max_size=3).map(" ".join), max_size=3),
        "experiment_ids": st.lists(st.sampled_from(pool), max_size=3),
    }
    field_values = st.sampled_from(FIELDS).flatmap(
        lambda name: st.tuples(st.just(name), targeted[name] if name in targeted else values)
    )
    return st.lists(field_values | st.tuples(st.text(max_size=6), values), max_size=7).map(dict)


def _send(api: httpx.Client, method: str, path: str, body: Any, raw: bytes | None) -> httpx.Response:
    if method == "GET":
        # A URL stays under 64 KB (httpx refuses longer ones, and so would any proxy in front of the server).
        params = [(k, (v if isinstance(v, str) else json.dumps(v))[:4000]) for k, v in body.items()]
        return api.get(path, params=params)
    # json.dumps writes NaN and Infinity as bare words, as some clients do; httpx's `json=` would refuse them.
    # Unescaped, a lone surrogate goes out as bytes that are not UTF-8 (the raw bodies hold an escaped one).
    content = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return api.request(method, path, content=content, headers={"content-type": "application/json"})


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
    return {
        "pool": pool,
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
    with httpx.Client(base_url=server.url, timeout=60, event_hooks={"response": [_check]}) as client:
        yield client


def _files_outside_the_stores(server) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(server.artifacts_destination)
    return [
        path
        for path in root.parent.rglob("*")
        if path.is_file() and not path.is_relative_to(root) and not path.name.startswith("tracklet.db")
    ]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_an_endpoint_answers_anything_with_a_success_or_a_clear_error(checked_api, server, world, before, method, path):
    pool = world["pool"]
    path_values = _path_value(pool)
    # Mostly JSON objects; now and then a body that is not one.
    raw_bodies = st.sampled_from(
        [None] * 8
        + [
            b"not json",
            b"[1, 2]",
            b"42",
            b'"x"',
            b"{",
            b'{"a": NaN}',
            b"\xff\xfe",
            b'{"name": "\\ud800", "run_id": "\\udfff"}',
        ]
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=_bodies(pool, world["canary_ids"]), raw=raw_bodies, data=st.data())
    def answers(body: dict[str, Any], raw: bytes | None, data: st.DataObject) -> None:
        concrete = path
        for name in ("model_id", "tag_key:path", "path:path", "action", "trace_id", "request_id", "assessment_id"):
            if "{" + name + "}" in concrete:
                value = data.draw(path_values, label=name)
                # Lone surrogates travel as the bytes Python would write for them: not UTF-8 at all.
                encoded = quote(value.encode("utf-8", "surrogatepass"), safe="/" if "path" in name else "")
                concrete = concrete.replace("{" + name + "}", encoded)
        _send(checked_api, method, concrete, body, raw)  # `_check` asserts the answer

    answers()
    assert _snapshot(checked_api, world) == before, "the canary experiment changed"
    assert not _files_outside_the_stores(server)
