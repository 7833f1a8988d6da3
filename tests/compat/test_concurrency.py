"""Writes from several threads at once (and, on SQLite, from two server workers): no errors, nothing lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from tests.compat.conftest import unique_name
from tests.support.processes import TrackletServer

THREADS = 8
METRICS_PER_THREAD = 60


def _in_threads(fn: Callable[[int], object], n: int = THREADS) -> list[object]:
    barrier = threading.Barrier(n)

    def start(i: int) -> object:
        barrier.wait()  # all threads hit the server at the same moment
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(start, range(n)))


def _workload(url: str) -> None:
    client = MlflowClient(url)
    exp_id = client.create_experiment(unique_name("concurrent"))
    shared = client.create_run(exp_id).info.run_id

    def work(i: int) -> str:
        own = client.create_run(exp_id, run_name=f"thread-{i}").info.run_id
        for step in range(METRICS_PER_THREAD):
            client.log_metric(own, "loss", 1.0 / (step + 1), timestamp=1000 + step, step=step)
            client.log_metric(shared, f"t{i}", float(step), timestamp=1000 + step, step=step)
        client.log_batch(
            own,
            metrics=[Metric("batched", float(k), 5000 + k, k) for k in range(200)],
            params=[Param(f"p{k}", str(k)) for k in range(20)],
            tags=[RunTag("thread", str(i))],
        )
        client.log_param(shared, f"from-{i}", str(i))
        client.set_tag(shared, f"tag-{i}", str(i))
        client.set_terminated(own)
        return own

    own_runs = _in_threads(work)

    found = client.search_runs([exp_id], max_results=100)
    assert {r.info.run_id for r in found} == {*own_runs, shared}
    for i, run_id in enumerate(own_runs):
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.tags["thread"] == str(i)
        assert len(run.data.params) == 20
        assert run.data.metrics == {"loss": 1.0 / METRICS_PER_THREAD, "batched": 199.0}
        assert len(client.get_metric_history(run_id, "loss")) == METRICS_PER_THREAD
        assert len(client.get_metric_history(run_id, "batched")) == 200
    shared_run = client.get_run(shared)
    assert shared_run.data.params == {f"from-{i}": str(i) for i in range(THREADS)}
    assert shared_run.data.metrics == {f"t{i}": float(METRICS_PER_THREAD - 1) for i in range(THREADS)}
    for i in range(THREADS):
        assert len(client.get_metric_history(shared, f"t{i}")) == METRICS_PER_THREAD
        assert shared_run.data.tags[f"tag-{i}"] == str(i)


def _racing_creates(url: str) -> None:
    """Eight threads create the same experiment: one wins, the others get RESOURCE_ALREADY_EXISTS."""
    client = MlflowClient(url)
    name = unique_name("race")

    def create(_: int) -> str:
        try:
            return client.create_experiment(name)
        except MlflowException as err:
            return err.error_code

    outcomes = _in_threads(create)
    winners = [o for o in outcomes if o != "RESOURCE_ALREADY_EXISTS"]
    assert len(winners) == 1, outcomes
    assert client.get_experiment_by_name(name).experiment_id == winners[0]


def _parallel_uploads(url: str, tmp_path) -> None:
    client = MlflowClient(url)
    run_id = client.create_run(client.create_experiment(unique_name("uploads"))).info.run_id

    def upload(i: int) -> None:
        path = tmp_path / f"file-{i}.bin"
        path.write_bytes(bytes([i]) * (100_000 + i))
        client.log_artifact(run_id, str(path), artifact_path="parallel")

    _in_threads(upload)
    sizes = {f.path: f.file_size for f in client.list_artifacts(run_id, "parallel")}
    assert sizes == {f"parallel/file-{i}.bin": 100_000 + i for i in range(THREADS)}


def test_writes_from_eight_threads(server, mlflow_client):
    _workload(server.url)


def test_racing_experiment_creation(server, mlflow_client):
    _racing_creates(server.url)


def test_parallel_artifact_uploads(server, mlflow_client, tmp_path):
    _parallel_uploads(server.url, tmp_path)


@pytest.fixture(scope="module")
def two_worker_sqlite_server(tmp_path_factory) -> Iterator[TrackletServer]:
    tmp = tmp_path_factory.mktemp("workers")
    srv = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", str(tmp / "artifacts"), workers=2).start()
    yield srv
    srv.stop()


def test_two_workers_on_sqlite(two_worker_sqlite_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    _workload(two_worker_sqlite_server.url)
    _racing_creates(two_worker_sqlite_server.url)
    assert "database is locked" not in two_worker_sqlite_server.log()
    assert "Traceback" not in two_worker_sqlite_server.log()
