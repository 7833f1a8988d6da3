"""The model registry and logged models from the module-level API: `search_registered_models`,
`search_model_versions`, `search_logged_models`, `get_logged_model`, and the client's aliases."""

from __future__ import annotations

import uuid

import pytest

import tracklet
from tests.client.conftest import AGAINST_MLFLOW
from tracklet import entities, errors
from tracklet.client import fluent, paging
from tracklet.client.registry import LOGGED_MODEL_COLUMNS


def _logged_model(name: str, run_id: str, experiment_id: str, *, params: dict[str, str] | None = None) -> str:
    client = fluent._state.client()
    model = client.create_logged_model(experiment_id, name, source_run_id=run_id, params=params, tags={"kind": name})
    client.finalize_logged_model(model.model_id)
    return model.model_id


def _register(registered_name: str, model_id: str) -> str:
    version = fluent._state.client().create_model_version(registered_name, f"models:/{model_id}", model_id=model_id)
    return version.version


@pytest.fixture
def registered(tracking_uri: str) -> tuple[str, list[str]]:
    """Three registered models named `<prefix>a`, `b`, `c`; `a` has two versions. Returns (prefix, model ids)."""
    prefix = f"reg-{uuid.uuid4().hex[:8]}-"
    with tracklet.start_run() as run:
        ids = [_logged_model(f"m{i}", run.info.run_id, run.info.experiment_id) for i in range(4)]
    for name, model_id in zip(["a", "a", "b", "c"], ids, strict=True):
        _register(f"{prefix}{name}", model_id)
    return prefix, ids


def test_search_registered_models_lists_every_page_as_entities(
    registered: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, _ = registered
    monkeypatch.setattr(paging, "SEARCH_PAGE_SIZE", 2)
    ours = f"name LIKE '{prefix}%'"
    found = tracklet.search_registered_models(filter_string=ours)
    assert [m.name for m in found] == [f"{prefix}a", f"{prefix}b", f"{prefix}c"]
    assert all(isinstance(m, entities.RegisteredModel) for m in found)
    assert [v.version for v in found[0].latest_versions] == ["2"]
    assert [m.name for m in tracklet.search_registered_models(2, ours, ["name DESC"])] == [f"{prefix}c", f"{prefix}b"]


def test_search_model_versions_filters_pages_and_orders(
    registered: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, ids = registered
    monkeypatch.setattr(paging, "SEARCH_PAGE_SIZE", 1)
    versions = tracklet.search_model_versions(filter_string=f"name = '{prefix}a'", order_by=["version_number DESC"])
    assert [(v.name, v.version) for v in versions] == [(f"{prefix}a", "2"), (f"{prefix}a", "1")]
    assert all(isinstance(v, entities.ModelVersion) and v.status == "READY" for v in versions)
    assert len(tracklet.search_model_versions(filter_string=f"name LIKE '{prefix}%'")) == 4
    assert len(tracklet.search_model_versions(max_results=3, filter_string=f"name LIKE '{prefix}%'")) == 3


def test_aliases_set_and_deleted_with_the_client_show_in_searches(registered: tuple[str, list[str]]) -> None:
    prefix, _ = registered
    client = fluent._state.client()
    client.set_registered_model_alias(f"{prefix}a", "champion", 1)
    (model,) = tracklet.search_registered_models(filter_string=f"name = '{prefix}a'")
    assert model.aliases == {"champion": "1"}  # as MLflow's RegisteredModel.aliases
    (v1,) = tracklet.search_model_versions(filter_string=f"name = '{prefix}a' AND version_number = 1")
    if not AGAINST_MLFLOW:  # MLflow's server leaves the aliases out of model-versions/search
        assert v1.aliases == ["champion"]

    client.delete_registered_model_alias(f"{prefix}a", "champion")
    (model,) = tracklet.search_registered_models(filter_string=f"name = '{prefix}a'")
    assert model.aliases == {}
    with pytest.raises(errors.InvalidParameterValue, match="alias champion not found"):  # MLflow's error too
        client.get_model_version_by_alias(f"{prefix}a", "champion")


def test_search_logged_models_gives_mlflows_dataframe_or_a_list(tracking_uri: str) -> None:
    with tracklet.start_run() as run:
        tracklet.log_metric("rmse", 0.7)
        first = _logged_model("forest", run.info.run_id, run.info.experiment_id, params={"depth": "3"})
        second = _logged_model("linear", run.info.run_id, run.info.experiment_id)

    frame = tracklet.search_logged_models()  # the current experiment's, newest first
    assert list(frame.columns) == LOGGED_MODEL_COLUMNS
    assert frame["model_id"].tolist() == [second, first]
    row = frame.iloc[1]
    assert (row["name"], row["status"], row["source_run_id"]) == ("forest", "READY", run.info.run_id)
    assert row["params"] == {"depth": "3"} and row["tags"] == {"kind": "forest"}

    listed = tracklet.search_logged_models(filter_string="name = 'forest'", output_format="list")
    assert [m.info.model_id for m in listed] == [first]
    assert isinstance(listed[0], entities.LoggedModel)
    oldest_first = tracklet.search_logged_models(
        [run.info.experiment_id], order_by=[{"field_name": "creation_time", "ascending": True}], output_format="list"
    )
    assert [m.info.model_id for m in oldest_first] == [first, second]
    assert len(tracklet.search_logged_models(max_results=1, output_format="list")) == 1

    client = fluent._state.client()
    failed = client.create_logged_model(run.info.experiment_id, "broken", source_run_id=run.info.run_id)
    client.finalize_logged_model(failed.model_id, "LOGGED_MODEL_UPLOAD_FAILED")
    frame = tracklet.search_logged_models(filter_string="name = 'broken'")
    assert frame["status"].tolist() == ["FAILED"]  # MLflow's name for it, as `LoggedModel.status`


def test_get_logged_model_returns_the_entity(tracking_uri: str) -> None:
    with tracklet.start_run() as run:
        model_id = _logged_model("forest", run.info.run_id, run.info.experiment_id, params={"depth": "3"})
    model = tracklet.get_logged_model(model_id)
    assert isinstance(model, entities.LoggedModel)
    assert (model.info.name, model.info.status, model.info.source_run_id) == (
        "forest",
        "LOGGED_MODEL_READY",
        run.info.run_id,
    )
    assert [(p.key, p.value) for p in model.data.params] == [("depth", "3")]
    with pytest.raises(errors.ResourceDoesNotExist):
        tracklet.get_logged_model("m-" + "0" * 32)


def test_search_logged_models_checks_its_arguments(tracking_uri: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="output_format must be 'pandas' or 'list'"):
        tracklet.search_logged_models(output_format="dict")  # type: ignore[call-overload]
    with pytest.raises(errors.InvalidParameterValue, match="list of dicts"):
        tracklet.search_logged_models(order_by=["creation_time"])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidParameterValue, match="experiment_ids must be a list"):
        tracklet.search_logged_models("0")
    with pytest.raises(errors.NotImplementedByServer, match="datasets"):
        tracklet.search_logged_models(datasets=[{"dataset_name": "wine"}])


def test_the_logged_models_dataframe_has_mlflows_columns(remote: str) -> None:
    import mlflow

    with tracklet.start_run() as run:
        _logged_model("forest", run.info.run_id, run.info.experiment_id)
    mlflow.set_tracking_uri(remote)
    theirs = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id])
    ours = tracklet.search_logged_models()
    assert list(ours.columns) == sorted(theirs.columns)
    assert ours["status"].tolist() == [str(s) for s in theirs["status"]] == ["READY"]


def test_the_clients_logged_models_and_model_versions_are_entities_with_mlflows_names(tracking_uri: str) -> None:
    client = fluent._state.client()
    with tracklet.start_run() as run:
        created = client.create_logged_model(
            run.info.experiment_id, "forest", source_run_id=run.info.run_id, params={"depth": "3"}, tags={"kind": "t"}
        )
    assert isinstance(created, entities.LoggedModel)
    assert (created.name, created.status, created.info.status) == ("forest", "PENDING", "LOGGED_MODEL_PENDING")
    assert (created.experiment_id, created.source_run_id) == (run.info.experiment_id, run.info.run_id)
    assert created.params == {"depth": "3"} and created.tags["kind"] == "t"
    assert created.model_uri == f"models:/{created.model_id}"
    assert created.artifact_location == created.info.artifact_uri and created.artifact_location
    assert created.creation_timestamp > 0 and created.metrics == []

    ready = client.finalize_logged_model(created.model_id)
    assert isinstance(ready, entities.LoggedModel) and ready.status == "READY"
    fetched = client.get_logged_model(created.model_id)
    assert isinstance(fetched, entities.LoggedModel)
    assert (fetched.model_id, fetched.status, fetched.info.status) == (created.model_id, "READY", "LOGGED_MODEL_READY")
    (found,) = client.search_logged_models([run.info.experiment_id], "name = 'forest'")
    assert isinstance(found, entities.LoggedModel) and found.model_id == created.model_id

    name = f"typed-{uuid.uuid4().hex[:8]}"
    version = client.create_model_version(name, created.model_uri, model_id=created.model_id, tags={"team": "wine"})
    assert isinstance(version, entities.ModelVersion)
    assert (version.name, version.version, version.source) == (name, "1", created.model_uri)
    assert version.tags == {"team": "wine"}
    got = client.get_model_version(name, 1)
    assert isinstance(got, entities.ModelVersion) and got.version == "1" and got.status == "READY"
    client.set_registered_model_alias(name, "champion", 1)
    by_alias = client.get_model_version_by_alias(name, "champion")
    assert isinstance(by_alias, entities.ModelVersion) and by_alias.version == "1"
    latest = client.get_latest_versions(name)
    assert [(type(v), v.version, v.current_stage) for v in latest] == [(entities.ModelVersion, "1", "None")]
