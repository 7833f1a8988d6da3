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
    assert "ElasticNet-CrossValidation.png" in {f.path for f in tracklet.list_artifacts(run_id)}
    _reproduces_the_logged_rmse_in_a_fresh_process(run_id, run.data.metrics["rmse"], tracking_uri, tmp_path)


# Loads the crated predictor by runs:/ in a new interpreter and scores the tutorial's test split.
_RELOAD = """
import sys, numpy as np, pandas as pd, tracklet
from sklearn.model_selection import train_test_split
data = pd.read_csv(sys.argv[2])
_, test = train_test_split(data, test_size=0.25, random_state=40)
model = tracklet.load_model(f"runs:/{sys.argv[1]}/model")
predicted = model.predict(test.drop(columns="quality"))
print(repr(float(np.sqrt(np.mean((test["quality"].to_numpy() - np.asarray(predicted)) ** 2)))))
"""


def _reproduces_the_logged_rmse_in_a_fresh_process(run_id: str, rmse: float, tracking_uri: str, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), TRACKLET_TRACKING_URI=tracking_uri)
    out = subprocess.run(
        [sys.executable, "-c", _RELOAD, run_id, str(REPO / "examples" / "data" / "wine-quality.csv")],
        env=env, capture_output=True, text=True, cwd=cwd, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert abs(float(out.stdout.strip().splitlines()[-1]) - rmse) < 1e-9
