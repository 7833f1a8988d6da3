"""The tutorial: ElasticNet on the wine-quality data, crated, logged, and loaded in a fresh process
that reproduces the logged RMSE on the same test split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tests.models.helpers import SRC, subprocess_env
from tracklet.models import crate, log_model, save_model

# Runs in a fresh interpreter: only tracklet, the model's requirements and the data split.
SCORE_IN_A_FRESH_PROCESS = """
import json, sys
import numpy as np
from tests.models.helpers import wine_split
from tracklet.models import load_model

split = wine_split()
model = load_model(sys.argv[1])
predicted = model.predict(split.X_test)
rmse = float(np.sqrt(np.mean((split.y_test.to_numpy() - predicted) ** 2)))
print(json.dumps({"rmse": rmse, "mlflow_imported": "mlflow" in sys.modules}))
"""


def rmse(actual: Any, predicted: Any) -> float:
    return float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(predicted)) ** 2)))


def score_in_fresh_process(uri: str, **env: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", SCORE_IN_A_FRESH_PROCESS, uri],
        check=False,
        capture_output=True,
        text=True,
        cwd=SRC.parent,  # so that `tests.models.helpers` imports
        env=subprocess_env(**env),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_logged_rmse_is_reproduced_in_a_fresh_process(
    tracking_server: Any, client: Any, mlflow_client: Any, run_id: str, elasticnet: Any, wine: Any
) -> None:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    mlflow_client.log_metric(run_id, "rmse", rmse(wine.y_test, predictor(wine.X_test)))
    info = log_model(predictor, "model", input_example=wine.X_train.head(5), client=client, run_id=run_id)

    logged_rmse = mlflow_client.get_run(run_id).data.metrics["rmse"]
    for uri in (info.model_uri, f"runs:/{run_id}/model"):
        scored = score_in_fresh_process(uri, TRACKLET_TRACKING_URI=tracking_server.url)
        assert abs(scored["rmse"] - logged_rmse) <= 1e-9
        assert scored["mlflow_imported"] is False  # loading needed tracklet only


def test_a_saved_folder_reproduces_the_rmse_in_a_fresh_process(tmp_path: Path, elasticnet: Any, wine: Any) -> None:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    expected = rmse(wine.y_test, predictor(wine.X_test))
    save_model(predictor, tmp_path / "model", input_example=wine.X_train.head(5))
    assert abs(score_in_fresh_process(str(tmp_path / "model"))["rmse"] - expected) <= 1e-9
