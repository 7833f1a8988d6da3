"""The endpoints that touch artifacts, fuzzed against a server whose artifact store is S3: moto's real
S3-protocol server on loopback, the server's root a prefix of one bucket.

Checked, as in `test_fuzz`: every answer is a success or a 4xx in MLflow's error shape, never a 5xx.
And every object in S3 stays under the configured prefix: none appears elsewhere in the bucket or in a
neighbouring bucket, whose one object (the artifact location of an experiment the fuzzer aims at, as a
client may set one) stays as it was; the canary run's file under the prefix is never changed or lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.artifacts.test_artifact_stores import moto  # noqa: F401  (fixture)
from tests.http.conftest import check_answer
from tests.support.fuzzing import endpoints, fuzz_endpoint
from tests.support.processes import MotoS3, TrackletServer
from tracklet.server.app import api_routes
from tracklet.server.ui import ui_routes

pytestmark = pytest.mark.slow

# Where artifacts are written, read, listed or deleted: the artifact proxy (and its multipart calls), run
# and UI artifact listings and previews, logged models (their artifact folders), traces (spans in S3); not
# their tags, params or assessments, kept in the database.
ARTIFACT_WORDS = ("artifact", "/mpu/", "/presigned/", "/traces", "logged-models", "/v1/traces")
ENDPOINTS = [
    (m, p)
    for m, p in endpoints([*api_routes(), *ui_routes()])
    if any(w in p for w in ARTIFACT_WORDS) and not p.endswith(("/tags", "}/params")) and "/assessments" not in p
]
PREFIX = "fuzz-root"


@pytest.fixture(scope="module")
def buckets(moto: MotoS3) -> dict[str, str]:  # noqa: F811
    names = {"ours": "fuzz-" + uuid.uuid4().hex[:8], "neighbour": "next-door-" + uuid.uuid4().hex[:8]}
    for name in names.values():
        moto.create_bucket(name)
    moto.client().put_object(Bucket=names["neighbour"], Key="elsewhere/keep.txt", Body=b"not yours")
    moto.client().put_object(Bucket=names["ours"], Key="outside/keep.txt", Body=b"not under the prefix")
    return names


@pytest.fixture(scope="module")
def s3_server(
    moto: MotoS3,  # noqa: F811
    buckets: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrackletServer]:
    tmp = tmp_path_factory.mktemp("s3-fuzz")
    destination = f"s3://{buckets['ours']}/{PREFIX}"
    server = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", destination, env=moto.env()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(s3_server: TrackletServer, buckets: dict[str, str]) -> dict[str, Any]:
    """Runs with files, a logged model, a trace with spans (all through the server, into S3), an
    experiment whose artifact location is the neighbouring bucket, and a canary run never named."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(s3_server.url)
    mlflow.set_tracking_uri(s3_server.url)
    experiment_id = client.create_experiment("s3-fuzz")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_text(run_id, "hello", "dir/file.txt")
    model = client.create_logged_model(experiment_id, name="s3-model", source_run_id=run_id)
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_span("s3-span") as span:
        span.set_inputs({"x": 1})
    mlflow.flush_trace_async_logging()
    elsewhere = client.create_experiment("s3-elsewhere", artifact_location=f"s3://{buckets['neighbour']}/elsewhere")
    elsewhere_run = client.create_run(elsewhere).info.run_id
    canary_experiment = client.create_experiment("s3-canary")
    canary_run = client.create_run(canary_experiment).info.run_id
    client.log_text(canary_run, "precious", "canary.txt")
    mlflow.set_experiment(experiment_id=experiment_id)
    run_root = f"{experiment_id}/{run_id}/artifacts"
    pool = [
        experiment_id, run_id, model.model_id, span.trace_id, elsewhere, elsewhere_run, "dir", "dir/file.txt",
        run_root, f"{run_root}/dir/file.txt", f"{experiment_id}/models/{model.model_id}/artifacts",
        f"{experiment_id}/traces/{span.trace_id}/artifacts/traces.json", f"s3://{buckets['neighbour']}/elsewhere",
        "../outside/keep.txt", f"../../{buckets['neighbour']}/elsewhere/keep.txt",
    ]  # fmt: skip
    ids = {"experiment_id": [experiment_id, elsewhere], "run_id": [run_id, elsewhere_run],
           "model_id": [model.model_id], "trace_id": [span.trace_id], "path": ["dir", "dir/file.txt"]}  # fmt: skip
    canary_key = f"{PREFIX}/{canary_experiment}/{canary_run}/artifacts/canary.txt"
    return {"pool": pool, "ids": ids, "canary": {canary_experiment, canary_run}, "canary_key": canary_key}


def _objects(moto: MotoS3) -> dict[tuple[str, str], str]:  # noqa: F811
    """Every object in every bucket: (bucket, key) → its ETag."""
    s3 = moto.client()
    found = {}
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            found.update({(bucket["Name"], o["Key"]): o["ETag"] for o in page.get("Contents", [])})
    return found


@pytest.fixture(scope="module")
def before(moto: MotoS3, world: dict[str, Any]) -> dict[tuple[str, str], str]:  # noqa: F811
    return _objects(moto)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_an_artifact_endpoint_on_s3_answers_anything_and_writes_only_under_its_prefix(
    s3_server: TrackletServer,
    moto: MotoS3,  # noqa: F811
    buckets: dict[str, str],
    world: dict[str, Any],
    before: dict[tuple[str, str], str],
    method: str,
    path: str,
) -> None:
    def check_answer_on_s3(response: httpx.Response) -> None:
        # S3 presigns: the multipart calls answer, never the NOT_IMPLEMENTED of a local store.
        assert response.status_code != 501, f"{response.request.method} {response.request.url}: {response.text[:300]}"
        check_answer(response)

    with httpx.Client(base_url=s3_server.url, timeout=60, event_hooks={"response": [check_answer_on_s3]}) as api:
        fuzz_endpoint(api, method, path, world["pool"], world["canary"], ids=world["ids"])

    def outside_the_prefix(objects: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
        return {
            (b, k): tag for (b, k), tag in objects.items() if b != buckets["ours"] or not k.startswith(PREFIX + "/")
        }

    now = _objects(moto)
    assert outside_the_prefix(now) == outside_the_prefix(before), "an object outside the prefix appeared or changed"
    canary = (buckets["ours"], world["canary_key"])
    assert now.get(canary) == before[canary], "the canary run's file changed or went"
