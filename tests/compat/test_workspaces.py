"""MLflow 3's workspaces through the official client against `tracklet server --enable-workspaces`, on
SQLite and PostgreSQL: the workspace API, and what a workspace sees of experiments, runs, registered
models and artifacts of another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.compat.conftest import error_code, unique_name
from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import TrackletServer


@pytest.fixture(scope="module", params=BACKENDS)
def ws_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    tmp = tmp_path_factory.mktemp("ws-server")
    srv = TrackletServer(
        _store_uri(request.param, tmp, request), str(tmp / "artifacts"), env={"TRACKLET_ENABLE_WORKSPACES": "true"}
    ).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(ws_server: TrackletServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", ws_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(ws_server.url)
    yield MlflowClient(ws_server.url)
    mlflow.set_workspace(None)


def new_workspace(client, **fields) -> str:  # type: ignore[no-untyped-def]
    name = unique_name("ws")
    client.create_workspace(name, **fields)
    return name


def test_workspaces_are_created_listed_read_updated_and_deleted(client) -> None:  # type: ignore[no-untyped-def]
    from mlflow.exceptions import MlflowException

    name = unique_name("ws")
    created = client.create_workspace(name, description="team A", default_artifact_root="s3://bucket/team-a")
    assert (created.name, created.description, created.default_artifact_root) == (name, "team A", "s3://bucket/team-a")
    listed = {w.name: w for w in client.list_workspaces()}
    assert listed["default"].description == "Default workspace for legacy resources"
    assert listed[name].description == "team A"
    assert client.get_workspace(name).default_artifact_root == "s3://bucket/team-a"

    updated = client.update_workspace(name, description="team A, renamed", default_artifact_root="")
    assert (updated.description, updated.default_artifact_root) == ("team A, renamed", None)
    assert client.get_workspace(name).description == "team A, renamed"

    with pytest.raises(MlflowException) as excinfo:
        client.create_workspace(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"

    client.delete_workspace(name)
    assert name not in {w.name for w in client.list_workspaces()}
    with pytest.raises(MlflowException) as excinfo:
        client.get_workspace(name)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_two_workspaces_may_each_have_an_experiment_of_the_same_name(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    a, b = new_workspace(client), new_workspace(client)
    name = unique_name("shared")
    mlflow.set_workspace(a)
    in_a = mlflow.create_experiment(name)
    mlflow.set_workspace(b)
    in_b = mlflow.create_experiment(name)
    assert in_a != in_b
    assert mlflow.get_experiment_by_name(name).experiment_id == in_b
    assert [e.experiment_id for e in mlflow.search_experiments()] == [in_b]
    mlflow.set_workspace(a)
    found = mlflow.get_experiment_by_name(name)
    assert (found.experiment_id, found.workspace) == (in_a, a)
    assert found.artifact_location == f"mlflow-artifacts:/workspaces/{a}/{in_a}"
    mlflow.set_workspace(None)  # the default workspace sees neither
    assert mlflow.get_experiment_by_name(name) is None


def test_a_new_workspace_has_no_default_experiment(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_workspace(new_workspace(client))
    assert mlflow.search_experiments() == []
    with pytest.raises(MlflowException) as excinfo:
        mlflow.start_run()  # into experiment 0, which is `default`'s
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_runs_of_one_workspace_are_not_found_from_another(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException

    a, b = new_workspace(client), new_workspace(client)
    mlflow.set_workspace(a)
    experiment_id = mlflow.create_experiment(unique_name())
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("loss", 0.5)
        mlflow.log_param("alpha", "1")
    run_id = run.info.run_id
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]

    mlflow.set_workspace(b)
    for call in (
        lambda: client.get_run(run_id),
        lambda: client.log_metric(run_id, "loss", 0.1),
        lambda: client.set_tag(run_id, "k", "v"),
        lambda: client.get_metric_history(run_id, "loss"),
        lambda: client.delete_run(run_id),
        lambda: client.get_experiment(experiment_id),
        lambda: client.create_run(experiment_id),
    ):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert client.search_runs([experiment_id]) == []  # as MLflow: other workspaces' experiments are left out

    mlflow.set_workspace(a)  # and nothing of it changed
    run_now = client.get_run(run_id)
    assert run_now.info.lifecycle_stage == "active"
    assert run_now.data.tags.get("k") is None
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [0.5]


def test_registered_models_are_per_workspace(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException

    a, b = new_workspace(client), new_workspace(client)
    model = unique_name("model")
    for workspace, description in ((a, "in a"), (b, "in b")):
        mlflow.set_workspace(workspace)
        client.create_registered_model(model, description=description)
        client.create_model_version(model, "s3://bucket/model", description=description)
    mlflow.set_workspace(a)
    assert client.get_registered_model(model).description == "in a"
    assert [m.name for m in client.search_registered_models()] == [model]
    assert [(v.name, v.description) for v in client.search_model_versions(f"name='{model}'")] == [(model, "in a")]
    only_a = unique_name("only-a")
    client.create_registered_model(only_a)
    client.set_registered_model_alias(model, "champion", 1)

    mlflow.set_workspace(b)
    assert client.get_registered_model(model).description == "in b"
    assert client.get_registered_model(model).aliases == {}
    assert [m.name for m in client.search_registered_models()] == [model]
    for call in (lambda: client.get_registered_model(only_a), lambda: client.delete_registered_model(only_a)):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model(model)  # b's
    mlflow.set_workspace(a)
    assert client.get_model_version(model, "1").description == "in a"


def test_artifacts_of_a_workspace_live_under_its_folder(client, ws_server: TrackletServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    a, b = new_workspace(client), new_workspace(client)
    source = tmp_path / "notes.txt"
    source.write_text("workspace a")
    mlflow.set_workspace(a)
    experiment_id = mlflow.create_experiment(unique_name())
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifact(str(source), "docs")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/workspaces/{a}/{experiment_id}/{run_id}/artifacts"
    stored = Path(ws_server.artifacts_destination) / "workspaces" / a / experiment_id / run_id / "artifacts" / "docs"
    assert (stored / "notes.txt").read_text() == "workspace a"
    assert [f.path for f in client.list_artifacts(run_id, "docs")] == ["docs/notes.txt"]
    fetched = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="docs/notes.txt", dst_path=str(tmp_path / "a")
    )
    assert Path(fetched).read_text() == "workspace a"

    # From workspace b the same proxy path is b's own (empty) folder, and a's folder is refused.
    path = f"{experiment_id}/{run_id}/artifacts/docs/notes.txt"
    headers = {"X-MLflow-Workspace": b}
    with httpx.Client(base_url=ws_server.url) as http:
        assert http.get(f"/api/2.0/mlflow-artifacts/artifacts/{path}", headers=headers).status_code == 404
        into_a = http.get(f"/api/2.0/mlflow-artifacts/artifacts/workspaces/{a}/{path}", headers=headers)
        assert into_a.status_code == 400
        assert into_a.json()["message"] == (
            f"Artifact path targets workspace '{a}' but the workspace specified in the request is '{b}'."
        )
        mine = http.get(f"/api/2.0/mlflow-artifacts/artifacts/workspaces/{a}/{path}", headers={"X-MLflow-Workspace": a})
        assert mine.content == b"workspace a"


def test_a_workspace_artifact_root_is_where_its_new_experiments_keep_artifacts(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    root = tmp_path / "team-root"
    name = new_workspace(client, default_artifact_root=str(root))
    mlflow.set_workspace(name)
    experiment_id = mlflow.create_experiment(unique_name())
    assert mlflow.get_experiment(experiment_id).artifact_location == f"{root}/{experiment_id}"
    source = tmp_path / "model.txt"
    source.write_text("weights")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifact(str(source))
    assert (root / experiment_id / run.info.run_id / "artifacts" / "model.txt").read_text() == "weights"


def test_restrict_refuses_a_workspace_that_holds_anything_and_changes_nothing(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException

    name = new_workspace(client)
    mlflow.set_workspace(name)
    experiment_id = mlflow.create_experiment(unique_name())
    mlflow.set_workspace(None)
    with pytest.raises(MlflowException) as excinfo:
        client.delete_workspace(name)  # RESTRICT
    assert error_code(excinfo) == "INVALID_STATE"
    assert "'experiments' still contains 1 resource(s)" in excinfo.value.message
    mlflow.set_workspace(name)
    assert mlflow.get_experiment(experiment_id).lifecycle_stage == "active"


def test_cascade_deletes_the_workspace_with_everything_in_it(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException

    name = new_workspace(client)
    mlflow.set_workspace(name)
    experiment_id = mlflow.create_experiment(unique_name())
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("m", 1.0)
    model = unique_name("model")
    client.create_registered_model(model)
    client.create_model_version(model, "s3://bucket/m")
    mlflow.set_workspace(None)
    client.delete_workspace(name, mode="CASCADE")
    assert name not in {w.name for w in client.list_workspaces()}
    for call in (
        lambda: client.get_run(run.info.run_id),
        lambda: client.get_experiment(experiment_id),
        lambda: client.get_registered_model(model),
    ):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    # The name may be used again, empty.
    client.create_workspace(name)
    mlflow.set_workspace(name)
    assert mlflow.search_experiments() == []
    assert client.search_registered_models() == []


def test_set_default_moves_everything_to_default_unless_a_name_is_taken_there(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException

    name = new_workspace(client)
    taken = unique_name("taken")
    mlflow.set_workspace(None)
    mlflow.create_experiment(taken)
    mlflow.set_workspace(name)
    moved = unique_name("moved")
    moved_id = mlflow.create_experiment(moved)
    clash_id = mlflow.create_experiment(taken)
    model = unique_name("model")
    client.create_registered_model(model)
    mlflow.set_workspace(None)

    with pytest.raises(MlflowException) as excinfo:
        client.delete_workspace(name, mode="SET_DEFAULT")
    assert error_code(excinfo) == "INVALID_STATE"
    assert f"experiments: '{taken}'" in excinfo.value.message
    assert mlflow.get_experiment_by_name(moved) is None  # nothing moved

    mlflow.set_workspace(name)
    client.rename_experiment(clash_id, unique_name("renamed"))
    mlflow.set_workspace(None)
    client.delete_workspace(name, mode="SET_DEFAULT")
    assert name not in {w.name for w in client.list_workspaces()}
    found = mlflow.get_experiment_by_name(moved)
    assert (found.experiment_id, found.workspace) == (moved_id, "default")
    assert client.get_registered_model(model).name == model


def test_traces_logged_models_and_datasets_of_one_workspace_are_not_found_from_another(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.genai.datasets import create_dataset, get_dataset, search_datasets

    a, b = new_workspace(client), new_workspace(client)
    mlflow.set_workspace(a)
    experiment_id = mlflow.create_experiment(unique_name())
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_span("answer") as span:
        span.set_inputs({"q": "2+2"})
        span.set_outputs({"a": 4})
    trace_id = span.trace_id
    mlflow.flush_trace_async_logging()
    model = mlflow.initialize_logged_model(name="m", experiment_id=experiment_id)
    dataset = create_dataset(name=unique_name("ds"), experiment_id=[experiment_id])
    assert [t.info.trace_id for t in client.search_traces(locations=[experiment_id])] == [trace_id]
    assert client.get_trace(trace_id).data.spans[0].name == "answer"
    assert [m.model_id for m in client.search_logged_models([experiment_id])] == [model.model_id]
    assert [d.dataset_id for d in search_datasets()] == [dataset.dataset_id]

    mlflow.set_workspace(b)
    assert client.search_traces(locations=[experiment_id]) == []
    assert client.search_logged_models([experiment_id]) == []
    assert search_datasets() == []
    for call in (
        lambda: client.get_trace(trace_id),
        lambda: client.set_trace_tag(trace_id, "k", "v"),
        lambda: client.get_logged_model(model.model_id),
        lambda: client.delete_logged_model(model.model_id),
        lambda: get_dataset(dataset_id=dataset.dataset_id),
    ):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    mlflow.set_workspace(a)
    assert client.get_logged_model(model.model_id).name == "m"
    assert "k" not in client.get_trace(trace_id).info.tags


def test_tracklets_own_client_works_in_the_workspace_mlflow_workspace_names(client, ws_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    from tracklet.client.client import TrackletClient

    name = new_workspace(client)
    monkeypatch.setenv("MLFLOW_WORKSPACE", name)
    own = TrackletClient(ws_server.url)
    try:
        experiment_id = own.create_experiment(unique_name("own"))
        assert own.get_experiment(experiment_id).workspace == name
    finally:
        own.close()
    monkeypatch.delenv("MLFLOW_WORKSPACE")
    mlflow.set_workspace(None)
    assert mlflow.get_experiment_by_name(unique_name("own")) is None
    mlflow.set_workspace(name)
    assert [e.experiment_id for e in mlflow.search_experiments()] == [experiment_id]


def test_prompts_of_the_same_name_live_in_each_workspace(client) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow.exceptions import MlflowException

    a, b = new_workspace(client), new_workspace(client)
    name = unique_name("prompt")
    mlflow.set_workspace(a)
    mlflow.genai.register_prompt(name=name, template="Hello {{who}} from a")
    mlflow.set_workspace(b)
    mlflow.genai.register_prompt(name=name, template="Hello {{who}} from b")
    mlflow.genai.register_prompt(name=name, template="Hi {{who}} from b")
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").format(who="Ann") == "Hi Ann from b"
    mlflow.set_workspace(a)
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").format(who="Ann") == "Hello Ann from a"
    with pytest.raises(MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{name}/2")  # b's second version is not a's
    assert [p.name for p in mlflow.genai.search_prompts(f"name = '{name}'")] == [name]
