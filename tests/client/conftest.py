"""Fixtures of the client tests: a real server process on a free port, and the local store.

By default the server is `python -m tracklet server`. Set TRACKLET_TEST_AGAINST_MLFLOW=1 to run the
same tests against `mlflow server` (MLflow's own implementation of the protocol), and
TRACKLET_TEST_SERVER_URL=http://… to reuse a server that is already running (except for the
restart test, which always starts its own).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tracklet
from tracklet.client import fluent, system_metrics

AGAINST_MLFLOW = os.environ.get("TRACKLET_TEST_AGAINST_MLFLOW") == "1"
EXTERNAL_URL = os.environ.get("TRACKLET_TEST_SERVER_URL")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A tracking server in a subprocess; `restart()` keeps port, database and artifacts."""

    def __init__(self, root: Path, port: int | None = None, *, mlflow: bool = AGAINST_MLFLOW) -> None:
        self.root = root
        self.mlflow = mlflow
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        db, art = f"sqlite:///{self.root / 't.db'}", str(self.root / "art")
        if self.mlflow:
            mlflow = str(Path(sys.executable).with_name("mlflow"))
            return [mlflow, "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                    "--backend-store-uri", db, "--artifacts-destination", art]  # fmt: skip
        return [sys.executable, "-m", "tracklet", "server", "--host", "127.0.0.1", "--port", str(self.port),
                "--backend-store-uri", db, "--artifacts-destination", art]  # fmt: skip

    def start(self, timeout: float = 120.0) -> None:
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
        log = open(self.root / "server.log", "ab")
        # Own session: the server's worker processes are stopped with it (by its process group id).
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"server not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # == the group id, thanks to start_new_session
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(10)
        # Workers of the group may outlive the parent for a moment; wait until the port is free.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a server shared by the whole session."""
    if EXTERNAL_URL:
        yield EXTERNAL_URL
        return
    server = ServerProcess(tmp_path_factory.mktemp("server"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server only this test uses (for stopping and restarting it)."""
    server = ServerProcess(tmp_path / "server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def clean_fluent_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no active run, no experiment, no TRACKLET_/MLFLOW_ environment and system
    metrics off."""
    for name in (*fluent.ENV_TRACKING_URI, *fluent.ENV_EXPERIMENT_NAME, *fluent.ENV_EXPERIMENT_ID,
                 *fluent.ENV_RUN_ID, fluent.ENV_PARAMS):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name in (*system_metrics.ENABLE_ENV, *system_metrics.INTERVAL_ENV, *system_metrics.SAMPLES_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(system_metrics, "settings", system_metrics.Settings())
    yield
    while fluent._state.runs:
        try:
            tracklet.end_run()
        except Exception:
            pass
    fluent._state.declared_params.clear()
    fluent._state.experiment_id = None
    tracklet.set_tracking_uri(None)


@pytest.fixture(params=["server", "local"])
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The fluent API pointed at a server, or at a local store in a temporary folder, with a fresh experiment."""
    if request.param == "server":
        uri = request.getfixturevalue("server_url")
    else:
        uri = str(tmp_path / "store")
    tracklet.set_tracking_uri(uri)
    tracklet.set_experiment(f"test-{uuid.uuid4().hex[:12]}")
    return uri


@pytest.fixture
def remote(server_url: str) -> str:
    """The fluent API pointed at the shared server, with a fresh experiment."""
    tracklet.set_tracking_uri(server_url)
    tracklet.set_experiment(f"test-{uuid.uuid4().hex[:12]}")
    return server_url
