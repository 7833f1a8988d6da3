"""Run lifecycle through the official client: create, update, end, nest, delete/restore, resume, names."""

from __future__ import annotations

import re
import time

import mlflow
import pytest
from mlflow.entities import RunStatus, ViewType
from mlflow.exceptions import MlflowException

from tests.compat.conftest import error_code

GENERATED_NAME = re.compile(r"^[a-z]+-[a-z]+-\d{1,3}$")


def test_create_run(mlflow_client, experiment_id):
    run = mlflow_client.create_run(experiment_id, start_time=1700000000000, tags={"team": "nlp"}, run_name="first-run")
    info = run.info
    assert re.fullmatch(r"[0-9a-f]{32}", info.run_id)
    assert info.experiment_id == experiment_id
    assert info.run_name == "first-run"
    assert info.status == "RUNNING"
    assert info.start_time == 1700000000000
    assert info.end_time is None
    assert info.lifecycle_stage == "active"
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info.run_id}/artifacts"
    assert run.data.tags["team"] == "nlp"
    assert run.data.tags["mlflow.runName"] == "first-run"

    again = mlflow_client.get_run(info.run_id)
    assert again.info == info
    assert again.data.tags == run.data.tags


def test_get_unknown_run(mlflow_client):
    with pytest.raises(MlflowException, match="Run with id=0123456789abcdef0123456789abcdef not found") as excinfo:
        mlflow_client.get_run("0123456789abcdef0123456789abcdef")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_create_run_in_unknown_experiment(mlflow_client):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.create_run("987654")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_update_and_terminate_run(mlflow_client, experiment_id):
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.update_run(run_id, status="SCHEDULED")
    assert mlflow_client.get_run(run_id).info.status == "SCHEDULED"

    mlflow_client.set_terminated(run_id, status="KILLED", end_time=1800000000000)
    info = mlflow_client.get_run(run_id).info
    assert info.status == "KILLED"
    assert info.end_time == 1800000000000

    mlflow_client.set_terminated(run_id)  # default FINISHED, end_time now
    info = mlflow_client.get_run(run_id).info
    assert info.status == "FINISHED"
    assert abs(info.end_time - time.time() * 1000) < 60_000


@pytest.mark.parametrize("status", ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"])
def test_every_run_status(mlflow_client, experiment_id, status):
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.update_run(run_id, status=status)
    assert mlflow_client.get_run(run_id).info.status == status
    assert RunStatus.from_string(status) is not None


def test_context_manager_finishes_the_run(mlflow_client, experiment_id):
    with mlflow.start_run() as run:
        assert mlflow_client.get_run(run.info.run_id).info.status == "RUNNING"
    info = mlflow_client.get_run(run.info.run_id).info
    assert info.status == "FINISHED"
    assert info.end_time >= info.start_time > 0


def test_context_manager_fails_the_run_on_exception(mlflow_client, experiment_id):
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as run:
        1 / 0  # noqa: B018
    assert mlflow_client.get_run(run.info.run_id).info.status == "FAILED"


def test_fluent_run_carries_client_tags(mlflow_client, experiment_id):
    with mlflow.start_run(run_name="fluent") as run:
        pass
    tags = mlflow_client.get_run(run.info.run_id).data.tags
    assert tags["mlflow.runName"] == "fluent"
    assert "mlflow.user" in tags
    assert "mlflow.source.name" in tags
    assert "mlflow.source.type" in tags


def test_nested_runs(mlflow_client, experiment_id):
    with (
        mlflow.start_run() as parent,
        mlflow.start_run(nested=True) as child,
        mlflow.start_run(nested=True) as grandchild,
    ):
        pass
    assert mlflow_client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert mlflow_client.get_run(grandchild.info.run_id).data.tags["mlflow.parentRunId"] == child.info.run_id
    assert "mlflow.parentRunId" not in mlflow_client.get_run(parent.info.run_id).data.tags
    children = mlflow_client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]
    for r in (parent, child, grandchild):
        assert mlflow_client.get_run(r.info.run_id).info.status == "FINISHED"


def test_delete_and_restore_run(mlflow_client, experiment_id):
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.delete_run(run_id)
    mlflow_client.delete_run(run_id)  # idempotent
    # A deleted run can still be read...
    assert mlflow_client.get_run(run_id).info.lifecycle_stage == "deleted"
    # ...but searches hide it unless asked.
    assert mlflow_client.search_runs([experiment_id]) == []
    assert [r.info.run_id for r in mlflow_client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)] == [
        run_id
    ]
    assert len(mlflow_client.search_runs([experiment_id], run_view_type=ViewType.ALL)) == 1

    mlflow_client.restore_run(run_id)
    assert mlflow_client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in mlflow_client.search_runs([experiment_id])] == [run_id]


def test_delete_unknown_run(mlflow_client):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.delete_run("0123456789abcdef0123456789abcdef")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_resume_a_finished_run(mlflow_client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
        mlflow.log_metric("m", 1.0, step=0)
    run_id = run.info.run_id
    assert mlflow_client.get_run(run_id).info.status == "FINISHED"

    with mlflow.start_run(run_id=run_id) as resumed:
        assert resumed.info.run_id == run_id
        assert mlflow_client.get_run(run_id).info.status == "RUNNING"
        mlflow.log_metric("m", 2.0, step=1)
    run = mlflow_client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"p": "1"}
    assert run.data.metrics == {"m": 2.0}
    assert [m.value for m in mlflow_client.get_metric_history(run_id, "m")] == [1.0, 2.0]


def test_run_names_are_generated(mlflow_client, experiment_id):
    names = set()
    for _ in range(3):
        run = mlflow_client.create_run(experiment_id)
        assert GENERATED_NAME.match(run.info.run_name), run.info.run_name
        assert run.data.tags["mlflow.runName"] == run.info.run_name
        names.add(run.info.run_name)
    with mlflow.start_run() as fluent:
        pass
    assert GENERATED_NAME.match(mlflow_client.get_run(fluent.info.run_id).info.run_name)


def test_rename_run_by_tag_and_by_update(mlflow_client, experiment_id):
    run_id = mlflow_client.create_run(experiment_id, run_name="before").info.run_id
    mlflow_client.set_tag(run_id, "mlflow.runName", "via-tag")
    run = mlflow_client.get_run(run_id)
    assert run.info.run_name == "via-tag"
    assert run.data.tags["mlflow.runName"] == "via-tag"

    mlflow_client.update_run(run_id, name="via-update")
    run = mlflow_client.get_run(run_id)
    assert run.info.run_name == "via-update"
    assert run.data.tags["mlflow.runName"] == "via-update"
    assert [
        r.info.run_id for r in mlflow_client.search_runs([experiment_id], "attributes.run_name = 'via-update'")
    ] == [run_id]


def test_run_name_and_tag_must_agree(mlflow_client, experiment_id):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.create_run(experiment_id, run_name="a", tags={"mlflow.runName": "b"})
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    same = mlflow_client.create_run(experiment_id, run_name="a", tags={"mlflow.runName": "a"})
    assert same.info.run_name == "a"


def test_tags_set_and_delete(mlflow_client, experiment_id):
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.set_tag(run_id, "k", "v1")
    mlflow_client.set_tag(run_id, "k", "v2")  # tags are upserts
    assert mlflow_client.get_run(run_id).data.tags["k"] == "v2"
    mlflow_client.delete_tag(run_id, "k")
    assert "k" not in mlflow_client.get_run(run_id).data.tags
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.delete_tag(run_id, "k")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_runs_default_to_experiment_zero(mlflow_client, monkeypatch):
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    run = mlflow_client.create_run("0")
    assert run.info.experiment_id == "0"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/0/")
