"""Run and logged-model ids: UUIDs of version 7 in 32 hex digits, in creation order.

Creation order is what keeps a new run's params, tags and metrics at the end of their B-trees."""

from __future__ import annotations

import time
import uuid

from tracklet.store._util import time_ordered_id
from tracklet.store.store import Store


def test_ids_are_version_7_uuids_as_32_hex_digits() -> None:
    new_id = time_ordered_id()
    assert len(new_id) == 32 and new_id == new_id.lower()
    parsed = uuid.UUID(hex=new_id)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert abs(int(new_id[:12], 16) - time.time() * 1000) < 5_000  # the creation time in ms leads


def test_ids_are_unique() -> None:
    assert len({time_ordered_id() for _ in range(100_000)}) == 100_000


def test_runs_created_later_have_larger_ids(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        experiment_id = int(store.create_experiment("ids"))
        ids = []
        for i in range(5):
            ids.append(store.create_run(experiment_id, "u", i, None, []).info.run_id)
            time.sleep(0.002)
        assert ids == sorted(ids)
        model_id = store.create_logged_model(experiment_id, "m", "", ids[0], [], []).info.model_id
        assert model_id.startswith("m-") and uuid.UUID(hex=model_id[2:]).version == 7
    finally:
        store.close()
