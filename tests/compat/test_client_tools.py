"""What else the official client does against the server: the `mlflow` CLI."""

from __future__ import annotations

import os
import subprocess
import sys

from mlflow import MlflowClient

from tests.compat.conftest import unique_name


def _mlflow_cli(server, *args: str) -> str:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "mlflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_mlflow_cli(sqlite_server, tmp_path):
    # The CLI is only another client of the same endpoints; one backend is enough (each call imports mlflow).
    client = MlflowClient(sqlite_server.url)
    name = unique_name("cli")
    exp_id = client.create_experiment(name)
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "p", "1")
    src = tmp_path / "f.txt"
    src.write_text("cli text")
    client.log_artifact(run_id, str(src), artifact_path="dir")

    assert name in _mlflow_cli(sqlite_server, "experiments", "search")
    assert '"p": "1"' in _mlflow_cli(sqlite_server, "runs", "describe", "--run-id", run_id)
    out = _mlflow_cli(sqlite_server, "artifacts", "download", "--run-id", run_id, "--dst-path", str(tmp_path / "out"))
    assert (tmp_path / "out" / "dir" / "f.txt").read_text() == "cli text", out
