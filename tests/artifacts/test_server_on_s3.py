"""A tracklet server storing artifacts in S3 (moto's real S3-protocol server) and its metadata in
PostgreSQL: the scaled-out setup, driven by the official MLflow client."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.artifacts.test_artifact_stores import moto  # noqa: F401  (fixture)
from tests.support.processes import MotoS3, ThrowawayPostgres, TrackletServer


@pytest.fixture(scope="module")
def s3_server(moto: MotoS3, postgres: ThrowawayPostgres, tmp_path_factory) -> Iterator[TrackletServer]:  # noqa: F811
    bucket = "tracklet-" + uuid.uuid4().hex[:8]
    moto.create_bucket(bucket)
    db = postgres.create_database("s3_" + uuid.uuid4().hex[:8])
    server = TrackletServer(db, f"s3://{bucket}/artifacts", workers=2, env=moto.env()).start()
    yield server
    server.stop()


@pytest.mark.postgres
def test_artifacts_round_trip_through_s3_with_several_workers(s3_server: TrackletServer, tmp_path: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(s3_server.url)
    client = MlflowClient(s3_server.url)
    experiment_id = client.create_experiment("s3-" + uuid.uuid4().hex[:6])
    run_id = client.create_run(experiment_id).info.run_id
    data = os.urandom(3 * 1024 * 1024 + 7)
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "weights.bin").write_bytes(data)
    (tmp_path / "upload" / "notes.txt").write_text("trained on s3")
    client.log_artifacts(run_id, str(tmp_path / "upload"), "outputs")

    listing = {f.path: f.file_size for f in client.list_artifacts(run_id, "outputs")}
    assert listing == {"outputs/notes.txt": len("trained on s3"), "outputs/weights.bin": len(data)}
    back = Path(client.download_artifacts(run_id, "outputs", str(tmp_path / "down")))
    assert hashlib.sha256((back / "weights.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    assert (back / "notes.txt").read_text() == "trained on s3"


@pytest.mark.postgres
def test_a_model_logged_to_s3_loads_back(s3_server: TrackletServer) -> None:
    import mlflow
    import numpy as np
    from sklearn.linear_model import LinearRegression

    mlflow.set_tracking_uri(s3_server.url)
    mlflow.set_experiment("s3-models")
    X = np.arange(20, dtype=float).reshape(-1, 1)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(LinearRegression().fit(X, 3 * X.ravel() + 1), name="model")
    predictions = mlflow.pyfunc.load_model(info.model_uri).predict(np.array([[10.0]]))
    assert predictions[0] == pytest.approx(31.0)


@pytest.mark.postgres
def test_traces_keep_their_spans_in_s3_and_lose_them_when_deleted(s3_server: TrackletServer, moto: MotoS3) -> None:  # noqa: F811
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(s3_server.url)
    experiment_id = mlflow.set_experiment("s3-traces-" + uuid.uuid4().hex[:6]).experiment_id

    @mlflow.trace
    def double(x: int) -> int:
        return 2 * x

    for x in range(3):
        double(x)
    mlflow.flush_trace_async_logging()
    traces = mlflow.search_traces(locations=[experiment_id], return_type="list")
    assert sorted(t.data.spans[0].outputs for t in traces) == [0, 2, 4]  # read back from S3 by the server

    bucket = s3_server.artifacts_destination.split("/")[2]

    def span_files() -> list[str]:
        listed = moto.client().list_objects_v2(Bucket=bucket, Prefix=f"artifacts/{experiment_id}/traces/")
        return sorted(o["Key"] for o in listed.get("Contents", []))

    assert span_files() == sorted(
        f"artifacts/{experiment_id}/traces/{t.info.trace_id}/artifacts/traces.json" for t in traces
    )
    assert MlflowClient(s3_server.url).delete_traces(experiment_id, trace_ids=[traces[0].info.trace_id]) == 1
    assert len(span_files()) == 2 and traces[0].info.trace_id not in "".join(span_files())


@pytest.mark.postgres
def test_span_filters_find_traces_whose_spans_are_in_s3_even_put_there_directly(
    s3_server: TrackletServer,
    moto: MotoS3,  # noqa: F811
) -> None:
    import json

    import httpx
    import mlflow

    mlflow.set_tracking_uri(s3_server.url)
    experiment_id = mlflow.set_experiment("s3-span-filters-" + uuid.uuid4().hex[:6]).experiment_id

    @mlflow.trace(span_type="TOOL")
    def triple(x: int) -> int:
        return 3 * x

    logged = []
    for x in range(2):
        triple(x)
        logged.append(mlflow.get_last_active_trace_id())
    mlflow.flush_trace_async_logging()

    def found(filter_string: str) -> set[str]:
        traces = mlflow.search_traces(locations=[experiment_id], filter_string=filter_string, return_type="list")
        return {t.info.trace_id for t in traces}

    assert found("span.name = 'triple' AND span.type = 'TOOL'") == set(logged)

    # A trace whose `traces.json` a writer with access to the bucket put there, not through the server.
    bucket = s3_server.artifacts_destination.split("/")[2]
    template = (
        moto.client()
        .get_object(Bucket=bucket, Key=f"artifacts/{experiment_id}/traces/{logged[0]}/artifacts/traces.json")["Body"]
        .read()
    )
    spans = json.loads(template)
    spans["spans"][0]["name"] = "put-directly"
    trace_id = "tr-" + uuid.uuid4().hex
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
    info = {"trace_id": trace_id, "trace_location": location, "request_time": "2026-01-01T00:00:00Z",
            "execution_duration": "1s", "state": "OK"}  # fmt: skip
    assert httpx.post(f"{s3_server.url}/api/3.0/mlflow/traces", json={"trace": {"trace_info": info}}).status_code == 200
    key = f"artifacts/{experiment_id}/traces/{trace_id}/artifacts/traces.json"
    moto.client().put_object(Bucket=bucket, Key=key, Body=json.dumps(spans).encode())

    assert found("span.name = 'put-directly'") == {trace_id}
    assert found("span.type = 'TOOL'") == {*logged, trace_id}


@pytest.mark.postgres
def test_gc_purges_deleted_runs_and_experiments_from_s3(
    s3_server: TrackletServer,
    moto: MotoS3,  # noqa: F811
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    from mlflow import MlflowClient

    client = MlflowClient(s3_server.url)
    (tmp_path / "weights.bin").write_bytes(os.urandom(4096))
    experiment_id = client.create_experiment("s3-gc-" + uuid.uuid4().hex[:6])
    doomed_experiment = client.create_experiment("s3-gc-" + uuid.uuid4().hex[:6])
    kept, doomed, in_doomed_experiment = (
        client.create_run(e).info.run_id for e in (experiment_id, experiment_id, doomed_experiment)
    )
    for run_id in (kept, doomed, in_doomed_experiment):
        client.log_artifact(run_id, str(tmp_path / "weights.bin"))
    client.delete_run(doomed)
    client.delete_experiment(doomed_experiment)
    bucket = s3_server.artifacts_destination.split("/")[2]

    def keys(prefix: str) -> list[str]:
        return [o["Key"] for o in moto.client().list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]

    result = subprocess.run(
        [sys.executable, "-m", "tracklet", "gc", "--backend-store-uri", s3_server.backend_store_uri,
         "--artifacts-destination", s3_server.artifacts_destination, "--run-ids", doomed,
         "--experiment-ids", doomed_experiment],
        capture_output=True, text=True, timeout=120, env={**os.environ, **moto.env()},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Purged 1 experiment, 1 run, 0 logged models; removed 2 artifact folders and 0 unfinished uploads." in (
        result.stdout
    )
    assert keys(f"artifacts/{experiment_id}/{doomed}/") == [] and keys(f"artifacts/{doomed_experiment}/") == []
    assert keys(f"artifacts/{experiment_id}/{kept}/") == [f"artifacts/{experiment_id}/{kept}/artifacts/weights.bin"]


@pytest.mark.postgres
def test_otlp_exports_of_one_trace_merge_across_workers(s3_server: TrackletServer) -> None:
    """Children of one trace exported at once, each on its own connection: the two workers take them in
    parallel, and PostgreSQL's row lock merges them one after the other."""
    import mlflow
    from mlflow import MlflowClient

    from tests.compat.test_otlp import Recorder, export, trace_id_of

    experiment_id = MlflowClient(s3_server.url).create_experiment("s3-otlp-" + uuid.uuid4().hex[:6])
    recorder = Recorder()
    with recorder.tracer.start_as_current_span("map"):
        for part in range(24):
            with recorder.tracer.start_as_current_span(f"part-{part}"):
                pass
    spans = recorder.spans()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda span: export(s3_server, experiment_id, [span]), spans.values()))
    assert all(result.name == "SUCCESS" for result in results)
    mlflow.set_tracking_uri(s3_server.url)
    trace = mlflow.get_trace(trace_id_of(spans["map"]))
    assert sorted(s.name for s in trace.data.spans) == sorted(spans)
    assert trace.info.state.value == "OK"
