"""The store's import methods (`tracklet import-mlflow`): runs under their own ids, written run row last."""

from __future__ import annotations

import math

from tracklet.entities import Dataset, DatasetInput, KeyValue, RunInfo
from tracklet.store.store import Store


def _info(run_id: str, stage: str = "active") -> RunInfo:
    return RunInfo(
        run_id=run_id, run_uuid=run_id, experiment_id="0", run_name="copied", user_id="ada", status="FAILED",
        start_time=1000, end_time=2000, artifact_uri="", lifecycle_stage=stage,
    )  # fmt: skip


def test_an_imported_run_keeps_its_id_times_and_stage_and_becomes_visible_with_its_row(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        run_id = "0123456789abcdef0123456789abcdef"
        store.import_points(run_id, ["loss"] * 3, [0.5, math.nan, 0.25], [10, 11, 12], [0, 1, 2])
        assert not store.run_exists(run_id)
        assert store.search_runs([0], "metrics.loss < 1", "ALL", 10, None, None)[0] == []
        dataset = DatasetInput(dataset=Dataset(name="d", digest="x1", source_type="local", source="{}"))
        params, tags = [KeyValue(key="lr", value="0.1")], [KeyValue(key="mlflow.user", value="ada")]
        uri = store.import_run(_info(run_id, "deleted"), 0, params, tags, [dataset], deleted_time=2000)
        assert uri == store.artifact_uri_for(0, run_id) == f"mlflow-artifacts:/0/{run_id}/artifacts"
        run = store.get_run(run_id)
        assert (run.info.status, run.info.start_time, run.info.end_time) == ("FAILED", 1000, 2000)
        assert run.info.lifecycle_stage == "deleted" and run.info.run_name == "copied"
        assert {t.key: t.value for t in run.data.tags} == {"mlflow.user": "ada", "mlflow.runName": "copied"}
        assert [(m.key, m.value, m.step) for m in run.data.metrics] == [("loss", 0.25, 2)]
        assert [d.dataset.digest for d in run.inputs.dataset_inputs] == ["x1"]
        assert [r.info.run_id for r in store.search_runs([0], "metrics.loss < 1", "ALL", 10, None, None)[0]] == [run_id]
        assert store.import_run(_info(run_id), 0, [], [], []) is None  # already there: nothing written
        assert store.get_run(run_id).info.lifecycle_stage == "deleted"
    finally:
        store.close()


def test_discarding_a_partial_run_removes_its_histories_but_never_a_stored_runs(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        stored = store.create_run(0, "ada", 1000, "kept", []).info.run_id
        store.log_points(stored, ["loss"] * 2, [1.0, 2.0], [1, 2], [0, 1])
        store.discard_partial_run(stored)
        assert len(store.get_metric_history(stored, "loss", None, None)[0]) == 2

        partial = "fedcba9876543210fedcba9876543210"
        store.import_points(partial, ["loss"] * 2000, [float(i) for i in range(2000)], list(range(2000)), [0] * 2000)
        store.discard_partial_run(partial)
        store.import_points(partial, ["loss"] * 2, [7.0, 8.0], [1, 2], [0, 1])
        store.import_run(_info(partial), 0, [], [], [])
        history, _ = store.get_metric_history(partial, "loss", None, None)
        assert [m.value for m in history] == [7.0, 8.0]  # nothing of the discarded copy is left
        assert len(store.get_metric_history(stored, "loss", None, None)[0]) == 2
    finally:
        store.close()
