"""Registered models from tracklet's side: `log_model(registered_model_name=)`, `register_model`, and
`load_model` by `models:/<name>/<version>`, `/<stage>`, `/latest` and `models:/<name>@<alias>`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.models import crate, load_model, log_model, register_model


def _zeros(x: Any) -> Any:
    return np.zeros(len(x))


@pytest.fixture
def registered(client: Any, run_id: str, elasticnet: Any, wine: Any) -> str:
    """A registered model: version 1 is the elasticnet, version 2 predicts zeros."""
    name = f"wine-{time.monotonic_ns()}"
    first = log_model(elasticnet, "model", client=client, run_id=run_id, registered_model_name=name)
    second = log_model(crate(_zeros), "zeros", client=client, run_id=run_id, registered_model_name=name)
    assert (first.registered_model_version, second.registered_model_version) == (1, 2)
    return name


def _is_elasticnet(model: Any, elasticnet: Any, wine: Any) -> bool:
    predictions = model.predict(wine.X_test)
    if np.array_equal(predictions, elasticnet.predict(wine.X_test)):
        return True
    assert not np.any(predictions), "neither version 1 nor version 2"
    return False


def test_versions_and_latest_load_the_right_model(registered: str, client: Any, elasticnet: Any, wine: Any) -> None:
    assert _is_elasticnet(load_model(f"models:/{registered}/1", client=client), elasticnet, wine)
    assert not _is_elasticnet(load_model(f"models:/{registered}/2", client=client), elasticnet, wine)
    assert not _is_elasticnet(load_model(f"models:/{registered}/latest", client=client), elasticnet, wine)


def test_aliases_and_stages_set_by_mlflows_client_resolve(
    registered: str, client: Any, mlflow_client: Any, elasticnet: Any, wine: Any
) -> None:
    mlflow_client.set_registered_model_alias(registered, "champion", "1")
    mlflow_client.transition_model_version_stage(registered, "2", "Staging")
    assert _is_elasticnet(load_model(f"models:/{registered}@champion", client=client), elasticnet, wine)
    assert not _is_elasticnet(load_model(f"models:/{registered}/staging", client=client), elasticnet, wine)
    with pytest.raises(ResourceDoesNotExist, match="no version in stage 'Production'"):
        load_model(f"models:/{registered}/Production", client=client)


def test_mlflow_loads_versions_tracklet_registered(
    registered: str, tracking_server: Any, elasticnet: Any, wine: Any
) -> None:
    import mlflow

    mlflow.set_tracking_uri(tracking_server.url)
    model = mlflow.pyfunc.load_model(f"models:/{registered}/1")
    np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_register_an_existing_model_by_its_uris(
    client: Any, run_id: str, mlflow_client: Any, elasticnet: Any, wine: Any
) -> None:
    info = log_model(elasticnet, "model", client=client, run_id=run_id)
    name = f"later-{time.monotonic_ns()}"
    by_id = register_model(info.model_uri, name, tags={"team": "wine"}, client=client)
    by_run = register_model(info.run_model_uri, name, client=client)
    assert (by_id.version, by_run.version) == ("1", "2")
    assert mlflow_client.get_model_version(name, "1").tags == {"team": "wine"}
    for version in (1, 2):
        model = load_model(f"models:/{name}/{version}", client=client)
        np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_register_a_registered_version_under_another_name(
    registered: str, client: Any, mlflow_client: Any, elasticnet: Any, wine: Any
) -> None:
    mlflow_client.set_registered_model_alias(registered, "champion", "1")
    promoted = f"production-{time.monotonic_ns()}"
    by_version = register_model(f"models:/{registered}/1", promoted, client=client)
    by_alias = register_model(f"models:/{registered}@champion", promoted, client=client)
    assert [by_version.source, by_alias.source] == [f"models:/{registered}/1"] * 2
    for version in (1, 2):
        model = load_model(f"models:/{promoted}/{version}", client=client)
        np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))


def test_malformed_and_unknown_registry_uris(client: Any) -> None:
    with pytest.raises(InvalidParameterValue, match="models:/<name>@<alias>"):
        load_model("models:/a/b/c", client=client)
    with pytest.raises(ResourceDoesNotExist):
        load_model(f"models:/no-such-model-{time.monotonic_ns()}/1", client=client)


def test_register_a_model_kept_as_plain_run_artifacts(
    client: Any, run_id: str, elasticnet: Any, wine: Any, tmp_path: Any
) -> None:
    """MLflow 2 and the R client log models as run artifacts, with no logged model."""
    from tracklet.models import save_model

    folder = save_model(crate(lambda x, model: model.predict(x), model=elasticnet), tmp_path / "plain")
    client.log_artifacts(run_id, str(folder), "plain")
    name = f"plain-{time.monotonic_ns()}"
    version = register_model(f"runs:/{run_id}/plain", name, client=client)
    assert version.run_id == run_id and version.source.endswith("/plain")
    model = load_model(f"models:/{name}/1", client=client)
    np.testing.assert_array_equal(model.predict(wine.X_test), elasticnet.predict(wine.X_test))
