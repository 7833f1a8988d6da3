"""Fixtures shared by the whole suite: real stores (SQLite and PostgreSQL) and real servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ThrowawayPostgres, TrackletServer

BACKENDS = ["sqlite", "postgres"]

# The official client's telemetry thread, finding no internet here, gives up by deleting an environment
# variable while `requests` iterates `os.environ` in another thread: a random request then fails with
# KeyError '_MLFLOW_TELEMETRY_SESSION_ID' (in 4 of 22 runs of 8 concurrent client processes here).
# Tests never send telemetry anyway; the bench sets the same for its clients.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
# Webhooks of the servers the tests start may only reach this machine: no test sends anything elsewhere,
# whatever URL a test (or the fuzzer) makes up, and no host name but localhost is even resolved.
os.environ.setdefault("TRACKLET_WEBHOOK_DESTINATIONS", "loopback")


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres().start()
    os.environ.setdefault("TRACKLET_TEST_PG_URL", pg.url().replace("postgresql://", "postgresql+psycopg://"))
    yield pg
    pg.stop()


def _store_uri(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'tracklet.db'}"
    pg: ThrowawayPostgres = request.getfixturevalue("postgres")
    return pg.create_database("t_" + uuid.uuid4().hex[:12])


@pytest.fixture(params=BACKENDS)
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata store on each backend."""
    return _store_uri(request.param, tmp_path, request)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    """A running `tracklet server` on each backend, shared by the tests of one module."""
    tmp = tmp_path_factory.mktemp("server")
    srv = TrackletServer(_store_uri(request.param, tmp, request), str(tmp / "artifacts")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    """A running `tracklet server` on the embedded SQLite store."""
    tmp = tmp_path_factory.mktemp("server")
    srv = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", str(tmp / "artifacts")).start()
    yield srv
    srv.stop()


@pytest.fixture
def mlflow_client(server: TrackletServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The official MLflow client pointed at the server."""
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server.url)
    yield MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(autouse=True)
def _isolate_mlflow_fluent_state() -> Iterator[None]:
    """The official client keeps an active experiment and run stack in module globals; reset them
    after each test so tests do not leak into each other."""
    yield
    import sys

    if "mlflow" in sys.modules:
        import mlflow
        from mlflow.tracking import fluent

        while mlflow.active_run():
            mlflow.end_run()
        fluent._active_experiment_id = None
        for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
            os.environ.pop(var, None)
