"""The model registry through the official client: register, load by version / alias / stage, search,
rename, tags, descriptions, deletes and the errors the client relies on."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression

from tests.compat.conftest import error_code, unique_name


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    return X, X["a"] * 3 - X["b"]


@pytest.fixture(scope="module")
def registered(server, data):
    """Two sklearn models logged with `registered_model_name`: versions 1 and 2 of one registered model
    (once per server: logging is slow). Version 2 predicts differently from version 1."""
    X, y = data
    name = unique_name("reg")
    models, infos = [], []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mlflow.set_tracking_uri(server.url)
        mlflow.set_experiment(unique_name("registry"))
        for scale in (1.0, -1.0):
            model = LinearRegression().fit(X, y * scale)
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(
                    model, name="model", registered_model_name=name, pip_requirements=["scikit-learn"]
                )
            models.append(model)
            infos.append(info)
    return name, infos, models


def test_log_model_with_a_registered_name_creates_numbered_versions(mlflow_client, registered):
    name, infos, _ = registered
    assert [str(info.registered_model_version) for info in infos] == ["1", "2"]
    v1 = mlflow_client.get_model_version(name, "1")
    assert (v1.name, v1.version, v1.current_stage, v1.status) == (name, "1", "None", "READY")
    assert v1.source == f"models:/{infos[0].model_id}"
    assert v1.run_id == infos[0].run_id
    model = mlflow_client.get_registered_model(name)
    assert model.name == name
    assert [(v.version, v.current_stage) for v in model.latest_versions] == [("2", "None")]
    assert model.last_updated_timestamp >= model.creation_timestamp > 0


def test_the_logged_model_lists_its_registered_versions(mlflow_client, registered):
    name, infos, _ = registered
    tag = mlflow_client.get_logged_model(infos[1].model_id).tags["mlflow.modelVersions"]
    listed = json.loads(tag)
    assert {(e["name"], str(e["version"])) for e in listed} == {(name, "2")}


def test_load_by_version_alias_and_stage(mlflow_client, registered, data):
    name, _, models = registered
    X, _ = data
    first, second = (m.predict(X) for m in models)
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{name}/1").predict(X), first)
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{name}/2").predict(X), second)
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{name}/latest").predict(X), second)

    mlflow_client.set_registered_model_alias(name, "champion", "1")
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "1"
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(X), first)
    assert mlflow_client.get_registered_model(name).aliases == {"champion": "1"}
    mlflow_client.set_registered_model_alias(name, "champion", "2")  # moves the alias
    assert np.allclose(mlflow.sklearn.load_model(f"models:/{name}@champion").predict(X), second)

    mlflow_client.transition_model_version_stage(name, "1", "Production")
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{name}/Production").predict(X), first)
    moved = mlflow_client.transition_model_version_stage(name, "2", "production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert mlflow_client.get_model_version(name, "1").current_stage == "Archived"
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{name}/Production").predict(X), second)
    latest = mlflow_client.get_latest_versions(name, stages=["Archived"])
    assert [v.version for v in latest] == ["1"]


def test_download_uri_is_the_logged_model_location(mlflow_client, registered):
    name, infos, _ = registered
    logged = mlflow_client.get_logged_model(infos[0].model_id)
    assert mlflow_client.get_model_version_download_uri(name, "1") == logged.artifact_location


def test_register_model_from_a_logged_model_uri(mlflow_client, registered):
    _, infos, _ = registered
    name = unique_name("copy")
    version = mlflow.register_model(infos[0].model_uri, name, tags={"team": "a"})
    assert (version.name, version.version) == (name, "1")
    again = mlflow.register_model(infos[0].model_uri, name)  # the model exists: a new version
    assert again.version == "2"
    fetched = mlflow_client.get_model_version(name, "1")
    assert fetched.tags == {"team": "a"}
    assert fetched.run_id == infos[0].run_id


def test_tags_descriptions_and_rename(mlflow_client, registered):
    name = unique_name("meta")
    created = mlflow_client.create_registered_model(name, tags={"k": "v"}, description="first")
    assert (created.description, created.tags) == ("first", {"k": "v"})
    _, infos, _ = registered
    mlflow_client.create_model_version(name, infos[0].model_uri, model_id=infos[0].model_id)

    mlflow_client.set_registered_model_tag(name, "k", "v2")
    mlflow_client.set_registered_model_tag(name, "other", "x")
    mlflow_client.delete_registered_model_tag(name, "other")
    mlflow_client.update_registered_model(name, description="second")
    model = mlflow_client.get_registered_model(name)
    assert (model.tags, model.description) == ({"k": "v2"}, "second")

    mlflow_client.set_model_version_tag(name, "1", "stage", "qa")
    mlflow_client.update_model_version(name, "1", description="the first")
    version = mlflow_client.get_model_version(name, "1")
    assert (version.tags, version.description) == ({"stage": "qa"}, "the first")
    mlflow_client.delete_model_version_tag(name, "1", "stage")
    assert mlflow_client.get_model_version(name, "1").tags == {}

    mlflow_client.rename_registered_model(name, name + "-new")
    assert mlflow_client.get_registered_model(name + "-new").tags == {"k": "v2"}
    assert mlflow_client.get_model_version(name + "-new", "1").description == "the first"
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.get_registered_model(name)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_search_registered_models_filters_orders_and_pages(mlflow_client):
    prefix = unique_name("search")
    names = [f"{prefix}-{i}" for i in range(5)]
    for i, name in enumerate(names):
        mlflow_client.create_registered_model(name, tags={"parity": "even" if i % 2 == 0 else "odd"})

    found = mlflow_client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")
    assert [m.name for m in found] == names
    evens = mlflow_client.search_registered_models(filter_string=f"name LIKE '{prefix}%' AND tags.parity = 'even'")
    assert [m.name for m in evens] == [names[0], names[2], names[4]]
    upper = mlflow_client.search_registered_models(filter_string=f"name ILIKE '{prefix.upper()}-%'")
    assert len(upper) == 5
    assert mlflow_client.search_registered_models(filter_string=f"name LIKE '{prefix.upper()}-%'") == []
    exact = mlflow_client.search_registered_models(filter_string=f"name = '{names[3]}'")
    assert [m.name for m in exact] == [names[3]]

    descending = mlflow_client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [m.name for m in descending] == names[::-1]

    seen, token = [], None
    while True:
        page = mlflow_client.search_registered_models(
            filter_string=f"name LIKE '{prefix}-%'", max_results=2, page_token=token
        )
        assert len(page) <= 2
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == names


def test_search_model_versions(mlflow_client, registered):
    name, infos, _ = registered
    versions = mlflow_client.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    by_run = mlflow_client.search_model_versions(f"run_id = '{infos[1].run_id}'")
    assert [(v.name, v.version) for v in by_run] == [(name, "2")]
    newer = mlflow_client.search_model_versions(f"name = '{name}' AND version_number > 1")
    assert [v.version for v in newer] == ["2"]
    ordered = mlflow_client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [v.version for v in ordered] == ["1", "2"]
    page = mlflow_client.search_model_versions(f"name = '{name}'", max_results=1, order_by=["version_number DESC"])
    assert [v.version for v in page] == ["2"] and page.token
    rest = mlflow_client.search_model_versions(
        f"name = '{name}'", max_results=1, order_by=["version_number DESC"], page_token=page.token
    )
    assert [v.version for v in rest] == ["1"]

    mlflow_client.set_model_version_tag(name, "1", "validated", "yes")
    tagged = mlflow_client.search_model_versions(f"name = '{name}' AND tags.validated = 'yes'")
    assert [v.version for v in tagged] == ["1"]
    # Other tests of this module register the same logged model under other names.
    by_source = mlflow_client.search_model_versions(f"source_path = 'models:/{infos[0].model_id}'")
    assert (name, "1") in [(v.name, v.version) for v in by_source]
    assert (name, "2") not in [(v.name, v.version) for v in by_source]


def test_deletes(mlflow_client, registered):
    _, infos, _ = registered
    name = unique_name("gone")
    mlflow_client.create_registered_model(name)
    for _ in range(3):
        mlflow_client.create_model_version(name, infos[0].model_uri, model_id=infos[0].model_id)
    mlflow_client.set_registered_model_alias(name, "best", "2")
    mlflow_client.delete_model_version(name, "2")
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.get_model_version(name, "2")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_client.get_registered_model(name).aliases == {}  # the alias went with the version
    # A deleted version's number is not reused.
    assert mlflow_client.create_model_version(name, infos[0].model_uri, model_id=infos[0].model_id).version == "4"
    assert sorted(v.version for v in mlflow_client.search_model_versions(f"name = '{name}'")) == ["1", "3", "4"]

    mlflow_client.delete_registered_model(name)
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.get_model_version(name, "1")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_client.search_model_versions(f"name = '{name}'") == []
    # The name is free again, and numbering starts over.
    mlflow_client.create_registered_model(name)
    assert mlflow_client.create_model_version(name, infos[0].model_uri, model_id=infos[0].model_id).version == "1"


def test_errors_the_client_relies_on(mlflow_client):
    name = unique_name("err")
    mlflow_client.create_registered_model(name)
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.create_registered_model(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    assert excinfo.value.get_http_status_code() == 400
    for call in (
        lambda: mlflow_client.get_registered_model(name + "-missing"),
        lambda: mlflow_client.get_model_version(name, "7"),
        lambda: mlflow_client.get_latest_versions(name + "-missing"),
        lambda: mlflow_client.delete_registered_model(name + "-missing"),
    ):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        mlflow.pyfunc.load_model(f"models:/{name}-missing/1")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.rename_registered_model(name, name)  # to a name that exists (its own) is fine ...
        other = unique_name("err")
        mlflow_client.create_registered_model(other)
        mlflow_client.rename_registered_model(name, other)  # ... to another model's is not
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.get_model_version_by_alias(name, "nobody")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_prompts_register_and_load_through_the_registry(mlflow_client):
    name = unique_name("prompt")
    mlflow.genai.register_prompt(name=name, template="Hello {{who}}")
    mlflow.genai.register_prompt(name=name, template="Hi {{who}}!")
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").format(who="Ann") == "Hello Ann"
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").format(who="Ann") == "Hi Ann!"
    # Prompts stay out of model searches.
    assert mlflow_client.search_registered_models(filter_string=f"name = '{name}'") == []
