"""The MLflow tutorial workflow end to end: ElasticNet on the wine-quality data, several hyperparameter pairs.

Train and log through the fluent API, then read everything back from the server, reload each model
and reproduce the logged metrics.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

from tests.compat.conftest import unique_name

WINE = Path(__file__).resolve().parents[2] / "examples" / "data" / "wine-quality.csv"  # the tutorial's data
PAIRS = [(0.5, 0.5), (0.1, 0.9), (1.0, 0.1)]


def _wine_path() -> Path:
    return WINE


def _metrics(y_true, y_pred) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def _plot(y_true, y_pred, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(y_true, y_pred, s=4)
    ax.set_xlabel("quality")
    ax.set_ylabel("predicted")
    fig.savefig(path)
    plt.close(fig)


def test_elasticnet_tutorial(mlflow_client, tmp_path):
    data = pd.read_csv(_wine_path())
    train, test = train_test_split(data, random_state=42)
    train_x, test_x = train.drop(["quality"], axis=1), test.drop(["quality"], axis=1)
    train_y, test_y = train[["quality"]], test[["quality"]]

    experiment = mlflow.set_experiment(unique_name("wine-quality"))
    logged: dict[str, dict] = {}
    for i, (alpha, l1_ratio) in enumerate(PAIRS):
        with mlflow.start_run(run_name=f"en-{alpha}-{l1_ratio}") as run:
            model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42).fit(train_x, train_y)
            predicted = model.predict(test_x)
            metrics = _metrics(test_y, predicted)
            mlflow.log_params({"alpha": alpha, "l1_ratio": l1_ratio})
            mlflow.log_metrics(metrics)
            plot = tmp_path / "predictions.png"
            _plot(test_y, predicted, plot)
            mlflow.log_artifact(str(plot), artifact_path="plots")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=train_x.head(2),
                signature=mlflow.models.infer_signature(train_x, predicted),
                # The client's requirement inference (slow) runs once; later models name theirs.
                pip_requirements=None if i == 0 else ["scikit-learn"],
            )
            logged[run.info.run_id] = {
                "alpha": alpha,
                "l1_ratio": l1_ratio,
                "metrics": metrics,
                "model": info,
            }

    # Read everything back.
    runs = mlflow.search_runs([experiment.experiment_id], order_by=["metrics.rmse ASC"])
    assert set(runs["run_id"]) == set(logged)
    assert list(runs["metrics.rmse"]) == sorted(v["metrics"]["rmse"] for v in logged.values())
    assert set(runs["status"]) == {"FINISHED"}

    for run_id, expected in logged.items():
        run = mlflow_client.get_run(run_id)
        assert run.info.run_name == f"en-{expected['alpha']}-{expected['l1_ratio']}"
        assert run.data.params == {"alpha": str(expected["alpha"]), "l1_ratio": str(expected["l1_ratio"])}
        for key, value in expected["metrics"].items():
            assert run.data.metrics[key] == pytest.approx(value, rel=1e-12)
        assert [f.path for f in mlflow_client.list_artifacts(run_id, "plots")] == ["plots/predictions.png"]
        png = Path(mlflow_client.download_artifacts(run_id, "plots/predictions.png", str(tmp_path / run_id)))
        assert png.read_bytes().startswith(b"\x89PNG")
        assert [o.model_id for o in run.outputs.model_outputs] == [expected["model"].model_id]

        # Reload the model both ways and reproduce the logged metrics.
        for uri in (f"runs:/{run_id}/model", expected["model"].model_uri):
            reloaded = mlflow.pyfunc.load_model(uri)
            reproduced = _metrics(test_y, reloaded.predict(test_x))
            for key, value in expected["metrics"].items():
                assert reproduced[key] == pytest.approx(value, rel=1e-9), (uri, key)

        logged_model = mlflow_client.get_logged_model(expected["model"].model_id)
        assert logged_model.params == run.data.params
        assert {m.key for m in logged_model.metrics} >= {"rmse", "mae", "r2"}

    best = mlflow_client.search_runs([experiment.experiment_id], order_by=["metrics.r2 DESC"], max_results=1)[0]
    assert best.data.metrics["r2"] == max(v["metrics"]["r2"] for v in logged.values())
