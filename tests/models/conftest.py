"""Fixtures for the model tests: real server processes on free ports, the tutorial's data split.

The tracking server is `tracklet server` by default; TRACKLET_TEST_SERVER=mlflow starts MLflow's own
`mlflow server` instead (same protocol, same tests).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.models.helpers import ServerProcess, WineSplit, free_port, start_server, wine_split


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real tracking server on a free loopback port, for the whole session."""
    tmp = tmp_path_factory.mktemp("tracking")
    port = free_port()
    common = [
        "--host", "127.0.0.1", "--port", str(port),
        "--artifacts-destination", str(tmp / "art"),
    ]  # fmt: skip
    if os.environ.get("TRACKLET_TEST_SERVER", "tracklet") == "tracklet":
        cmd = [
            sys.executable,
            "-m",
            "tracklet",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp}/t.db",
            *common,
        ]
    else:
        mlflow = str(Path(sys.executable).with_name("mlflow"))
        cmd = [mlflow, "server", "--backend-store-uri", f"sqlite:///{tmp}/m.db", "--workers", "1", *common]
    server = start_server(
        cmd,
        port,
        tmp / "server.log",
        ready_path="/health",
        timeout=120,
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
    )
    yield server
    server.stop()


@pytest.fixture
def client(tracking_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The client `log_model` and `load_model` use by default, pointed at the tracking server."""
    from tracklet.models.logging import default_client

    monkeypatch.setenv("TRACKLET_TRACKING_URI", tracking_server.url)
    return default_client()


@pytest.fixture
def mlflow_client(tracking_server: ServerProcess) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_server.url)


@pytest.fixture
def run_id(mlflow_client: Any) -> str:
    """A fresh run (created with MLflow's own client, which also checks that both speak one protocol)."""
    name = f"models-{time.monotonic_ns()}"
    experiment_id = mlflow_client.create_experiment(name)
    return str(mlflow_client.create_run(experiment_id).info.run_id)


@pytest.fixture(scope="session")
def wine() -> WineSplit:
    return wine_split()


@pytest.fixture(scope="session")
def elasticnet(wine: WineSplit) -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(alpha=0.5, l1_ratio=0.5, random_state=42).fit(wine.X_train, wine.y_train)
