"""Experiments through the official client: create, read, rename, tags, delete/restore, search."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.compat.conftest import error_code, unique_name


def test_create_and_get_experiment(mlflow_client):
    name = unique_name()
    before = int(time.time() * 1000)
    exp_id = mlflow_client.create_experiment(name, tags={"team": "vision", "owner": "ana"})

    exp = mlflow_client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert exp.tags == {"team": "vision", "owner": "ana"}
    assert exp.creation_time >= before - 1000
    assert exp.last_update_time >= exp.creation_time


def test_default_experiment_exists(mlflow_client):
    exp = mlflow_client.get_experiment("0")
    assert exp.name == "Default"
    assert mlflow_client.get_experiment_by_name("Default").experiment_id == "0"


def test_get_experiment_by_name(mlflow_client):
    name = unique_name()
    exp_id = mlflow_client.create_experiment(name)
    assert mlflow_client.get_experiment_by_name(name).experiment_id == exp_id


def test_get_experiment_by_unknown_name_is_none(mlflow_client):
    # The client maps only a 404 RESOURCE_DOES_NOT_EXIST to None; anything else would raise.
    assert mlflow_client.get_experiment_by_name(unique_name("missing")) is None


def test_get_unknown_experiment_id(mlflow_client):
    with pytest.raises(MlflowException, match="No Experiment with id=987654 exists") as excinfo:
        mlflow_client.get_experiment("987654")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_non_integer_experiment_id_is_bad_input(mlflow_client):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.get_experiment("abc")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_duplicate_name_is_rejected(mlflow_client):
    name = unique_name()
    mlflow_client.create_experiment(name)
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.create_experiment(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"


def test_deleted_experiment_keeps_its_name(mlflow_client):
    name = unique_name()
    mlflow_client.delete_experiment(mlflow_client.create_experiment(name))
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.create_experiment(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    assert mlflow_client.get_experiment_by_name(name).lifecycle_stage == "deleted"


def test_rename_experiment(mlflow_client):
    old, new = unique_name(), unique_name()
    exp_id = mlflow_client.create_experiment(old)
    mlflow_client.rename_experiment(exp_id, new)
    assert mlflow_client.get_experiment(exp_id).name == new
    assert mlflow_client.get_experiment_by_name(new).experiment_id == exp_id
    assert mlflow_client.get_experiment_by_name(old) is None


def test_rename_to_a_taken_name(mlflow_client):
    taken = unique_name()
    mlflow_client.create_experiment(taken)
    exp_id = mlflow_client.create_experiment(unique_name())
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.rename_experiment(exp_id, taken)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"


def test_rename_deleted_experiment_is_refused(mlflow_client):
    # The HTTP status (400, not MLflow's 500) is checked in tests/http.
    exp_id = mlflow_client.create_experiment(unique_name())
    mlflow_client.delete_experiment(exp_id)
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.rename_experiment(exp_id, unique_name())
    assert error_code(excinfo) == "INVALID_STATE"


def test_set_and_delete_experiment_tags(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique_name())
    mlflow_client.set_experiment_tag(exp_id, "stage", "draft")
    mlflow_client.set_experiment_tag(exp_id, "stage", "final")  # an upsert
    mlflow_client.set_experiment_tag(exp_id, "mlflow.note.content", "notes")
    assert mlflow_client.get_experiment(exp_id).tags == {"stage": "final", "mlflow.note.content": "notes"}

    mlflow_client.delete_experiment_tag(exp_id, "stage")
    assert mlflow_client.get_experiment(exp_id).tags == {"mlflow.note.content": "notes"}
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.delete_experiment_tag(exp_id, "stage")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_experiment_tag_value_limit(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique_name())
    mlflow_client.set_experiment_tag(exp_id, "long", "x" * 20000)
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.set_experiment_tag(exp_id, "too-long", "x" * 20001)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_delete_and_restore_experiment_with_its_runs(mlflow_client):
    exp_id = mlflow_client.create_experiment(unique_name())
    kept = mlflow_client.create_run(exp_id).info.run_id
    deleted_before = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.delete_run(deleted_before)

    mlflow_client.delete_experiment(exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert mlflow_client.get_run(kept).info.lifecycle_stage == "deleted"
    assert mlflow_client.search_runs([exp_id]) == []
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.delete_experiment(exp_id)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.create_run(exp_id)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"

    mlflow_client.restore_experiment(exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "active"
    # Restoring brings back every run, even one deleted on its own before.
    assert {r.info.run_id for r in mlflow_client.search_runs([exp_id])} == {kept, deleted_before}
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.restore_experiment(exp_id)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_set_experiment_creates_then_reuses(mlflow_client):
    name = unique_name()
    created = mlflow.set_experiment(name)
    assert created.name == name
    assert mlflow.set_experiment(name).experiment_id == created.experiment_id


def test_set_experiment_on_a_deleted_experiment_fails(mlflow_client):
    name = unique_name()
    mlflow_client.delete_experiment(mlflow_client.create_experiment(name))
    with pytest.raises(MlflowException, match="deleted"):
        mlflow.set_experiment(name)


# ---- search -----------------------------------------------------------------------------------


@pytest.fixture
def family(mlflow_client):
    """Five experiments sharing a name prefix: a0..a4, created in that order; a1 tagged, a4 deleted."""
    prefix = unique_name("fam")
    ids = []
    for i in range(5):
        tags = {"kind": "special"} if i == 1 else {"kind": "plain"}
        ids.append(mlflow_client.create_experiment(f"{prefix}-a{i}", tags=tags))
        time.sleep(0.005)  # distinct creation times
    mlflow_client.delete_experiment(ids[4])
    return prefix, ids


def _names(experiments):
    return [e.name.rsplit("-", 1)[1] for e in experiments]


def test_search_experiments_by_name(mlflow_client, family):
    prefix, _ = family
    found = mlflow_client.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    # Default order: newest first; the deleted one hidden.
    assert _names(found) == ["a3", "a2", "a1", "a0"]
    assert _names(mlflow_client.search_experiments(filter_string=f"name = '{prefix}-a2'")) == ["a2"]
    assert _names(
        mlflow_client.search_experiments(filter_string=f"name != '{prefix}-a2' AND name ILIKE '{prefix.upper()}-%'")
    ) == [
        "a3",
        "a1",
        "a0",
    ]


def test_search_experiments_view_types(mlflow_client, family):
    prefix, _ = family
    f = f"name LIKE '{prefix}-%'"
    assert len(mlflow_client.search_experiments(view_type=ViewType.ACTIVE_ONLY, filter_string=f)) == 4
    assert _names(mlflow_client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f)) == ["a4"]
    assert len(mlflow_client.search_experiments(view_type=ViewType.ALL, filter_string=f)) == 5


def test_search_experiments_by_tag_and_id(mlflow_client, family):
    prefix, ids = family
    f = f"name LIKE '{prefix}-%'"
    assert _names(mlflow_client.search_experiments(filter_string=f"{f} AND tags.kind = 'special'")) == ["a1"]
    assert _names(mlflow_client.search_experiments(filter_string=f"{f} AND tags.kind LIKE 'pl%'")) == [
        "a3",
        "a2",
        "a0",
    ]
    assert _names(mlflow_client.search_experiments(filter_string=f"{f} AND tags.missing IS NULL")) == [
        "a3",
        "a2",
        "a1",
        "a0",
    ]
    id_list = ", ".join(f"'{i}'" for i in ids[:2])
    assert _names(mlflow_client.search_experiments(filter_string=f"experiment_id IN ({id_list})")) == [
        "a1",
        "a0",
    ]
    created = mlflow_client.get_experiment(ids[2]).creation_time
    assert _names(mlflow_client.search_experiments(filter_string=f"{f} AND creation_time >= {created}")) == [
        "a3",
        "a2",
    ]


def test_search_experiments_order_by(mlflow_client, family):
    prefix, _ = family
    f = f"name LIKE '{prefix}-%'"
    assert _names(mlflow_client.search_experiments(filter_string=f, order_by=["name ASC"])) == [
        "a0",
        "a1",
        "a2",
        "a3",
    ]
    assert _names(mlflow_client.search_experiments(filter_string=f, order_by=["name DESC"])) == [
        "a3",
        "a2",
        "a1",
        "a0",
    ]
    assert _names(mlflow_client.search_experiments(filter_string=f, order_by=["creation_time"])) == [
        "a0",
        "a1",
        "a2",
        "a3",
    ]
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.search_experiments(filter_string=f, order_by=["tags.kind"])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_search_experiments_pages(mlflow_client, family):
    prefix, _ = family
    f = f"name LIKE '{prefix}-%'"
    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_experiments(
            filter_string=f, max_results=3, page_token=token, view_type=ViewType.ALL
        )
        seen += _names(page)
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 2
    assert seen == ["a4", "a3", "a2", "a1", "a0"]


def test_search_experiments_bad_filter(mlflow_client):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.search_experiments(filter_string="name = 'a' OR name = 'b'")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.search_experiments(max_results=50001)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_a_deleted_experiments_tags_stay_as_they_are(mlflow_client):
    experiment_id = mlflow_client.create_experiment(unique_name(), tags={"team": "vision"})
    mlflow_client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException, match="must be in the 'active' state") as caught:
        mlflow_client.delete_experiment_tag(experiment_id, "team")
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    mlflow_client.restore_experiment(experiment_id)
    assert mlflow_client.get_experiment(experiment_id).tags["team"] == "vision"
