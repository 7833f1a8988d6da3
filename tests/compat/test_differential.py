"""The same requests, in the same order, sent to `tracklet server` (on SQLite, then on PostgreSQL) and to
`mlflow server` (the pinned MLflow, SQLite) side by side: every answer must match MLflow's in status and
error code, and what can be counted must match too: the rows of searches and histories, the pages a
run or trace search is walked through (following each server's own, opaque, `next_page_token`), the dataset
and model inputs of a run, the traces a delete removed, and artifact listings (relative to each run's
own artifact root, which differ between the servers) and downloads (byte for byte).

The requests are drawn at random (seeded: CI sends the same ones each time) from the tracking, registry,
dataset (`runs/log-inputs`, `runs/outputs`), tracing (`/api/3.0/mlflow/traces*` and the `/api/2.0` tag
and delete calls the client sends) and artifact (`mlflow-artifacts` proxy, `artifacts/list`) endpoints,
with names, keys, values, paths, page tokens and numbers chosen to collide, overflow, be empty or be
nonsense, so both servers walk their error paths as well as their happy ones. Where tracklet answers
differently on purpose, `KNOWN_DIFFERENCES` says so and why; anything else fails with both answers.
To hunt with other requests: `TRACKLET_DIFF_SEED=7 TRACKLET_DIFF_REQUESTS=2000`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import MlflowServer, TrackletServer

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"
API3 = "/api/3.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
SEED = int(os.environ.get("TRACKLET_DIFF_SEED", "1"))
REQUESTS = int(os.environ.get("TRACKLET_DIFF_REQUESTS", "500"))

Answer = tuple[int, str | None]  # status, error_code
OK: Answer = (200, None)
DROPPED: Answer = (0, "CONNECTION_DROPPED")  # the server closed the connection without an answer

# (endpoint, MLflow's answer, tracklet's answer): why tracklet differs.
KNOWN_DIFFERENCES: dict[tuple[str, Answer, Answer], str] = {
    ("POST experiments/update", (500, "INVALID_STATE"), (400, "INVALID_STATE")): (
        "renaming a deleted experiment is the caller's mistake: MLflow answers it with a 500"
    ),
    ("POST experiments/update", (400, "BAD_REQUEST"), (400, "RESOURCE_ALREADY_EXISTS")): (
        "renaming onto a taken name: MLflow answers with its SQL error text"
    ),
    ("POST experiments/search", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "an unknown view_type is refused; MLflow reads it as ACTIVE_ONLY"
    ),
    ("GET registered-models/search", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "max_results=0 is refused as every other search refuses it; MLflow answers no models and a token "
        "for the same page again, which a paging client would follow forever"
    ),
    ("POST logged-models/search", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "max_results=0 is refused as every other search refuses it; MLflow reads 0 as not given"
    ),
    ("POST model-versions/transition-stage", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "archiving the others when moving to a stage that is not active: MLflow answers a 500"
    ),
    ("PUT mlflow-artifacts/artifacts/<path>", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "uploading onto a folder, or through a file: MLflow's server fails (IsADirectoryError, NotADirectoryError)"
    ),
    ("POST runs/log-batch", (404, "RESOURCE_DOES_NOT_EXIST"), (400, "INVALID_PARAMETER_VALUE")): (
        "a malformed batch is refused before its run is looked up"
    ),
    ("POST runs/outputs", (404, "RESOURCE_DOES_NOT_EXIST"), (400, "INVALID_PARAMETER_VALUE")): (
        "malformed outputs are refused before their run is looked up"
    ),
    ("POST runs/search", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "an unknown run_view_type is refused; MLflow reads it as ACTIVE_ONLY"
    ),
    ("POST runs/search", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "an order_by naming a field twice is the caller's mistake: MLflow answers it with a 500"
    ),
    ("POST traces", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "a trace without a location is the caller's mistake: MLflow answers it with a 500"
    ),
    ("PATCH traces/<id>/tags", (400, "BAD_REQUEST"), (404, "RESOURCE_DOES_NOT_EXIST")): (
        "a tag on an unknown trace: MLflow answers with its SQL error text"
    ),
    ("PATCH traces/<id>/tags", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "the tag the server sets for where the spans are (mlflow.artifactLocation) is not the client's to change"
    ),
    ("DELETE traces/<id>/tags", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "the tag the server sets for where the spans are (mlflow.artifactLocation) is not the client's to delete"
    ),
    ("PATCH traces/<id>/tags", (400, "BAD_REQUEST"), (400, "INVALID_PARAMETER_VALUE")): (
        "a tag tracklet refuses anyway, on an unknown trace: MLflow answers with its SQL error text"
    ),
    ("POST runs/outputs", (400, "BAD_REQUEST"), (200, None)): (
        "logging a run's model output again changes nothing; MLflow answers with its SQL error text"
    ),
    ("POST runs/search", (400, "INVALID_PARAMETER_VALUE"), (200, None)): (
        "page tokens are tracklet's own: unpadded base64, as tracklet writes them, is read; MLflow pads its tokens"
    ),
    ("GET mlflow-artifacts/artifacts/<path>", (400, None), (400, "INVALID_PARAMETER_VALUE")): (
        "MLflow answers its artifact routes' errors as {'detail': ...}, without an error_code"
    ),
    ("PUT mlflow-artifacts/artifacts/<path>", (400, None), (400, "INVALID_PARAMETER_VALUE")): (
        "MLflow answers its artifact routes' errors as {'detail': ...}, without an error_code"
    ),
    ("DELETE traces/<id>/tags", (404, "RESOURCE_DOES_NOT_EXIST"), (400, "INVALID_PARAMETER_VALUE")): (
        "a key longer than any tag may have is refused as invalid, as when setting it; MLflow looks it up"
    ),
}

# Not drawn, as MLflow takes them where tracklet refuses them, and the two stores would part ways from
# there: names of only spaces (tracklet: missing), times beyond int64 or with a fraction (tracklet:
# invalid; MLflow stores 0 for 1.5), a metric value that is no number in a batch (MLflow stores 0.0),
# a dataset without a name, digest, source type or source, or an input tag without a key (MLflow stores
# ""), a logged model whose source run does not exist, a trace without an id or request time, or with a
# time, duration or state that does not parse, a key over 250 or a value over 8000 characters, an empty
# key (MLflow stores the epoch, 0 s and STATE_UNSPECIFIED for what does not parse, and takes the rest),
# a trace id used before in another experiment (MLflow moves the trace), a trace started with the
# server's tag `mlflow.artifactLocation` (tracklet sets its own; MLflow answers 404 "no longer exists"), an output's step that is no number
# or whose logged model does not exist,
# and artifact paths with a backslash or NUL (tracklet: invalid; MLflow stores such names).
NAMES = ["a", "b", "c", "A", "a b", "x" * 250, "x" * 251, "", "é", "a/b", "a%", "_"]
KEYS = ["k", "k2", "a.b", "a/b", "a b", "x" * 250, "x" * 251, "", "../k", "k-", "1"]
VALUES = ["v", "", "x" * 6000, "x" * 8001, "1", "é"]
NUMBERS: list[Any] = [0, 1, -1, 1.5, "NaN", "Infinity", "abc", None]
BATCH_VALUES: list[Any] = [0, 1, -1, 1.5, "NaN", "Infinity", None]
BAD_TIMES: list[Any] = [-1, "abc", "NaN", None, 0]
RUN_FILTERS = [
    "", "metrics.k > 0", "params.k = 'v'", "tags.k LIKE 'v%'", "attributes.status = 'FINISHED'", "metrics.k > 'a'",
    "params.k > 1", "bogus", "attributes.run_name ILIKE 'A%'", "tags.`a b` = 'v'",
]  # fmt: skip
EXPERIMENT_FILTERS = ["", "name = 'a'", "name LIKE 'a%'", "tags.k = 'v'", "bad filter", "attribute.name = 'a'"]
ORDERS = [[], ["metrics.k DESC"], ["params.k"], ["attributes.start_time ASC"], ["bogus.x"]]
MORE_ORDERS = [
    ["tags.k DESC", "attributes.run_name"], ["start_time DESC"], ["metrics.k sideways"], ["params.k", "params.k"],
    ["attributes.bogus"], ["metrics.`a b` ASC"], ["created DESC"], [""], ["attributes.end_time DESC", "run_id"],
]  # fmt: skip
VIEW_TYPES = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL", "BOGUS", None]


def token(payload: str) -> str:
    return base64.b64encode(payload.encode()).decode()


# Page tokens no server handed out: nonsense, and MLflow-shaped ones (base64 JSON) with odd offsets.
BAD_TOKENS = [
    "abc", "", "%%%", "eyJvZmZzZXQiOiAxfQ", token('{"offset": 1}'), token('{"offset": 2}'), token('{"offset": -1}'),
    token('{"offset": "1"}'), token('{"offset": 1.5}'), token('{"offset": 99999999999999999999}'), token("[1]"),
    token("{}"), token('{"offset": 10000}'),
]  # fmt: skip
# Dataset fields: valid, missing (None), empty, and one past MLflow's limits (name 500, digest 36,
# source 65535, schema 1 MB - 1; input-tag key 255, value 500).
DATASET_NAMES = ["d", "d2", "x" * 500, "x" * 501, "é"]
DIGESTS = ["abc", "x" * 36, "x" * 37]
SOURCE_TYPES = ["code", "local", "bogus"]
SOURCES = ['{"uri": "s3://b/p"}', "x" * 65535, "x" * 65536]
SCHEMAS = [None, "", '{"mlflow_colspec": []}', "x" * (1 << 20)]
INPUT_TAGS = [[], [{"key": "mlflow.data.context", "value": "training"}], [{"key": "x" * 256, "value": "v"}],
              [{"key": "k", "value": "x" * 501}], [{"key": "k"}]]  # fmt: skip
TRACE_STATES = ["OK", "ERROR", "IN_PROGRESS", "STATE_UNSPECIFIED", None]
TRACE_TIMES = ["2026-11-27T13:37:27.147Z", "2026-11-27T13:37:28Z", "1970-01-01T00:00:00Z"]
TRACE_FILTERS = [
    "", "tags.k = 'v'", "trace.status = 'OK'", "status = 'ERROR'", "attributes.timestamp_ms > 0", "bogus",
    "tags.`a b` = 'v'", "metadata.`mlflow.user` = 'root'", "trace.name = 'f'", "execution_time > 10",
    "timestamp_ms < 1764250648000", "tags.k LIKE 'v%'", "request_metadata.k = 'v'",
]  # fmt: skip
# Artifact paths as they go on the wire (already URL-encoded: `..` unencoded would be resolved by the
# HTTP client itself): nested, empty, dot segments, spaces, odd characters, separators.
ARTIFACT_PATHS = [
    "a.txt", "d/b.txt", "d/e/c.bin", "", "%2E%2E/x.txt", "d/%2E%2E/a.txt", "a%20b.txt", "%C3%A9.txt", "d/",
    "x%23y", "a%2Fb", ".", "d//f", "~", "%2E%2E", "C:/x", "d/e",
]  # fmt: skip
CONTENTS = [b"", b"hello", bytes(range(256)) * 40]
ARTIFACT_TAG = "mlflow.artifactLocation"  # where a trace's spans are: the server's to set


@dataclass
class Side:
    """One server and the ids it handed out, in creation order (the same order on both sides)."""

    http: httpx.Client
    experiments: list[str] = field(default_factory=lambda: ["0"])
    runs: list[str] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)  # run id: its artifact root, as a proxy path
    models: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)  # the client names traces: the same ids on both sides
    last_token: str = ""  # the last `next_page_token` this server handed out

    def experiment(self, i: int) -> str:
        return self.experiments[i % len(self.experiments)]

    def run(self, i: int) -> str:
        return self.runs[i % len(self.runs)] if self.runs else "nope"

    def root(self, i: int) -> str:
        return self.roots.get(self.run(i), "0/nope/artifacts")

    def model(self, i: int) -> str:
        return self.models[i % len(self.models)] if self.models else "m-nope"

    def trace(self, i: int) -> str:
        return self.traces[i % len(self.traces)] if self.traces else "tr-nope"


@dataclass
class Outcome:
    """What a request (or a walk through a search's pages) came to, as compared between the servers."""

    answer: Answer
    counts: tuple[Any, ...] = ()  # compared when both succeed: rows, page sizes, listings, a download's digest
    body: Any = None  # the (last) answer's JSON, for `remember`
    text: str = ""  # what was sent and answered, shown when the servers differ


Body = Callable[[Side], dict[str, Any]]
Call = Callable[[Side], Outcome]
ROWS = ("experiments", "runs", "registered_models", "model_versions", "models", "metrics", "traces")


def counts(body: Any) -> tuple[Any, ...]:
    """What a successful answer is compared by, besides its status: its rows, a run's inputs, what a
    delete removed, a listing's files (names relative to the listed folder or to the run's root)."""
    if not isinstance(body, dict):
        return ()
    run = body.get("run")
    inputs = run.get("inputs") or {} if isinstance(run, dict) else {}
    # A file's size 0 may be left out, as MLflow leaves it out (a missing field reads as 0).
    files = sorted(
        (f.get("path"), f.get("is_dir", False), None if f.get("is_dir") else f.get("file_size", 0))
        for f in body.get("files") or []
    )
    return (
        *(len(body.get(rows) or []) for rows in ROWS),
        len(inputs.get("dataset_inputs") or []),
        len(inputs.get("model_inputs") or []),
        body.get("traces_deleted"),
        tuple(files),
    )


def outcome(response: httpx.Response, sent: Any) -> Outcome:
    try:
        body = response.json()
    except ValueError:
        body = None
    error_code = body.get("error_code") if isinstance(body, dict) else None
    return Outcome(
        (response.status_code, error_code), counts(body), body, f"{str(sent)[:300]} -> {response.text[:300]}"
    )


def request(endpoint: str, body: Body) -> Call:
    """A JSON request: "METHOD path" (under `API` unless absolute), `body` as the query of a GET."""
    method, path = endpoint.split(" ")
    url = path if path.startswith("/") else f"{API}/{path}"

    def call(side: Side) -> Outcome:
        sent = body(side)
        if method == "GET":
            return outcome(side.http.get(url, params=sent), sent)
        return outcome(side.http.request(method, url, json=sent), sent)

    return call


def tracking_and_registry(rng: random.Random) -> list[tuple[str, Body]]:
    """Requests to `API`: "METHOD path" and its body for a side (same choices, that side's ids)."""
    i = rng.randrange(1000)
    name = rng.choice(NAMES) + rng.choice(["", str(rng.randrange(3))])
    key, value, number = rng.choice(KEYS), rng.choice(VALUES), rng.choice(NUMBERS)
    batch_value, time = rng.choice(BATCH_VALUES), rng.choice(BAD_TIMES)
    bad = rng.random() < 0.2
    status = rng.choice(["FINISHED", "FAILED", "KILLED", "RUNNING", "BOGUS"])
    step = rng.choice([0, 1, -1, "x"])
    version = rng.choice(["1", "2", "x", "0", "-1"])
    source = rng.choice(["s3://b/p", "runs:/x/m", "", "/tmp/x", "file:///etc"])
    with_run = rng.random() < 0.5
    search = {
        "max_results": rng.choice([1, 100, 0, 50001]),
        "filter": rng.choice(RUN_FILTERS),
        "order_by": rng.choice(ORDERS),
        "run_view_type": rng.choice(VIEW_TYPES),
    }
    experiments_search = {
        "max_results": rng.choice([1, 10, 0, -1, 50001]),
        "filter": rng.choice(EXPERIMENT_FILTERS),
        "view_type": rng.choice(["ACTIVE_ONLY", "ALL", "DELETED_ONLY", "BOGUS"]),
    }
    alias = {"alias": rng.choice(["champ", "latest", "v1", "", "a b"]), "version": rng.choice(["1", "2", "x"])}
    models_search = {
        "filter": rng.choice(["", "name = 'a'", "name LIKE 'a%'", "bogus"]),
        "max_results": rng.choice([1, 10, 0, 1001]),
    }
    new_name = rng.choice(NAMES)
    stages = rng.choice([[], ["Production"], ["Staging", "None"], ["bogus"]])
    stage = rng.choice(["Production", "Staging", "Archived", "None", "bogus", "production"])
    archive = rng.choice([True, False])
    versions_search = {
        "filter": rng.choice(["", "name = 'a'", "name LIKE 'a%'", "run_id = 'x'", "bogus", "tags.k = 'v'"]),
        "max_results": rng.choice([1, 10, 0, 200_001]),
    }
    logged_search = {
        "filter": rng.choice(["", "name = 'a'", "metrics.k > 0", "params.k = 'v'", "bogus"]),
        "max_results": rng.choice([1, 10, 0]),
    }
    datasets = [dataset_input(rng) for _ in range(rng.choice([0, 1, 1, 2]))]
    requests: list[tuple[str, Body]] = [
        ("POST experiments/create", lambda s: {"name": number if bad else name}),
        ("GET experiments/get", lambda s: {"experiment_id": str(number) if bad else s.experiment(i)}),
        ("GET experiments/get-by-name", lambda s: {"experiment_name": name}),
        ("POST experiments/update", lambda s: {"experiment_id": s.experiment(i), "new_name": name}),
        ("POST experiments/delete", lambda s: {"experiment_id": s.experiment(i)}),
        ("POST experiments/restore", lambda s: {"experiment_id": s.experiment(i)}),
        ("POST experiments/set-experiment-tag", lambda s: {"experiment_id": s.experiment(i), "key": key, "value": value}),
        ("POST experiments/search", lambda s: experiments_search),
        ("POST runs/create", lambda s: {"experiment_id": s.experiment(i), "start_time": time if bad else 1000, "run_name": name}),
        ("GET runs/get", lambda s: {"run_id": s.run(i)}),
        ("POST runs/update", lambda s: {"run_id": s.run(i), "status": status, "end_time": time if bad else 2000, "run_name": name}),
        ("POST runs/delete", lambda s: {"run_id": s.run(i)}),
        ("POST runs/restore", lambda s: {"run_id": s.run(i)}),
        ("POST runs/log-metric", lambda s: {"run_id": s.run(i), "key": key, "value": number, "timestamp": 5, "step": step}),
        ("POST runs/log-parameter", lambda s: {"run_id": s.run(i), "key": key, "value": value}),
        ("POST runs/set-tag", lambda s: {"run_id": s.run(i), "key": key, "value": value}),
        ("POST runs/delete-tag", lambda s: {"run_id": s.run(i), "key": key}),
        ("POST runs/log-batch", lambda s: {
            "run_id": s.run(i),
            "params": [{"key": key, "value": value}] * (2 if bad else 1),
            "metrics": [{"key": key, "value": batch_value, "timestamp": 1, "step": 0}],
            "tags": [{"key": key, "value": value}],
        }),
        ("GET metrics/get-history", lambda s: {"run_id": s.run(i), "metric_key": key}),
        ("POST runs/search", lambda s: {"experiment_ids": [s.experiment(i)], **search}),
        ("POST registered-models/create", lambda s: {"name": name}),
        ("GET registered-models/get", lambda s: {"name": name}),
        ("PATCH registered-models/update", lambda s: {"name": name, "description": value}),
        ("POST registered-models/rename", lambda s: {"name": name, "new_name": new_name}),
        ("DELETE registered-models/delete", lambda s: {"name": name}),
        ("POST model-versions/create", lambda s: {"name": name, "source": source, **({"run_id": s.run(i)} if with_run else {})}),
        ("GET model-versions/get", lambda s: {"name": name, "version": version}),
        ("POST registered-models/alias", lambda s: {"name": name, **alias}),
        ("GET registered-models/search", lambda s: models_search),
        ("DELETE registered-models/alias", lambda s: {"name": name, "alias": alias["alias"]}),
        ("POST registered-models/set-tag", lambda s: {"name": name, "key": key, "value": value}),
        ("POST registered-models/get-latest-versions", lambda s: {"name": name, "stages": stages}),
        ("PATCH model-versions/update", lambda s: {"name": name, "version": version, "description": value}),
        ("POST model-versions/transition-stage", lambda s: {"name": name, "version": version, "stage": stage, "archive_existing_versions": archive}),
        ("POST model-versions/set-tag", lambda s: {"name": name, "version": version, "key": key, "value": value}),
        ("DELETE model-versions/delete", lambda s: {"name": name, "version": version}),
        ("GET model-versions/search", lambda s: versions_search),
        ("POST experiments/delete-experiment-tag", lambda s: {"experiment_id": s.experiment(i), "key": key}),
        ("POST logged-models", lambda s: {"experiment_id": s.experiment(i), "name": name, **({"source_run_id": s.run(i)} if with_run and s.runs else {})}),
        ("POST logged-models/search", lambda s: {"experiment_ids": [s.experiment(i)], **logged_search}),
        ("POST runs/log-inputs", lambda s: {"run_id": s.run(i), "datasets": datasets, **({"models": [{"model_id": s.model(i)}]} if with_run else {})}),
        ("POST runs/outputs", lambda s: {"run_id": s.run(i), "models": [{"model_id": s.model(i), "step": 0 if step == "x" and s.runs else step}]} if s.models or not s.runs else {"run_id": s.run(i)}),
    ]  # fmt: skip
    return requests


def dataset_input(rng: random.Random) -> dict[str, Any]:
    """One of `runs/log-inputs`' datasets, with its input tags; fields valid, missing, empty or too long."""
    dataset = {
        "name": rng.choice(DATASET_NAMES),
        "digest": rng.choice(DIGESTS),
        "source_type": rng.choice(SOURCE_TYPES),
        "source": rng.choice(SOURCES),
        "schema": rng.choice(SCHEMAS),
        "profile": rng.choice([None, '{"num_rows": 3}']),
    }
    return {"dataset": {k: v for k, v in dataset.items() if v is not None}, "tags": rng.choice(INPUT_TAGS)}


def all_pages(side: Side, path: str, sent: dict[str, Any], items: str) -> Outcome:
    """A search walked through: each page's size (of its `items`), following the server's own tokens; the
    first failing page's answer."""
    sizes: list[int] = []
    for _ in range(60):
        page = outcome(side.http.post(path, json=sent), sent)
        if page.answer != OK:
            return replace(page, counts=tuple(sizes))
        sizes.append(len(page.body.get(items, [])))
        if not page.body.get("next_page_token"):
            break
        side.last_token = sent["page_token"] = page.body["next_page_token"]
    # MLflow's trace search hands a token whenever a page is full, so its last page may be empty; tracklet's
    # only when another trace follows. The client reads the same traces either way.
    walked = sizes[:-1] if len(sizes) > 1 and sizes[-1] == 0 else sizes
    return Outcome(OK, tuple(walked), None, f"{str(sent)[:300]} -> pages {sizes}")


def run_search_pages(rng: random.Random) -> list[tuple[str, Call]]:
    """`runs/search` walked through all its pages, and asked for pages with tokens no search handed out."""
    i = rng.randrange(1000)
    search = {
        "max_results": rng.choice([1, 2, 3, 0, -1, 50000, 50001, None, "2"]),
        "filter": rng.choice(RUN_FILTERS),
        "order_by": rng.choice(ORDERS + MORE_ORDERS),
        "run_view_type": rng.choice(VIEW_TYPES),
    }
    both = rng.random() < 0.5
    bad_token = rng.choice(BAD_TOKENS)

    def query(side: Side) -> dict[str, Any]:
        experiments = [side.experiment(i), side.experiment(i + 1)] if both else [side.experiment(i)]
        return {"experiment_ids": experiments, **{k: v for k, v in search.items() if v is not None}}

    return [
        ("POST runs/search (all pages)", lambda side: all_pages(side, f"{API}/runs/search", query(side), "runs")),
        ("POST runs/search (bad page_token)", request("POST runs/search", lambda s: {**query(s), "page_token": bad_token})),
        ("POST runs/search (other search's page_token)", request("POST runs/search", lambda s: {**query(s), "page_token": s.last_token})),
    ]  # fmt: skip


def tracing(rng: random.Random) -> list[tuple[str, Call]]:
    """The trace calls MLflow's client sends: StartTraceV3, get info, tags (under /api/2.0), search, delete."""
    i = rng.randrange(1000)
    new_id = rng.choice(["tr-", ""]) + f"{rng.getrandbits(128):032x}"  # a new one: reused ids are not drawn
    key, value = rng.choice(KEYS + ["mlflow.traceName", ARTIFACT_TAG]), rng.choice(VALUES)
    start_tags = {k: v for k, v in [(key, value)] if k and len(k) <= 250 and len(v) <= 8000 and k != ARTIFACT_TAG}
    state, time, duration = rng.choice(TRACE_STATES), rng.choice(TRACE_TIMES), rng.choice(["0.058s", None, "12s"])
    located = rng.random() < 0.9
    bad_experiment = rng.random() < 0.1

    def trace(s: Side) -> dict[str, Any]:
        location = {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": "999" if bad_experiment else s.experiment(i)},
        }
        info = {
            "trace_id": new_id, "trace_location": location if located else None, "request_time": time,
            "execution_duration": duration, "state": state,
            "trace_metadata": {"mlflow.user": "root"}, "tags": start_tags, "request_preview": "{}",
        }  # fmt: skip
        return {"trace": {"trace_info": {k: v for k, v in info.items() if v is not None}}}

    search = {
        "filter": rng.choice(TRACE_FILTERS),
        "max_results": rng.choice([1, 10, 0, -1, 501, None]),
        "order_by": rng.choice([[], ["timestamp_ms DESC"], ["execution_time"], ["bogus"], ["timestamp_ms sideways"]]),
    }

    def traces_search(s: Side) -> dict[str, Any]:
        location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": s.experiment(i)}}
        return {"locations": [location], **{k: v for k, v in search.items() if v is not None}}

    delete = rng.choice([
        {"max_timestamp_millis": rng.choice([0, 1764250647147, 1764250648000, 2**62]), "max_traces": rng.choice([1, 10, 0, -1, None])},
        {"request_ids": "one"}, {"request_ids": "two"}, {}, {"max_timestamp_millis": 1764250648000, "request_ids": "one"},
        {"max_timestamp_millis": "x"},
    ])  # fmt: skip

    def deletion(s: Side) -> dict[str, Any]:
        chosen = {"one": [s.trace(i)], "two": [s.trace(i), s.trace(i + 1)]}
        body = {"experiment_id": s.experiment(i), **delete}
        if "request_ids" in body:
            body["request_ids"] = chosen[body["request_ids"]]
        return {k: v for k, v in body.items() if v is not None}

    return [
        ("POST traces (v3 start)", request(f"POST {API3}/traces", trace)),
        ("GET traces/<id> (v3 info)", lambda s: request(f"GET {API3}/traces/{s.trace(i)}", lambda s: {})(s)),
        ("PATCH traces/<id>/tags", lambda s: request(f"PATCH {API}/traces/{s.trace(i)}/tags", lambda s: {"key": key, "value": value})(s)),
        ("DELETE traces/<id>/tags", lambda s: request(f"DELETE {API}/traces/{s.trace(i)}/tags", lambda s: {"key": key})(s)),
        ("POST traces/search (v3)", request(f"POST {API3}/traces/search", traces_search)),
        ("POST traces/search (v3, all pages)", lambda s: all_pages(s, f"{API3}/traces/search", traces_search(s), "traces")),
        ("POST traces/delete-traces", request("POST traces/delete-traces", deletion)),
    ]  # fmt: skip


def artifacts(rng: random.Random) -> list[tuple[str, Call]]:
    """The artifact proxy under each run's own root, and the R client's `artifacts/list`."""
    i = rng.randrange(1000)
    path, folder, content = (
        rng.choice(ARTIFACT_PATHS),
        rng.choice(["", "d", "d/e", "a.txt", "%2E%2E", "nope"]),
        rng.choice(CONTENTS),
    )

    def download(side: Side) -> Outcome:
        response = side.http.get(f"{PROXY}/{side.root(i)}/{path}")
        got = outcome(response, path)
        if got.answer == OK:
            return replace(got, counts=(hashlib.sha256(response.content).hexdigest(),), text=path)
        return got

    return [
        ("PUT mlflow-artifacts/artifacts/<path>", lambda s: outcome(s.http.put(f"{PROXY}/{s.root(i)}/{path}", content=content), path)),
        ("GET mlflow-artifacts/artifacts/<path>", download),
        ("DELETE mlflow-artifacts/artifacts/<path>", lambda s: outcome(s.http.delete(f"{PROXY}/{s.root(i)}/{path}"), path)),
        ("GET mlflow-artifacts/artifacts?path=", lambda s: outcome(s.http.get(PROXY, params={"path": f"{s.root(i)}/{folder}"}), folder)),
        ("GET artifacts/list", request("GET artifacts/list", lambda s: {"run_id": s.run(i), "path": folder})),
    ]  # fmt: skip


# What makes things for the other requests to act on: one draw in ten is one of them, so that the world
# grows while it is used (drawn as evenly as the other ~60 kinds, few runs would exist to log into).
CREATORS = frozenset({"POST experiments/create", "POST runs/create", "POST logged-models", "POST traces (v3 start)"})


def draw(rng: random.Random) -> tuple[str, Call]:
    """One request (or walk): its name, for `KNOWN_DIFFERENCES`, and how to send it to a side."""
    classic = [(endpoint, request(endpoint, body)) for endpoint, body in tracking_and_registry(rng)]
    every = classic + run_search_pages(rng) + tracing(rng) + artifacts(rng)
    if rng.random() < 0.1:
        every = [call for call in every if call[0] in CREATORS]
    return rng.choice(every)


def remember(side: Side, endpoint: str, body: dict[str, Any]) -> None:
    if endpoint == "POST experiments/create":
        side.experiments.append(body["experiment_id"])
    elif endpoint == "POST runs/create":
        info = body["run"]["info"]
        side.runs.append(info["run_id"])
        side.roots[info["run_id"]] = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    elif endpoint == "POST logged-models":
        side.models.append(body["model"]["info"]["model_id"])
    elif endpoint == "POST traces (v3 start)":
        side.traces.append(body["trace"]["trace_info"]["trace_id"])


def known(endpoint: str, expected: Answer, got: Answer) -> bool:
    """Whether the difference is in `KNOWN_DIFFERENCES`, under the endpoint's name without its "(…)" note."""
    return (endpoint.split(" (")[0], expected, got) in KNOWN_DIFFERENCES


@pytest.fixture(params=BACKENDS)
def sides(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    """MLflow's server (SQLite, as `mlflow server` starts) beside tracklet's on each of its backends."""
    mlflow = MlflowServer(tmp_path / "mlflow").start()
    tracklet = TrackletServer(_store_uri(request.param, tmp_path, request), str(tmp_path / "artifacts")).start()
    try:
        # A connection idle for a second is not reused: MLflow's server closes idle ones after 5 s, and one
        # left idle that long (while tracklet answered a slow request) could be closed as it is reused.
        limits = httpx.Limits(keepalive_expiry=1.0)
        with (
            httpx.Client(base_url=mlflow.url, timeout=60, limits=limits) as m,
            httpx.Client(base_url=tracklet.url, timeout=60, limits=limits) as t,
        ):
            yield Side(m), Side(t)
    finally:
        mlflow.stop()
        tracklet.stop()


def answered(call: Call, side: Side) -> Outcome:
    """The call's outcome; DROPPED when the server closed the connection instead of answering. Sent again
    once: after an error it does not handle, MLflow's server closes the connection, and the next request,
    sent on it before the client noticed, is never read."""
    for _ in range(2):
        try:
            return call(side)
        except (httpx.RemoteProtocolError, httpx.ReadError) as err:
            dropped = Outcome(DROPPED, text=repr(err))
    return dropped


def test_tracklet_answers_every_request_as_mlflow_does(sides: tuple[Side, Side]) -> None:
    mlflow, tracklet = sides
    rng = random.Random(SEED)
    differences, succeeded = [], 0
    for _ in range(REQUESTS):
        endpoint, call = draw(rng)
        theirs, ours = answered(call, mlflow), answered(call, tracklet)
        assert ours.answer != DROPPED, f"{endpoint}: tracklet closed the connection: {ours.text}"
        if theirs.answer == ours.answer == OK:
            succeeded += 1
            remember(mlflow, endpoint, theirs.body)
            remember(tracklet, endpoint, ours.body)
            if theirs.counts != ours.counts:
                differences.append(
                    f"{endpoint}: MLflow {theirs.text} {theirs.counts} tracklet {ours.text} {ours.counts}"
                )
        elif theirs.answer != ours.answer and not known(endpoint, theirs.answer, ours.answer):
            differences.append(f"{endpoint}: MLflow {theirs.text} tracklet {ours.text}")
    assert not differences, "\n".join(differences)
    # The sequence got past its first steps: things were created, and much succeeded, not only errors.
    assert len(mlflow.runs) >= 5 and len(mlflow.experiments) >= 5 and succeeded >= REQUESTS // 4
