"""examples/wine_quality.py, run with `tracklet run` against a server started by the test and a local store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tracklet

REPO = Path(__file__).resolve().parents[2]


def test_wine_quality_example_logs_params_metrics_plot_and_model(tracking_uri: str, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), TRACKLET_TRACKING_URI=tracking_uri)
    out = subprocess.run(
        [sys.executable, "-m", "tracklet.client.run_cli", str(REPO / "examples" / "wine_quality.py"),
         "-P", "alpha=0.3", "-P", "lambda=0.01", "--experiment-name", "wine-quality"],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "RMSE:" in out.stdout and "MAE:" in out.stdout and "R2:" in out.stdout
    run_id = [ln for ln in out.stderr.splitlines() if ln.startswith("tracklet run: run ")][-1].split()[3]

    run = tracklet.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.3", "lambda": "0.01"}
    assert set(run.data.metrics) == {"rmse", "mae", "r2"}
    assert 0.5 < run.data.metrics["rmse"] < 1.0 and 0 < run.data.metrics["r2"] < 1
    files = {f.path for f in tracklet.list_artifacts(run_id)} | {f.path for f in tracklet.list_artifacts(run_id, "model")}
    assert {"ElasticNet-CrossValidation.png", "model/model.pkl"} <= files

    import pickle

    model_file = Path(tracklet.download_artifacts(run_id, "model/model.pkl", str(tmp_path / "dl")))
    model = pickle.loads(model_file.read_bytes())
    import pandas as pd

    data = pd.read_csv(REPO / "examples" / "data" / "wine-quality.csv").drop(columns="quality")
    assert model.predict(data.head(3)).shape == (3,)
