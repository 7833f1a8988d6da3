"""MLflow 3's review queues through the official client (`mlflow.genai.review_queues`): custom and user
queues, their users and label schemas, traces added, reviewed, reopened and removed, on both backends."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.genai.label_schemas import InputText, create_label_schema
from mlflow.genai.review_queues import (
    add_items_to_review_queue,
    create_review_queue,
    delete_review_queue,
    get_or_create_user_queue,
    get_review_queue,
    list_review_queue_items,
    list_review_queues,
    remove_items_from_review_queue,
    set_review_queue_item_status,
    update_review_queue,
)

from tests.compat.conftest import error_code, traced


def test_a_custom_queue_holds_traces_for_its_users_to_review(mlflow_client, experiment_id):
    schema = create_label_schema("ok?", type="feedback", input=InputText(), experiment_id=experiment_id)
    queue = create_review_queue(
        " Triage ",
        queue_type="custom",
        users=["Bob ", "ann", "bob"],
        schema_ids=[schema.schema_id],
        experiment_id=experiment_id,
    )
    assert queue.queue_id.startswith("rq-") and queue.experiment_id == experiment_id
    assert (queue.name, queue.queue_type, queue.users, queue.schema_ids) == (
        "Triage",
        "custom",
        ["ann", "bob"],
        [schema.schema_id],
    )
    assert queue.created_by is None  # no --auth: nobody to own it, as in MLflow
    assert get_review_queue(queue.queue_id) == queue
    assert get_review_queue(name="TRIAGE", experiment_id=experiment_id) == queue  # names ignore case

    first, second, third = traced(experiment_id, 3)
    added = add_items_to_review_queue(queue.queue_id, item_ids=[first, f" {second} ", first])
    assert [(i.item_id, i.status, i.item_type) for i in added] == [
        (first, "pending", "trace"),
        (second, "pending", "trace"),
    ]
    done = set_review_queue_item_status(queue.queue_id, item_id=first, status="complete", completed_by=" Ann ")
    assert (done.status, done.completed_by) == ("complete", "ann") and done.completed_time_ms is not None
    # Added again: it keeps its status.
    again = add_items_to_review_queue(queue.queue_id, item_ids=[first, third])
    assert [(i.item_id, i.status) for i in again] == [(first, "complete"), (third, "pending")]
    assert {i.item_id for i in list_review_queue_items(queue.queue_id, status="pending")} == {second, third}
    assert [i.item_id for i in list_review_queue_items(queue.queue_id, status="complete")] == [first]
    page = list_review_queue_items(queue.queue_id, max_results=2)
    rest = list_review_queue_items(queue.queue_id, max_results=2, page_token=page.token)
    assert len(page) == 2 and len(rest) == 1 and rest.token is None
    assert {i.item_id for i in [*page, *rest]} == {first, second, third}

    reopened = set_review_queue_item_status(queue.queue_id, item_id=first, status="pending")
    assert (reopened.status, reopened.completed_by, reopened.completed_time_ms) == ("pending", None, None)
    declined = set_review_queue_item_status(queue.queue_id, item_id=second, status="declined", completed_by="bob")
    assert declined.status == "declined"

    # The questions are fixed once it has items; its users and name are not.
    with pytest.raises(MlflowException, match="locked") as caught:
        update_review_queue(queue.queue_id, schema_ids=[])
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    changed = update_review_queue(queue.queue_id, name="Triage 2", users=["Zed"], new_owner=" Boss ")
    assert (changed.name, changed.users, changed.created_by, changed.schema_ids) == (
        "Triage 2",
        ["zed"],
        "Boss",
        [schema.schema_id],
    )

    remove_items_from_review_queue(queue.queue_id, item_ids=[second, "tr-never-there"])
    assert {i.item_id for i in list_review_queue_items(queue.queue_id)} == {first, third}
    assert [q.queue_id for q in list_review_queues(experiment_id=experiment_id, user="ZED")] == [queue.queue_id]
    assert list_review_queues(experiment_id=experiment_id, user="ann") == []

    delete_review_queue(queue.queue_id)
    with pytest.raises(MlflowException) as caught:
        get_review_queue(queue.queue_id)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    delete_review_queue(queue.queue_id)  # gone already: nothing happens


def test_a_users_own_queue_is_made_once_and_fixed(mlflow_client, experiment_id):
    mine = get_or_create_user_queue(" Carol ", experiment_id=experiment_id)
    assert (mine.name, mine.queue_type, mine.users, mine.created_by) == ("carol", "user", ["carol"], "carol")
    assert get_or_create_user_queue("CAROL", experiment_id=experiment_id).queue_id == mine.queue_id
    with pytest.raises(MlflowException, match="fixed") as caught:
        update_review_queue(mine.queue_id, users=["dan"])
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    create_review_queue("team", queue_type="custom", experiment_id=experiment_id)
    with pytest.raises(MlflowException, match="non-user queue") as caught:
        get_or_create_user_queue("team", experiment_id=experiment_id)
    assert error_code(caught) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match="already exists") as caught:
        create_review_queue("TEAM", queue_type="custom", experiment_id=experiment_id)
    assert error_code(caught) == "RESOURCE_ALREADY_EXISTS"
    listed = list_review_queues(experiment_id=experiment_id)
    assert [q.name for q in listed] == ["team", "carol"]  # newest first
    first = list_review_queues(experiment_id=experiment_id, max_results=1)
    assert [q.name for q in first] == ["team"] and first.token
    assert [q.name for q in list_review_queues(experiment_id=experiment_id, max_results=1, page_token=first.token)] == [
        "carol"
    ]


def test_only_traces_of_the_queues_experiment_can_be_added(mlflow_client, experiment_id):
    other = mlflow_client.create_experiment("queues-elsewhere-" + experiment_id)
    (elsewhere,) = traced(other, 1)
    (here,) = traced(experiment_id, 1)
    queue = create_review_queue("mine", queue_type="custom", experiment_id=experiment_id)
    with pytest.raises(MlflowException, match="do not exist in experiment") as caught:
        add_items_to_review_queue(queue.queue_id, item_ids=[here, elsewhere])
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    assert list_review_queue_items(queue.queue_id) == []
    add_items_to_review_queue(queue.queue_id, item_ids=[here])
    # The public function has no `item_id`; the client's store (what the MLflow UI's calls reach) does.
    store = mlflow_client._tracking_client.store
    assert [q.queue_id for q in store.list_review_queues(experiment_id, item_id=here)] == [queue.queue_id]
    assert store.list_review_queues(experiment_id, item_id=elsewhere) == []
    # A deleted trace leaves the queue.
    mlflow_client.delete_traces(experiment_id, trace_ids=[here])
    assert list_review_queue_items(queue.queue_id) == []
