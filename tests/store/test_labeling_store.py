"""The labeling stores on both backends, where HTTP is in the way: review queues taking more traces at once
than one statement may bind, and a trace deleted leaving every queue it was in."""

from __future__ import annotations

import uuid

import pytest

from tracklet.errors import ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store.store import Store

MANY = 9000  # rows × 8 columns past PostgreSQL's 65,535 bind parameters in one INSERT


@pytest.fixture
def store(store_uri: str):  # type: ignore[no-untyped-def]
    made = Store(store_uri)
    yield made
    made.close()


def _traces(store: Store, experiment_id: int, count: int) -> list[str]:
    ids = [f"tr-{uuid.uuid4().hex}" for _ in range(count)]
    rows = [
        {"trace_id": i, "experiment_id": experiment_id, "request_time": n, "state": "OK"} for n, i in enumerate(ids)
    ]
    with store.db.write() as conn:
        conn.execute(s.traces.insert(), rows)
    return ids


def test_a_queue_takes_and_gives_back_thousands_of_traces_at_once(store: Store) -> None:
    experiment_id = int(store.create_experiment("many"))
    ids = _traces(store, experiment_id, MANY)
    queue = store.create_review_queue(experiment_id, "all", "custom", None, [], [])
    added = store.add_items_to_review_queue(queue.queue_id, ids, "trace")
    assert [i.item_id for i in added] == ids and {i.status for i in added} == {"pending"}
    store.set_review_queue_item_status(queue.queue_id, ids[0], "complete", "ann")
    again = store.add_items_to_review_queue(queue.queue_id, ids, "trace")  # kept as they are
    assert again[0].status == "complete" and len(again) == MANY
    page, token = store.list_review_queue_items(queue.queue_id, None, 50000, None)
    assert len(page) == MANY and token is None
    with pytest.raises(ResourceDoesNotExist, match="tr-missing"):
        store.add_items_to_review_queue(queue.queue_id, [*ids, "tr-missing"], "trace")
    store.remove_items_from_review_queue(queue.queue_id, ids[1:])
    assert [i.item_id for i in store.list_review_queue_items(queue.queue_id, None, 10, None)[0]] == [ids[0]]


def test_a_deleted_trace_leaves_every_queue_it_was_in(store: Store) -> None:
    experiment_id = int(store.create_experiment("leaves"))
    kept, deleted = _traces(store, experiment_id, 2)
    queues = [store.create_review_queue(experiment_id, f"q{n}", "custom", None, [], []) for n in range(2)]
    for queue in queues:
        store.add_items_to_review_queue(queue.queue_id, [kept, deleted], "trace")
    store.delete_traces(experiment_id, trace_ids=[deleted])
    for queue in queues:
        assert [i.item_id for i in store.list_review_queue_items(queue.queue_id, None, 10, None)[0]] == [kept]
