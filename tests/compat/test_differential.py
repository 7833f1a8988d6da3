"""The same requests, in the same order, sent to `tracklet server` (on SQLite, then on PostgreSQL) and to
`mlflow server` (the pinned MLflow, SQLite) side by side: every answer must match MLflow's in status and
error code, and what can be counted must match too: the rows of searches and histories, the pages a
run, trace, evaluation dataset or webhook search, or a dataset's records, is walked through (following
each server's own, opaque, `next_page_token`), the dataset and model inputs of a run, the traces a delete
removed, the records a merge inserted and updated or a delete removed (and which inputs a dataset holds),
what a dataset's merges made of its schema and profile, a scorer's versions, a webhook's events and status,
and artifact listings (relative to each run's own artifact root, which differ between the servers) and
downloads (byte for byte).

The requests are drawn at random (seeded: CI sends the same ones each time) from the tracking, registry,
dataset (`runs/log-inputs`, `runs/outputs`), tracing (`/api/3.0/mlflow/traces*` and the `/api/2.0` tag
and delete calls the client sends), artifact (`mlflow-artifacts` proxy, `artifacts/list`), evaluation
dataset (`/api/3.0/mlflow/datasets/*`), registered scorer (`/api/3.0/mlflow/scorers/*`), trace analytics
(`traces/metrics`, `traces/calculate-filter-correlation`, `traces/link-prompts`) and webhook
(`/api/2.0/mlflow/webhooks*`) endpoints, with names, keys, values, paths, page tokens, JSON texts and
numbers chosen to collide, overflow, be empty or be nonsense, and ids of the right kind, of another kind
or made up, so both servers walk their error paths as well as their happy ones. Webhooks point at a
closed port on this machine (MLflow is started with its private-address and scheme checks relaxed), so
registry events are delivered nowhere. Where tracklet answers differently on purpose,
`KNOWN_DIFFERENCES` says so and why; anything else fails with both answers.
To hunt with other requests: `TRACKLET_DIFF_SEED=7 TRACKLET_DIFF_REQUESTS=2000`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import MlflowServer, TrackletServer, free_port

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"
API3 = "/api/3.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
DATASETS = f"{API3}/datasets"
SCORERS = f"{API3}/scorers"
WEBHOOKS = f"{API}/webhooks"
CLOSED_PORT = free_port()  # nothing listens there: a webhook's deliveries fail at once, on both sides
SEED = int(os.environ.get("TRACKLET_DIFF_SEED", "1"))
REQUESTS = int(os.environ.get("TRACKLET_DIFF_REQUESTS", "500"))

Answer = tuple[int, str | None]  # status, error_code
OK: Answer = (200, None)
DROPPED: Answer = (0, "CONNECTION_DROPPED")  # the server closed the connection without an answer

# (endpoint, MLflow's answer, tracklet's answer): why tracklet differs.
KNOWN_DIFFERENCES: dict[tuple[str, Answer, Answer], str] = {
    ("PUT scorers/online-config", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "a sample rate that is not a number: MLflow's server fails converting it"
    ),
    ("PUT scorers/online-config", (400, "INVALID_PARAMETER_VALUE"), (501, "NOT_IMPLEMENTED")): (
        "tracklet runs no online scoring (MLflow refuses these scorers: they use no AI gateway model)"
    ),
    ("PUT scorers/online-config", (200, None), (501, "NOT_IMPLEMENTED")): (
        "tracklet runs no online scoring: it keeps no sample rate, not even 0 (stop)"
    ),
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
    # Evaluation datasets: MLflow's 500s for a caller's mistakes (CHANGELOG: MLflow 3's evaluation datasets).
    ("POST datasets/create", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "tags that are not JSON: MLflow's server fails reading them"
    ),
    ("POST datasets/create", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "tags that are JSON but not an object: MLflow fails on them ('list' object has no attribute 'items')"
    ),
    ("PATCH datasets/<id>/tags", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "tags that are JSON but not an object: MLflow fails on them ('list' object has no attribute 'items')"
    ),
    ("PATCH datasets/<id>/tags", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "tags that are not JSON: MLflow's server fails reading them"
    ),
    ("PATCH datasets/<id>/tags", (404, "RESOURCE_DOES_NOT_EXIST"), (400, "INVALID_PARAMETER_VALUE")): (
        "tags that are not a JSON object are refused before the dataset is looked up (MLflow looks it up, then fails)"
    ),
    ("POST datasets/<id>/records", (400, "BAD_REQUEST"), (404, "RESOURCE_DOES_NOT_EXIST")): (
        "records merged into a dataset that does not exist: MLflow answers with its SQL error text"
    ),
    ("GET datasets/<id>/records", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "a page token that does not decode, or a negative max_results: MLflow's server fails"
    ),
    ("POST datasets/<id>/records", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "records that are not JSON: MLflow's server fails reading them"
    ),
    ("POST datasets/<id>/records", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "records that are not JSON objects: MLflow fails on them ('int' object has no attribute 'get')"
    ),
    ("POST datasets/<id>/records (an object)", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "records that are a JSON object, not a list: MLflow iterates its keys (none: it merged none; some: it fails)"
    ),
    ("POST datasets/<id>/records", (200, None), (404, "RESOURCE_DOES_NOT_EXIST")): (
        "no records merged into a dataset that does not exist: MLflow answers that it merged none"
    ),
    ("DELETE datasets/<id>/tags/<key>", (404, None), (200, None)): (
        "a tag key with a slash: MLflow's route does not take one (its 404 page), tracklet's does"
    ),
    ("POST datasets/search (bad page_token)", (400, "INVALID_PARAMETER_VALUE"), (200, None)): (
        "page tokens are tracklet's own: unpadded base64, as tracklet writes them, is read; MLflow pads its tokens"
    ),
    ("POST datasets/search (bad page_token)", (200, None), (400, "INVALID_PARAMETER_VALUE")): (
        "page tokens are tracklet's own: MLflow reads an offset written as text or with a fraction"
    ),
    ("POST datasets/search", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "a page token's offset beyond int64: MLflow fails passing it to SQLite"
    ),
    ("POST datasets/search", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "a page token that is JSON but not an object: MLflow's server fails reading it"
    ),
    # Scorers.
    ("POST scorers/register", (404, "RESOURCE_DOES_NOT_EXIST"), (400, "INVALID_PARAMETER_VALUE")): (
        "a serialized scorer that is not a JSON object is refused before the experiment is looked up"
    ),
    ("POST scorers/register", (500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")): (
        "a serialized scorer that is JSON but not an object: MLflow fails on it ('str' object has no attribute 'get')"
    ),
    # Webhooks.
    ("PATCH webhooks/<id>", (404, "RESOURCE_DOES_NOT_EXIST"), (400, "INVALID_PARAMETER_VALUE")): (
        "a malformed update is refused before its webhook is looked up"
    ),
    ("POST webhooks", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "an event without its entity or action: MLflow's server fails converting it"
    ),
    ("PATCH webhooks/<id>", (500, None), (400, "INVALID_PARAMETER_VALUE")): (
        "an event without its entity or action: MLflow's server fails converting it"
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
# server's tag `mlflow.artifactLocation` (tracklet sets its own; MLflow answers 404 "no longer exists"),
# an output's step that is no number, an input's or output's logged model that does not exist (MLflow
# links it), artifact paths with a backslash or NUL (tracklet: invalid; MLflow stores such names), and an upload
# to `.` (the run's artifact root itself: MLflow writes the root as a file, after which nothing uploads under it).
# Nor, of MLflow 3's newer APIs: an evaluation dataset created linked to an experiment that does not
# exist (MLflow links it), or naming one experiment twice (MLflow answers its SQL error; tracklet links
# it once); a dataset name over 255 characters, a tag key over 255 or value over 5000, an empty tag key,
# a record's source id or user over 255, NUL in any (MLflow's SQLite stores them); a tag without a value
# when creating (MLflow stores it with none; tracklet, as both when setting tags, leaves it out); a
# record whose `outputs` is not an object (a dict after a scalar: MLflow fails, tracklet merges it); a
# serialized scorer over 1 MB, or whose judge is on the AI gateway (`gateway:/...`: MLflow resolves the
# endpoint, tracklet keeps what was sent); a webhook URL anywhere but this machine (tracklet's test
# servers only send here) or with a control character (MLflow stores it; tracklet refuses it), a
# webhook name, URL, description or secret over MLflow's column sizes
# (MLflow's SQLite stores them), an unknown status (MLflow makes it ACTIVE), an event named twice
# (MLflow answers its database error; tracklet keeps it once), an event named in lower case (MLflow's
# server fails, 500; tracklet takes any case), and `webhooks/<id>/test` of a webhook that
# exists (it delivers: MLflow retries its test for seconds).
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
    datasets: list[str] = field(default_factory=list)  # evaluation datasets
    records: dict[tuple[str, str], str] = field(default_factory=dict)  # (dataset id, inputs as JSON): record id
    scorers: list[str] = field(default_factory=list)  # scorer ids, one per registered version
    scorer_names: list[tuple[str, str]] = field(default_factory=list)  # (experiment id, name), one per version
    webhooks: list[str] = field(default_factory=list)
    last_token: str = ""  # the last `next_page_token` this server handed out
    last_token_of: dict[str, Any] = field(default_factory=dict)  # the search it was handed out for

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

    def dataset(self, i: int) -> str:
        return self.datasets[i % len(self.datasets)] if self.datasets else "d-nope"

    def record(self, i: int, inputs: dict[str, Any]) -> str:
        return self.records.get((self.dataset(i), canonical(inputs)), "dr-nope")

    def scorer(self, i: int) -> str:
        return self.scorers[i % len(self.scorers)] if self.scorers else "nope"

    def scorer_name(self, i: int) -> tuple[str, str]:
        return self.scorer_names[i % len(self.scorer_names)] if self.scorer_names else (self.experiment(i), "nope")

    def webhook(self, i: int) -> str:
        return self.webhooks[i % len(self.webhooks)] if self.webhooks else "nope"

    def any_id(self, kind: str, i: int) -> str:
        """An id of this kind, or of another kind, or made up: what a path's `{id}` is drawn from."""
        other = {"run": self.run, "trace": self.trace, "model": self.model, "dataset": self.dataset,
                 "webhook": self.webhook, "scorer": self.scorer}  # fmt: skip
        return "nope" if kind == "nope" else other[kind](i)


def canonical(inputs: Any) -> str:
    return json.dumps(inputs, sort_keys=True)


@dataclass
class Outcome:
    """What a request (or a walk through a search's pages) came to, as compared between the servers."""

    answer: Answer
    counts: tuple[Any, ...] = ()  # compared when both succeed: rows, page sizes, listings, a download's digest
    body: Any = None  # the (last) answer's JSON, for `remember`
    text: str = ""  # what was sent and answered, shown when the servers differ


Body = Callable[[Side], dict[str, Any]]
Call = Callable[[Side], Outcome]
ROWS = (
    "experiments", "runs", "registered_models", "model_versions", "models", "metrics", "traces", "datasets",
    "experiment_ids", "webhooks", "configs", "data_points",
)  # fmt: skip
# What an answer says it did (records merged, deleted; the version a registration made): compared as is.
DONE = ("inserted_count", "updated_count", "deleted_count", "version")


def rows(body: dict[str, Any], items: str) -> list[Any]:
    """A list answer's items; a dataset's records travel as the JSON text of their list."""
    found = body.get(items) or []
    return json.loads(found) if isinstance(found, str) else found


def json_text(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else text
    except ValueError:
        return text


def entity(body: dict[str, Any]) -> tuple[Any, ...]:
    """What a dataset, scorer or webhook in an answer is compared by (ids, names and times differ or
    are not the point): a dataset's tag keys, schema and profile (what its merges made), a scorer's name
    and version (and those of a listing), a webhook's name, events, status and description."""
    dataset, scorer, webhook = body.get("dataset"), body.get("scorer"), body.get("webhook")
    found: list[Any] = []
    if isinstance(dataset, dict):
        found += [sorted(json_text(dataset.get("tags")) or {}), json_text(dataset.get("schema")),
                  json_text(dataset.get("profile"))]  # fmt: skip
    if isinstance(scorer, dict):
        found += [scorer.get("scorer_name"), scorer.get("scorer_version")]
    if isinstance(webhook, dict):
        events = sorted((e.get("entity"), e.get("action")) for e in webhook.get("events") or [])
        found += [webhook.get("name"), events, webhook.get("status"), webhook.get("description")]
    scorers = sorted((s.get("scorer_name"), s.get("scorer_version")) for s in body.get("scorers") or [])
    return (*found, tuple(scorers))


def counts(body: Any, whole: bool = True) -> tuple[Any, ...]:
    """What a successful answer is compared by, besides its status: its rows, a run's inputs, what a
    delete removed, a listing's files (names relative to the listed folder or to the run's root), what a
    dataset, scorer or webhook came to, and which records a dataset holds when they are all in the answer
    (`whole`, and no page follows: MLflow orders the records of one merge by their random ids, so which
    of them a page holds differs)."""
    if not isinstance(body, dict):
        return ()
    run = body.get("run")
    inputs = run.get("inputs") or {} if isinstance(run, dict) else {}
    # A file's size 0 may be left out, as MLflow leaves it out (a missing field reads as 0).
    files = sorted(
        (f.get("path"), f.get("is_dir", False), None if f.get("is_dir") else f.get("file_size", 0))
        for f in body.get("files") or []
    )
    records = [canonical(r.get("inputs")) for r in rows(body, "records")]
    if records and (not whole or body.get("next_page_token")):
        records = [str(len(records))]
    return (
        *(len(rows(body, items)) for items in ROWS),
        len(inputs.get("dataset_inputs") or []),
        len(inputs.get("model_inputs") or []),
        body.get("traces_deleted"),
        tuple(files),
        tuple(sorted(records)),
        *(body.get(done) for done in DONE),
        *entity(body),
        canonical(body.get("data_points")),  # trace metrics: every value
        *(body.get(f"{n}_count") for n in ("total", "filter1", "filter2", "joint")),  # NPMI's counts
    )


def outcome(response: httpx.Response, sent: Any) -> Outcome:
    try:
        body = response.json()
    except ValueError:
        body = None
    error_code = body.get("error_code") if isinstance(body, dict) else None
    return Outcome(
        (response.status_code, error_code), counts(body), body, f"{str(sent)[:300]} -> {response.text[:300]!r}"
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
        ("POST runs/log-inputs", lambda s: {"run_id": s.run(i), "datasets": datasets, **({"models": [{"model_id": s.model(i)}]} if with_run and s.models else {})}),
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


def all_pages(side: Side, path: str, sent: dict[str, Any], items: str, method: str = "POST") -> Outcome:
    """A search walked through: each page's size (of its `items`), following the server's own tokens; the
    first failing page's answer. A GET sends `sent` as its query."""
    sizes: list[int] = []
    for _ in range(60):
        if method == "GET":
            page = outcome(side.http.get(path, params=sent), sent)
        else:
            page = outcome(side.http.request(method, path, json=sent), sent)
        if page.answer != OK:
            return replace(page, counts=tuple(sizes))
        sizes.append(len(rows(page.body, items)))
        if not page.body.get("next_page_token"):
            break
        side.last_token_of = {k: v for k, v in sent.items() if k != "page_token"}
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

    def other_searchs_token(side: Side) -> Outcome:
        got = request("POST runs/search", lambda s: {**query(s), "page_token": s.last_token})(side)
        if side.last_token_of == query(side):
            return got
        # A token of another search (other filter or experiments): MLflow's is an offset into whatever is
        # asked, tracklet's the position in the order after which to go on. Both answer; what differs by
        # design.
        return replace(got, counts=())

    return [
        ("POST runs/search (all pages)", lambda side: all_pages(side, f"{API}/runs/search", query(side), "runs")),
        ("POST runs/search (bad page_token)", request("POST runs/search", lambda s: {**query(s), "page_token": bad_token})),
        ("POST runs/search (other search's page_token)", other_searchs_token),
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


METRIC_QUERIES = [
    ("TRACES", "trace_count", ["COUNT"]), ("TRACES", "latency", ["AVG", "MAX", "P50"]),
    ("TRACES", "session_count", ["COUNT"]), ("TRACES", "total_tokens", ["SUM"]), ("SPANS", "span_count", ["COUNT"]),
    ("ASSESSMENTS", "assessment_count", ["COUNT"]), ("TRACES", "latency", ["COUNT"]), ("TRACES", "bogus", ["COUNT"]),
    ("PLANETS", "trace_count", ["COUNT"]), ("TRACES", "trace_count", []), (2, "latency", ["MIN", "P99.5"]),
]  # fmt: skip
METRIC_DIMENSIONS = [[], ["trace_name"], ["trace_status"], ["trace_name", "trace_status"], ["span_name"], ["nope"]]
METRIC_FILTERS = [[], ["trace.status = 'OK'"], ["trace.tag.k = 'v'"], ["trace.metadata.`mlflow.user` = 'root'"],
                  ["span.name = 'x'"], ["trace.status != 'OK'"], ["bogus"], ["trace.status = OK"]]  # fmt: skip
PROMPT_LINKS = [
    [{"name": "qa", "version": "1"}],
    [{"name": "qa", "version": "1"}, {"name": "b", "version": "2"}],
    [],
    None,
]


def trace_analytics(rng: random.Random) -> list[tuple[str, Call]]:
    """What MLflow's UI charts of traces (`traces/metrics`), NPMI between two trace filters, and prompt
    versions linked to a trace."""
    i = rng.randrange(1000)
    view, metric, aggregations = rng.choice(METRIC_QUERIES)
    dimensions, filters = rng.choice(METRIC_DIMENSIONS), rng.choice(METRIC_FILTERS)
    bucketed = rng.choice([None, None, 60, 86400, -5])
    window = rng.choice([(None, None), (0, 2**62), (1764250647147, 1764250648000)])
    first, second = rng.choice(TRACE_FILTERS), rng.choice(TRACE_FILTERS)
    base = rng.choice([None, None, "trace.status = 'OK'", "bogus"])
    links, known_trace = rng.choice(PROMPT_LINKS), rng.random() < 0.8

    def aggregation(name: str) -> dict[str, Any]:
        if name.startswith("P"):
            return {"aggregation_type": "PERCENTILE", "percentile_value": float(name[1:])}
        return {"aggregation_type": name}

    def query(s: Side) -> dict[str, Any]:
        body = {
            "experiment_ids": [s.experiment(i)], "view_type": view, "metric_name": metric,
            "aggregations": [aggregation(a) for a in aggregations], "dimensions": dimensions, "filters": filters,
            "time_interval_seconds": bucketed, "start_time_ms": window[0], "end_time_ms": window[1],
        }  # fmt: skip
        return {k: v for k, v in body.items() if v is not None}

    def correlation(s: Side) -> dict[str, Any]:
        body = {"experiment_ids": [s.experiment(i)], "filter_string1": first, "filter_string2": second}
        return body if base is None else {**body, "base_filter": base}

    def link(s: Side) -> dict[str, Any]:
        body = {"trace_id": s.trace(i) if known_trace else "tr-nope", "prompt_versions": links}
        return {k: v for k, v in body.items() if v is not None}

    return [
        ("POST traces/metrics", request(f"POST {API3}/traces/metrics", query)),
        ("POST traces/calculate-filter-correlation", request(f"POST {API3}/traces/calculate-filter-correlation", correlation)),
        ("POST traces/link-prompts", request("POST traces/link-prompts", link)),
    ]  # fmt: skip


def artifacts(rng: random.Random) -> list[tuple[str, Call]]:
    """The artifact proxy under each run's own root, and the R client's `artifacts/list`."""
    i = rng.randrange(1000)
    path, folder, content = (
        rng.choice(ARTIFACT_PATHS),
        rng.choice(["", "d", "d/e", "a.txt", "%2E%2E", "nope"]),
        rng.choice(CONTENTS),
    )

    upload_path = "a.txt" if path == "." else path  # not drawn: see "Not drawn" (an upload to the run's root)

    def download(side: Side) -> Outcome:
        response = side.http.get(f"{PROXY}/{side.root(i)}/{path}")
        got = outcome(response, path)
        if got.answer == OK:
            return replace(got, counts=(hashlib.sha256(response.content).hexdigest(),), text=path)
        return got

    return [
        ("PUT mlflow-artifacts/artifacts/<path>", lambda s: outcome(s.http.put(f"{PROXY}/{s.root(i)}/{upload_path}", content=content), upload_path)),
        ("GET mlflow-artifacts/artifacts/<path>", download),
        ("DELETE mlflow-artifacts/artifacts/<path>", lambda s: outcome(s.http.delete(f"{PROXY}/{s.root(i)}/{path}"), path)),
        ("GET mlflow-artifacts/artifacts?path=", lambda s: outcome(s.http.get(PROXY, params={"path": f"{s.root(i)}/{folder}"}), folder)),
        ("GET artifacts/list", request("GET artifacts/list", lambda s: {"run_id": s.run(i), "path": folder})),
        ("GET logged-models/<id>/artifacts/directories", lambda s: request(
            f"GET logged-models/{s.model(i)}/artifacts/directories", lambda s: {"artifact_directory_path": folder})(s)),
    ]  # fmt: skip


# Evaluation datasets: names (MLflow's column holds 255), tags and records as the JSON text they travel as.
EVAL_NAMES = ["qa", "qa2", "é", "x" * 255, "a b", ""]
EVAL_TAGS = [None, "", "{}", '{"team": "ml"}', '{"mlflow.user": "ann", "k": "v"}', '{"k": 1}', '{"k": null}',
             '{"team": "' + "x" * 5000 + '"}', "not json", "[1]", '"text"']  # fmt: skip
NULL_TAG = '{"k": null}'
INPUTS: list[dict[str, Any]] = [{"q": "2+2?"}, {"q": "3+3?"}, {"q": "x", "n": 1}, {}, {"q": ["a", {"b": None}]}]
SOURCES_OF_RECORDS: list[Any] = [
    None, {"source_type": "HUMAN", "source_data": {"source_id": "s1"}}, {"source_type": "TRACE", "source_data": {"trace_id": "tr-1"}},
    {"source_type": "DOCUMENT", "source_data": {}}, {"source_type": "code"},
]  # fmt: skip
EVAL_FILTERS = ["", "name = 'qa'", "name LIKE 'qa%'", "tags.team = 'ml'", "bogus", "created_time > 0",
                "name ILIKE 'Q%'", "last_update_time < 0", "created_by = 'ann'", "tags.`a b` = 'v'"]  # fmt: skip
EVAL_ORDERS = [[], ["name ASC"], ["created_time DESC"], ["bogus"], ["last_update_time"], ["name sideways"],
               ["name", "created_time DESC"]]  # fmt: skip
TAG_KEYS = ["team", "k", "mlflow.user", "nope", "a%20b", "a/b"]  # as they go in a path: URL-encoded already


def evaluation_record(rng: random.Random) -> dict[str, Any]:
    """A record of a merge: inputs (what finds it again), and any of outputs, expectations, tags, source."""
    record: dict[str, Any] = {"inputs": rng.choice(INPUTS)}
    if rng.random() < 0.1:
        del record["inputs"]
    if rng.random() < 0.5:
        record["outputs"] = rng.choice([{"a": "4"}, {"a": 4, "b": [1]}, None, {}])
    if rng.random() < 0.5:
        record["expectations"] = rng.choice([{"answer": "4"}, {"note": "easy", "score": 0.5}, {}])
    if rng.random() < 0.4:
        record["tags"] = rng.choice([{"mlflow.user": "ann"}, {"k": "v"}, {}])
    source = rng.choice(SOURCES_OF_RECORDS)
    if source is not None:
        record["source"] = source
    return record


def evaluation_datasets(rng: random.Random) -> list[tuple[str, Call]]:
    """`/api/3.0/mlflow/datasets/*`: create, get, delete, search, tags, records, links to experiments."""
    i = rng.randrange(1000)
    kind = rng.choice(["dataset"] * 6 + ["run", "trace", "nope"])  # whose id the path names
    name, tags = rng.choice(EVAL_NAMES), rng.choice(EVAL_TAGS)
    linked = rng.choice(["none", "one", "two", "missing"])
    records = rng.choice(["list"] * 6 + ["empty", "not json", "object", "numbers", None])
    merged = [evaluation_record(rng) for _ in range(rng.choice([1, 1, 2, 3]))]
    search = {
        "filter_string": rng.choice(EVAL_FILTERS),
        "order_by": rng.choice(EVAL_ORDERS),
        "max_results": rng.choice([1, 2, 10, 0, -1, 1000, 50001, None]),
    }
    in_experiment = rng.random() < 0.5
    page = {
        "max_results": rng.choice([1, 2, 0, -1, None]),
        "page_token": rng.choice([None, "", "2", "abc", token("1:dr-x")]),
    }
    deleted = rng.choice([[], ["one"], ["one", "other"], ["made-up"]])
    key = rng.choice(TAG_KEYS)
    other_inputs, bad_token = rng.choice(INPUTS), rng.choice(BAD_TOKENS)

    def path(s: Side, suffix: str = "") -> str:
        return f"{DATASETS}/{s.any_id(kind, i)}{suffix}"

    def experiments(s: Side) -> list[str]:
        # (an experiment named twice: see "Not drawn")
        chosen = {"none": [], "one": [s.experiment(i)], "two": [s.experiment(i), s.experiment(i + 1)],
                  "missing": [s.experiment(i), "99999"]}[linked]  # fmt: skip
        return list(dict.fromkeys(chosen))

    def create(s: Side) -> dict[str, Any]:
        # A link to an experiment that does not exist: MLflow makes it (see "Not drawn").
        body = {"name": name, "experiment_ids": [] if linked == "missing" else experiments(s), "tags": tags}
        if tags == NULL_TAG:  # (MLflow stores it when creating; see "Not drawn")
            del body["tags"]
        return {k: v for k, v in body.items() if v is not None}

    def upsert(s: Side) -> dict[str, Any]:
        text = {"list": json.dumps(merged), "empty": "[]", "not json": "[{", "object": json.dumps(merged[0]),
                "numbers": "[1, 2]", None: None}[records]  # fmt: skip
        return {} if text is None else {"records": text}

    def search_query(s: Side) -> dict[str, Any]:
        body = {**search, "experiment_ids": [s.experiment(i)] if in_experiment else []}
        return {k: v for k, v in body.items() if v is not None}

    def records_page(s: Side) -> dict[str, Any]:
        return {k: v for k, v in page.items() if v is not None}

    def record_ids(s: Side) -> dict[str, Any]:
        which = {
            "one": s.record(i, merged[0].get("inputs", {})),
            "other": s.record(i, other_inputs),
            "made-up": "dr-nope",
        }
        return {"dataset_record_ids": [which[d] for d in deleted]}

    def read_records(s: Side) -> Outcome:
        got = request(f"GET {path(s, '/records')}", records_page)(s)
        return replace(got, counts=counts(got.body, whole=not page["page_token"]))

    upserted = "POST datasets/<id>/records" + (" (an object)" if records == "object" else "")
    return [
        ("POST datasets/create", request(f"POST {DATASETS}/create", create)),
        ("GET datasets/<id>", lambda s: request(f"GET {path(s)}", lambda s: {})(s)),
        ("DELETE datasets/<id>", lambda s: request(f"DELETE {path(s)}", lambda s: {})(s)),
        ("POST datasets/search", request(f"POST {DATASETS}/search", search_query)),
        ("GET datasets/search", request(f"GET {DATASETS}/search", search_query)),
        ("POST datasets/search (all pages)", lambda s: all_pages(s, f"{DATASETS}/search", search_query(s), "datasets")),
        ("POST datasets/search (bad page_token)", request(f"POST {DATASETS}/search", lambda s: {**search_query(s), "page_token": bad_token})),
        ("PATCH datasets/<id>/tags", lambda s: request(f"PATCH {path(s, '/tags')}", lambda s: {} if tags is None else {"tags": tags})(s)),
        ("DELETE datasets/<id>/tags/<key>", lambda s: request(f"DELETE {path(s, '/tags/' + key)}", lambda s: {})(s)),
        (upserted, lambda s: request(f"POST {path(s, '/records')}", upsert)(s)),
        (upserted, lambda s: request(f"POST {path(s, '/records')}", upsert)(s)),  # (drawn twice)
        ("GET datasets/<id>/records" + (" (a page)" if page["page_token"] else ""), read_records),
        ("GET datasets/<id>/records (all pages)", lambda s: all_pages(s, path(s, "/records"), records_page(s), "records", "GET")),
        ("DELETE datasets/<id>/records", lambda s: request(f"DELETE {path(s, '/records')}", record_ids)(s)),
        ("GET datasets/<id>/experiment-ids", lambda s: request(f"GET {path(s, '/experiment-ids')}", lambda s: {})(s)),
        ("POST datasets/<id>/add-experiments", lambda s: request(f"POST {path(s, '/add-experiments')}", lambda s: {"experiment_ids": experiments(s)})(s)),
        ("POST datasets/<id>/remove-experiments", lambda s: request(f"POST {path(s, '/remove-experiments')}", lambda s: {"experiment_ids": experiments(s)})(s)),
    ]  # fmt: skip


SCORER_NAMES = ["polite", "concise", "Polite", "", " ", "a b", "x" * 256]


def serialized_scorer(name: str) -> str:
    """A built-in judge as `Scorer.register` serializes it."""
    return json.dumps({
        "name": name, "aggregations": [], "mlflow_version": "3.17.2", "serialization_version": 1,
        "builtin_scorer_class": "Guidelines",
        "builtin_scorer_pydantic_data": {"name": name, "required_columns": ["inputs", "outputs"], "guidelines": "Be polite."},
        "call_source": None, "call_signature": None, "original_func_name": None,
    })  # fmt: skip


SERIALIZED = [
    "valid", "valid", "valid", "", "not json", "[]", '"text"', "{}",
    json.dumps({"name": "f", "call_source": "return True", "call_signature": "(outputs)", "original_func_name": "f"}),
    json.dumps({"name": "j", "builtin_scorer_pydantic_data": {"name": "j", "model": "  "}}),
    json.dumps({"name": "j", "builtin_scorer_pydantic_data": {"name": "j", "model": "openai:/gpt-4o"}}),
    json.dumps({"name": "t", "third_party_scorer_data": {"model": "openai:/gpt-4o", "kwargs": {"api_base": "http://x"}}}),
    json.dumps({"name": "t", "third_party_scorer_data": {"kwargs": [1]}}),
]  # fmt: skip


def scorers(rng: random.Random) -> list[tuple[str, Call]]:
    """`/api/3.0/mlflow/scorers/*`: register, list, versions, get, delete, online-configs."""
    i = rng.randrange(1000)
    valid = rng.random() < 0.5
    name, serialized = rng.choice(SCORER_NAMES[:3] if valid else SCORER_NAMES), rng.choice(SERIALIZED)
    experiment = "ours" if valid else rng.choice(["ours", "ours", "ours", "missing", "abc", "", None])
    serialized = "valid" if valid else serialized
    version = rng.choice([None, None, 1, 2, 0, -1, "x"])
    listing = rng.choice(["one", "many", "none", "both", "empty list"])
    scorer_ids = rng.choice(["ours", "made-up", "none"])
    rate = rng.choice([0.5, 0, 1.5, "x"])
    registered = rng.random() < 0.6

    def experiment_id(s: Side) -> str | None:
        return {"ours": s.experiment(i), "missing": "99999"}.get(experiment or "", experiment)

    def named(s: Side) -> dict[str, Any]:
        if registered:  # one registered before (perhaps deleted since)
            experiment, known_name = s.scorer_name(i)
            return {
                "experiment_id": experiment,
                "name": known_name,
                **({} if version is None else {"version": version}),
            }
        body = {"experiment_id": experiment_id(s), "name": name, "version": version}
        return {k: v for k, v in body.items() if v is not None}

    def register(s: Side) -> dict[str, Any]:
        text = serialized_scorer(name) if serialized == "valid" else serialized
        return {
            k: v
            for k, v in {"experiment_id": experiment_id(s), "name": name, "serialized_scorer": text}.items()
            if v is not None
        }

    def listed(s: Side) -> dict[str, Any]:
        return {"one": {"experiment_id": s.experiment(i)}, "many": {"experiment_ids": [s.experiment(i), s.experiment(i + 1)]},
                "none": {}, "both": {"experiment_id": s.experiment(i), "experiment_ids": [s.experiment(i)]},
                "empty list": {"experiment_ids": []}}[listing]  # fmt: skip

    def configs(s: Side) -> dict[str, Any]:
        return {"ours": {"scorer_ids": [s.scorer(i)]}, "made-up": {"scorer_ids": ["nope"]}, "none": {}}[scorer_ids]

    unversioned = lambda s: {k: v for k, v in named(s).items() if k != "version"}  # noqa: E731
    return [
        ("POST scorers/register", request(f"POST {SCORERS}/register", register)),
        ("GET scorers/list", request(f"GET {SCORERS}/list", listed)),
        ("GET scorers/versions", request(f"GET {SCORERS}/versions", unversioned)),
        ("GET scorers/get", request(f"GET {SCORERS}/get", named)),
        ("DELETE scorers/delete", request(f"DELETE {SCORERS}/delete", named)),
        ("GET scorers/online-configs", request(f"GET {SCORERS}/online-configs", configs)),
        ("PUT scorers/online-config", request(f"PUT {SCORERS}/online-config", lambda s: {**unversioned(s), "sample_rate": rate})),
    ]  # fmt: skip


HOOK_NAMES = ["deploy", "ci.hook_1-a", "", "-bad", "x" * 63, "x" * 64, "a b", "é"]
HOOK_URLS = [
    f"http://127.0.0.1:{CLOSED_PORT}/hook", f"https://localhost:{CLOSED_PORT}/x", "", "   ", "ftp://127.0.0.1/x",
    "not a url", "http://",
]  # fmt: skip
HOOK_EVENTS: list[Any] = [
    [{"entity": "MODEL_VERSION", "action": "CREATED"}],
    [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}, {"entity": "MODEL_VERSION_TAG", "action": "SET"}],
    [{"entity": "PROMPT", "action": "CREATED"}], [{"entity": "REGISTERED_MODEL", "action": "DELETED"}],
    [{"entity": "BOGUS", "action": "CREATED"}], [{"entity": "MODEL_VERSION"}], [], [{}],
    [{"entity": 2, "action": 1}],  # protobuf's enum numbers
]  # fmt: skip


def webhooks(rng: random.Random) -> list[tuple[str, Call]]:
    """`/api/2.0/mlflow/webhooks*`: create, list (walked through), get, update, delete; `test` only on ids
    that do not exist (a real one would deliver: MLflow retries its test for seconds)."""
    i = rng.randrange(1000)
    valid = rng.random() < 0.5
    fields = {
        "name": rng.choice(HOOK_NAMES[:2] if valid else HOOK_NAMES),
        "url": rng.choice(HOOK_URLS[:2] if valid else HOOK_URLS),
        "events": rng.choice(HOOK_EVENTS[:3] if valid else HOOK_EVENTS),
        "description": rng.choice([None, "", "d", "é"]),
        "secret": rng.choice([None, "", "s3cret"]),
        "status": rng.choice([None, None, "ACTIVE", "DISABLED"]),
    }
    kept = set(rng.sample(sorted(fields), rng.choice([0, 1, 1, 2, 3])))
    missing_one = None if valid else rng.choice(["name", "url", "events", None])
    kind = rng.choice(["webhook"] * 5 + ["run", "dataset", "nope"])
    listing = {"max_results": rng.choice([None, 1, 2, 0, -1, 1000, 1001]), "page_token": rng.choice([None, "abc"])}

    def create(s: Side) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None and k != missing_one}

    def update(s: Side) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None and k in kept}

    def listed(s: Side) -> dict[str, Any]:
        return {k: v for k, v in listing.items() if v is not None}

    def path(s: Side) -> str:
        return f"{WEBHOOKS}/{s.any_id(kind, i)}"

    return [
        ("POST webhooks", request(f"POST {WEBHOOKS}", create)),
        ("GET webhooks", request(f"GET {WEBHOOKS}", listed)),
        ("GET webhooks (all pages)", lambda s: all_pages(s, WEBHOOKS, listed(s), "webhooks", "GET")),
        ("GET webhooks/<id>", lambda s: request(f"GET {path(s)}", lambda s: {})(s)),
        ("PATCH webhooks/<id>", lambda s: request(f"PATCH {path(s)}", update)(s)),
        ("DELETE webhooks/<id>", lambda s: request(f"DELETE {path(s)}", lambda s: {})(s)),
        ("POST webhooks/<id>/test", lambda s: request(f"POST {WEBHOOKS}/nope-{s.any_id(kind, i)}/test", lambda s: {})(s)),
    ]  # fmt: skip


# What makes things for the other requests to act on: one draw in ten is one of them, so that the world
# grows while it is used (drawn as evenly as the other ~60 kinds, few runs would exist to log into).
CREATORS = frozenset({
    "POST experiments/create", "POST runs/create", "POST logged-models", "POST traces (v3 start)",
    "POST datasets/create", "POST scorers/register", "POST webhooks",
})  # fmt: skip


def draw(rng: random.Random) -> tuple[str, Call]:
    """One request (or walk): its name, for `KNOWN_DIFFERENCES`, and how to send it to a side."""
    classic = [(endpoint, request(endpoint, body)) for endpoint, body in tracking_and_registry(rng)]
    every = classic + run_search_pages(rng) + tracing(rng) + artifacts(rng)
    every += evaluation_datasets(rng) + scorers(rng) + webhooks(rng) + trace_analytics(rng)
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
    elif endpoint == "POST datasets/create":
        side.datasets.append(body["dataset"]["dataset_id"])
    elif endpoint == "GET datasets/<id>/records" and not body.get("next_page_token"):
        # (all of the dataset's records: which of them a page holds may differ)
        for record in rows(body, "records"):
            side.records[(record["dataset_id"], canonical(record.get("inputs")))] = record["dataset_record_id"]
    elif endpoint == "POST scorers/register":
        side.scorers.append(body["scorer_id"])
        side.scorer_names.append((body["experiment_id"], body["name"]))
    elif endpoint == "POST webhooks":
        side.webhooks.append(body["webhook"]["webhook_id"])


def known(endpoint: str, expected: Answer, got: Answer) -> bool:
    """Whether the difference is in `KNOWN_DIFFERENCES`, under the endpoint's name with or without its
    "(…)" note."""
    return any((name, expected, got) in KNOWN_DIFFERENCES for name in (endpoint, endpoint.split(" (")[0]))


@pytest.fixture(params=BACKENDS)
def sides(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    """MLflow's server (SQLite, as `mlflow server` starts) beside tracklet's on each of its backends."""
    # MLflow takes webhooks to public https receivers only, unless told otherwise; tracklet's test servers
    # to this machine only (tests/conftest.py). Both are given the same closed loopback port.
    relaxed = {"MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true"}
    mlflow = MlflowServer(tmp_path / "mlflow", env=relaxed).start()
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
            differences.append(f"{endpoint}: {theirs.answer} {ours.answer}: MLflow {theirs.text} tracklet {ours.text}")
    assert not differences, "\n".join(differences)
    # The sequence got past its first steps: things were created, and much succeeded, not only errors.
    assert len(mlflow.runs) >= 5 and len(mlflow.experiments) >= 5 and succeeded >= REQUESTS // 4
