"""Models through the official client: sklearn log_model, pyfunc loads via runs:/ and models:/, datasets, logged models."""

from __future__ import annotations

import os
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression

from tests.compat.conftest import error_code, unique_name


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    y = X["a"] * 2 - X["b"] + 0.5
    return X, y


@pytest.fixture(scope="module")
def logged(server, data):
    """A LinearRegression logged as `model` from a run with a param and a metric (once per server: it is slow)."""
    X, y = data
    model = LinearRegression().fit(X, y)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mlflow.set_tracking_uri(server.url)
        mlflow.set_experiment(unique_name("models"))
        with mlflow.start_run() as run:
            mlflow.log_param("fit_intercept", True)
            mlflow.log_metric("r2", model.score(X, y))
            # Explicit requirements skip the client's slow inference; the tutorial test keeps the default.
            info = mlflow.sklearn.log_model(
                model, name="model", input_example=X.head(3), pip_requirements=["scikit-learn"]
            )
    return run.info.run_id, info, model


def test_log_model_returns_a_logged_model(mlflow_client, logged):
    run_id, info, _ = logged
    experiment_id = mlflow_client.get_run(run_id).info.experiment_id
    assert info.model_uri == f"models:/{info.model_id}"
    assert info.model_id.startswith("m-")
    model = mlflow_client.get_logged_model(info.model_id)
    assert model.status.to_proto() == model.status.READY.to_proto() or str(model.status).endswith("READY")
    assert model.name == "model"
    assert model.source_run_id == run_id
    assert model.experiment_id == experiment_id
    assert model.artifact_location == f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
    assert model.params.get("fit_intercept") == "True"
    assert "r2" in {m.key for m in model.metrics}
    run = mlflow_client.get_run(run_id)
    assert [o.model_id for o in run.outputs.model_outputs] == [info.model_id]


def test_load_model_via_runs_uri(mlflow_client, logged, data):
    run_id, _, model = logged
    X, _ = data
    loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert np.allclose(loaded.predict(X), model.predict(X))


def test_load_model_via_models_uri(mlflow_client, logged, data):
    _, info, model = logged
    X, _ = data
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert np.allclose(loaded.predict(X), model.predict(X))
    native = mlflow.sklearn.load_model(info.model_uri)
    assert np.allclose(native.coef_, model.coef_)


def test_model_artifacts_are_listed_and_downloadable(mlflow_client, logged, tmp_path):
    run_id, info, _ = logged
    # The client merges the logged model's files into the run's listing of `model`.
    names = {f.path.rsplit("/", 1)[-1] for f in mlflow_client.list_artifacts(run_id, "model")}
    assert {"MLmodel", "requirements.txt", "python_env.yaml", "input_example.json"} <= names
    assert any(name.startswith("model.") for name in names), names
    location = mlflow_client.get_logged_model(info.model_id).artifact_location
    path = mlflow.artifacts.download_artifacts(artifact_uri=f"{location}/MLmodel", dst_path=str(tmp_path))
    assert "sklearn" in Path(path).read_text()
    whole = mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=str(tmp_path / "whole"))
    assert {"MLmodel", "requirements.txt"} <= set(os.listdir(whole))


def test_log_input_with_a_dataset(mlflow_client, experiment_id, data):
    X, y = data
    dataset = mlflow.data.from_pandas(X.assign(y=y), source="/data/train.csv", name="train", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
    inputs = mlflow_client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    logged = inputs[0]
    assert logged.dataset.name == "train"
    assert logged.dataset.digest == dataset.digest
    assert logged.dataset.source_type == "local"
    assert "schema" in logged.dataset.schema or logged.dataset.schema
    assert {t.key: t.value for t in logged.tags} == {"mlflow.data.context": "training", "split": "train"}
    found = mlflow_client.search_runs([experiment_id], "datasets.context = 'training' AND datasets.name = 'train'")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_log_metric_with_model_and_dataset(mlflow_client, logged, data):
    run_id, info, _ = logged
    X, y = data
    dataset = mlflow.data.from_pandas(X.assign(y=y), name="eval")
    mlflow_client.log_metric(
        run_id, "mae", 0.25, model_id=info.model_id, dataset_name=dataset.name, dataset_digest=dataset.digest
    )
    metrics = {m.key: m for m in mlflow_client.get_logged_model(info.model_id).metrics}
    assert metrics["mae"].value == 0.25
    assert metrics["mae"].dataset_name == "eval"
    assert metrics["mae"].run_id == run_id


def test_logged_model_tags_params_and_delete(mlflow_client, experiment_id):
    model = mlflow_client.create_logged_model(experiment_id, name="manual", params={"p": "1"}, tags={"t": "a"})
    assert str(model.status).endswith("PENDING")
    mlflow_client.set_logged_model_tags(model.model_id, {"t": "b", "u": "c"})
    mlflow_client.log_model_params(model.model_id, {"q": "2"})
    got = mlflow_client.get_logged_model(model.model_id)
    assert got.tags == {"t": "b", "u": "c"}
    assert got.params == {"p": "1", "q": "2"}

    mlflow_client.delete_logged_model_tag(model.model_id, "u")
    assert mlflow_client.get_logged_model(model.model_id).tags == {"t": "b"}

    ready = mlflow_client.finalize_logged_model(model.model_id, "READY")
    assert str(ready.status).endswith("READY")

    mlflow_client.delete_logged_model(model.model_id)
    assert model.model_id not in {m.model_id for m in mlflow_client.search_logged_models([experiment_id])}


def test_get_unknown_logged_model(mlflow_client):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.get_logged_model("m-0123456789abcdef0123456789abcdef")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_search_logged_models(mlflow_client, experiment_id):
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    made = {
        name: mlflow_client.create_logged_model(experiment_id, name=name, source_run_id=run_id if name == "b" else None)
        for name in ("a", "b", "c")
    }
    mlflow_client.set_logged_model_tags(made["c"].model_id, {"flavor": "x"})
    mlflow_client.finalize_logged_model(made["a"].model_id, "READY")

    def ids(models):
        return [m.model_id for m in models]

    assert set(ids(mlflow_client.search_logged_models([experiment_id]))) == {m.model_id for m in made.values()}
    assert ids(mlflow_client.search_logged_models([experiment_id], "name = 'b'")) == [made["b"].model_id]
    assert ids(mlflow_client.search_logged_models([experiment_id], "name='b'")) == [made["b"].model_id]
    assert ids(mlflow_client.search_logged_models([experiment_id], f"source_run_id = '{run_id}'")) == [
        made["b"].model_id
    ]
    assert ids(mlflow_client.search_logged_models([experiment_id], "tags.flavor = 'x'")) == [made["c"].model_id]
    assert ids(mlflow_client.search_logged_models([experiment_id], "status = 'LOGGED_MODEL_READY'")) == [
        made["a"].model_id
    ]
    ordered = mlflow_client.search_logged_models([experiment_id], order_by=[{"field_name": "name", "ascending": False}])
    assert [m.name for m in ordered] == ["c", "b", "a"]

    page1 = mlflow_client.search_logged_models([experiment_id], max_results=2, order_by=[{"field_name": "name"}])
    assert page1.token
    page2 = mlflow_client.search_logged_models(
        [experiment_id], max_results=2, order_by=[{"field_name": "name"}], page_token=page1.token
    )
    assert [m.name for m in page1] + [m.name for m in page2] == ["a", "b", "c"]
    assert not page2.token

    df = mlflow.search_logged_models(experiment_ids=[experiment_id])
    assert len(df) == 3


def test_logged_model_names_follow_mlflows_rules(mlflow_client, experiment_id):
    # They end up in `models:/` URIs and artifact paths, so MLflow refuses these characters.
    for bad in ("a/b", "a.b", "a:b", "50%", 'a"b', "a'b"):
        with pytest.raises(MlflowException, match="Invalid model name") as caught:
            mlflow_client.create_logged_model(experiment_id, name=bad)
        assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    unnamed = mlflow_client.create_logged_model(experiment_id)  # named as MLflow names it: adjective-animal-N
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", unnamed.name), unnamed.name
    assert mlflow_client.create_logged_model(experiment_id, name="under_score-1 ok").name == "under_score-1 ok"
