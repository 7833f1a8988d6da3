"""log_model() against a real tracking server, and load_model() by runs:/ and models:/ URIs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracklet.errors import ResourceDoesNotExist
from tracklet.models import crate, load_model, log_model


@pytest.fixture
def logged(client: Any, run_id: str, elasticnet: Any, wine: Any) -> Any:
    predictor = crate(lambda x, model: model.predict(x), model=elasticnet)
    return log_model(predictor, "model", input_example=wine.X_train.head(3), client=client, run_id=run_id)


def test_log_model_registers_a_ready_model_of_the_run(logged: Any, mlflow_client: Any, run_id: str) -> None:
    model = mlflow_client.get_logged_model(logged.model_id)
    assert model.name == "model"
    assert model.source_run_id == run_id
    assert str(model.status) in ("READY", "LoggedModelStatus.READY", "LOGGED_MODEL_READY")
    outputs = mlflow_client.get_run(run_id).outputs
    assert [o.model_id for o in outputs.model_outputs] == [logged.model_id]
    assert logged.model_uri == f"models:/{logged.model_id}"


def test_log_model_records_size_and_requirements(logged: Any) -> None:
    import sklearn

    assert logged.size_bytes > 0
    assert logged.requirements["scikit-learn"] == sklearn.__version__
    assert logged.signature is not None and "alcohol" in logged.signature["inputs"]


def test_load_by_models_uri(logged: Any, client: Any, elasticnet: Any, wine: Any) -> None:
    model = load_model(logged.model_uri)  # the default client, from TRACKLET_TRACKING_URI
    np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_load_by_runs_uri(logged: Any, client: Any, run_id: str, elasticnet: Any, wine: Any) -> None:
    model = load_model(f"runs:/{run_id}/model", client=client)
    np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_load_downloads_where_asked(logged: Any, client: Any, tmp_path: Path) -> None:
    model = load_model(logged.model_uri, client=client, dst_path=tmp_path)
    assert model.path == tmp_path and (tmp_path / "MLmodel").is_file()


def test_an_unknown_run_model_is_reported(client: Any, run_id: str) -> None:
    with pytest.raises(ResourceDoesNotExist, match="no model named 'nothing'"):
        load_model(f"runs:/{run_id}/nothing", client=client)


def test_mlflow_loads_a_model_logged_by_tracklet(
    logged: Any, tracking_server: Any, run_id: str, elasticnet: Any, wine: Any
) -> None:
    import mlflow

    mlflow.set_tracking_uri(tracking_server.url)
    for uri in (logged.model_uri, f"runs:/{run_id}/model"):
        model = mlflow.pyfunc.load_model(uri)
        np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_tracklet_loads_a_model_logged_by_mlflow(
    client: Any, tracking_server: Any, mlflow_client: Any, run_id: str, elasticnet: Any, wine: Any
) -> None:
    import mlflow

    mlflow.set_tracking_uri(tracking_server.url)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.sklearn.log_model(elasticnet, name="sk", input_example=wine.X_train.head(2))
    for uri in (info.model_uri, f"runs:/{run_id}/sk"):
        model = load_model(uri, client=client)
        np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_log_model_uses_the_active_run(tracking_server: Any, elasticnet: Any, wine: Any, monkeypatch: Any) -> None:
    import tracklet

    monkeypatch.setenv("TRACKLET_TRACKING_URI", tracking_server.url)
    tracklet.set_tracking_uri(tracking_server.url)
    tracklet.set_experiment("models-fluent")
    with tracklet.start_run() as run:
        tracklet.log_metric("rmse", 0.5)  # queued, not yet sent when log_model starts
        info = log_model(elasticnet, "model", input_example=wine.X_train.head(2))
    assert info.run_id == run.info.run_id
    from mlflow import MlflowClient

    assert [(m.key, m.value) for m in MlflowClient(tracking_server.url).get_logged_model(info.model_id).metrics] == [
        ("rmse", 0.5)
    ]
    model = load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_runs_and_models_uris_against_the_local_store(tmp_path: Path, elasticnet: Any, wine: Any) -> None:
    from tracklet.client.client import TrackletClient

    local = TrackletClient(str(tmp_path / "store"))
    experiment_id = local.create_experiment("models-local")
    run_id = local.create_run(experiment_id).info.run_id
    info = log_model(elasticnet, "model", input_example=wine.X_train.head(2), client=local, run_id=run_id)
    for uri in (info.model_uri, f"runs:/{run_id}/model"):
        model = load_model(uri, client=local)
        np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_log_model_links_the_runs_scores_at_step_0_to_the_model(
    client: Any, mlflow_client: Any, elasticnet: Any, wine: Any
) -> None:
    experiment_id = client.create_experiment(f"models-metrics-{time.monotonic_ns()}")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "rmse", 0.7, step=0)
    client.log_metric(run_id, "rmse", 0.6, step=1)  # a later step: not what the model was logged with
    client.log_metric(run_id, "r2", 0.3)
    info = log_model(elasticnet, "model", client=client, run_id=run_id)
    scores = {(m.key, m.value, m.step) for m in mlflow_client.get_logged_model(info.model_id).metrics}
    assert scores == {("rmse", 0.7, 0), ("r2", 0.3, 0)}
    history = client.get_metric_history(run_id, "rmse")
    assert sorted((p.step, p.value) for p in history) == [(0, 0.7), (1, 0.6)], "the run's history is unchanged"
