"""The MLflow R tutorial (glmnet on the wine-quality data) with tracklet, in Python.

    python examples/wine_quality.py                                  # defaults alpha=0.5, lambda=0.5
    tracklet run examples/wine_quality.py -P alpha=0.3 -P lambda=0.01

Logs the params, RMSE/MAE/R2, the cross-validation plot (PNG) and the predictor as a model
(`tracklet.crate` + `tracklet.log_model`): load it anywhere with `tracklet.load_model("runs:/<id>/model")`. Without a
tracking URI the run goes to ./tracklet-data, which `tracklet server` shows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet, ElasticNetCV
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tracklet

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("WINE_QUALITY_CSV", HERE / "data" / "wine-quality.csv"))

# Same names and defaults as the tutorial's mlflow_param("alpha", 0.5, "numeric").
# glmnet's `alpha` is the L1/L2 mixing (1 = lasso, 0 = ridge): scikit-learn calls it `l1_ratio`.
# glmnet's `lambda` is the penalty strength: scikit-learn calls it `alpha`. Both minimise
# RSS/(2n) + strength * (mix * |w|_1 + (1 - mix)/2 * |w|_2^2); glmnet standardises the features
# by default, so the pipeline does too.
alpha = tracklet.param("alpha", 0.5, "numeric")
lambda_ = tracklet.param("lambda", 0.5, "numeric")


def main() -> None:
    data = pd.read_csv(DATA)
    train, test = train_test_split(data, test_size=0.25, random_state=40)
    train_x, train_y = train.drop(columns="quality"), train["quality"]
    test_x, test_y = test.drop(columns="quality"), test["quality"]

    with tracklet.start_run():
        model = make_pipeline(StandardScaler(), ElasticNet(alpha=lambda_, l1_ratio=alpha, random_state=42))
        model.fit(train_x, train_y)
        predicted = model.predict(test_x)

        rmse = float(np.sqrt(mean_squared_error(test_y, predicted)))
        mae = float(mean_absolute_error(test_y, predicted))
        r2 = float(r2_score(test_y, predicted))
        print(f"Elasticnet model (alpha={alpha:f}, lambda={lambda_:f}):")
        print(f"  RMSE: {rmse}")
        print(f"  MAE: {mae}")
        print(f"  R2: {r2}")
        tracklet.log_metrics({"rmse": rmse, "mae": mae, "r2": r2})

        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "ElasticNet-CrossValidation.png"
            plot_cross_validation(train_x, train_y, png)
            tracklet.log_artifact(png)

        # The tutorial's carrier::crate(): the predictor with the fitted model inside, nothing else.
        predictor = tracklet.crate(lambda x, model: model.predict(x), model=model)
        tracklet.log_model(predictor, "model", input_example=train_x.head(5))


def plot_cross_validation(x: pd.DataFrame, y: pd.Series, path: Path) -> None:
    """glmnet's plot(cv.glmnet(...)): mean cross-validated MSE ± 1 sd along the penalty path."""
    cv = make_pipeline(StandardScaler(), ElasticNetCV(l1_ratio=alpha, cv=10, random_state=42))
    cv.fit(x, y)
    enet = cv[-1]
    mse = enet.mse_path_  # (n_alphas, n_folds)
    log_lambda = np.log(enet.alphas_)
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.errorbar(log_lambda, mse.mean(axis=1), yerr=mse.std(axis=1), fmt="o", color="red", ecolor="grey", ms=3)
    ax.axvline(np.log(enet.alpha_), linestyle="--", color="black", label="lambda.min")
    ax.axvline(np.log(lambda_), linestyle=":", color="blue", label="lambda (this run)")
    ax.set_xlabel("log(lambda)")
    ax.set_ylabel("Mean-Squared Error")
    ax.set_title(f"ElasticNet cross-validation (alpha={alpha})")
    ax.legend()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
