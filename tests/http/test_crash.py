"""A server killed with SIGKILL in the middle of its work (metrics streaming in, a file half uploaded):
after a restart on the same store, everything it acknowledged is there, the database is intact, and the
half-sent file is neither listed nor served (and `tracklet gc` removes what it left). On both backends,
with two workers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.http.conftest import API, ok
from tests.support.processes import TrackletServer

pytestmark = pytest.mark.slow

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def _log_until_refused(url: str, run_id: str, acknowledged: list[int]) -> None:
    """Batches of 100 points, step after step, until the server is gone; `acknowledged` gets each step
    whose batch was answered 200."""
    with httpx.Client(base_url=url, timeout=10) as http:
        for step in range(100_000):
            metrics = [{"key": f"m{i}", "value": step + i / 100, "timestamp": step, "step": step} for i in range(100)]
            try:
                response = http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
            except httpx.TransportError:
                return
            if response.status_code != 200:
                return
            acknowledged.append(step)


def _upload_half(url: str, path: str, started: threading.Event, release: threading.Event) -> None:
    def body() -> Iterator[bytes]:
        yield b"x" * (1024 * 1024)
        started.set()
        release.wait(30)  # the server dies meanwhile
        yield b"y" * 1024

    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            http.put(f"{PROXY}/{path}", content=body())
    except httpx.TransportError:
        pass


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_server_keeps_what_it_acknowledged(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    store_uri = _store_uri(backend, tmp_path, request)
    artifacts = str(tmp_path / "artifacts")
    server = TrackletServer(store_uri, artifacts, workers=2).start()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        run = ok(http.post(f"{API}/runs/create", json={"experiment_id": "0"}))["run"]["info"]
    base = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    acknowledged: list[int] = []
    started, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_log_until_refused, args=(server.url, run["run_id"], acknowledged))
    uploader = threading.Thread(target=_upload_half, args=(server.url, f"{base}/half.bin", started, release))
    writer.start()
    uploader.start()
    try:
        assert started.wait(30)
        deadline = time.monotonic() + 30
        while len(acknowledged) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(acknowledged) >= 20, "the server acknowledged too little before the kill"
        os.killpg(server.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        server.proc.wait()  # type: ignore[union-attr]
    finally:
        release.set()
        writer.join(30)
        uploader.join(30)
        server.stop()

    if backend == "sqlite":
        with sqlite3.connect(store_uri.removeprefix("sqlite:///")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = TrackletServer(store_uri, artifacts, port=server.port).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as http:
            for key in ("m0", "m99"):
                query = {"run_id": run["run_id"], "metric_key": key, "max_results": 100_000}
                steps = {point["step"] for point in ok(http.get(f"{API}/metrics/get-history", params=query))["metrics"]}
                assert set(acknowledged) <= steps, f"{key}: acknowledged steps lost in the kill"
            assert ok(http.get(PROXY, params={"path": base})) == {}  # no half file listed
            assert http.get(f"{PROXY}/{base}/half.bin").status_code == 404
            # The store takes writes again at once.
            metric = {"run_id": run["run_id"], "key": "after", "value": 1.0, "timestamp": 0, "step": 0}
            ok(http.post(f"{API}/runs/log-metric", json=metric))
    finally:
        restarted.stop()
    # What the cut-short upload left (its temporary file) goes with the next gc.
    leftovers = list(Path(artifacts).rglob(".upload-*"))
    assert leftovers
    gc = [sys.executable, "-m", "tracklet", "gc", "--uploads-older-than", "0s"]
    gc += ["--backend-store-uri", store_uri, "--artifacts-destination", artifacts]
    result = subprocess.run(gc, capture_output=True, text=True, timeout=120)
    assert f"and {len(leftovers)} unfinished upload" in result.stdout, result.stderr
    assert not list(Path(artifacts).rglob(".upload-*"))
