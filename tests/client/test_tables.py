"""`tracklet.log_table` and `load_table`: JSON tables in MLflow's layout, read back by tracklet and by MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import tracklet
from tracklet import errors

QA = {"inputs": ["What is MLflow?", "What is tracklet?"], "outputs": ["A tracker", "Another"], "toxicity": [0.0, 0.5]}


def _stored(run_id: str, path: str, tmp_path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(Path(tracklet.download_artifacts(run_id, path, str(tmp_path))).read_text())
    return loaded


def test_log_table_writes_mlflows_split_json_and_lists_it_in_the_run(tracking_uri: str, tmp_path: Path) -> None:
    with tracklet.start_run() as run:
        tracklet.log_table(QA, "eval/qa.json")
    assert _stored(run.info.run_id, "eval/qa.json", tmp_path) == {
        "columns": ["inputs", "outputs", "toxicity"],
        "data": [["What is MLflow?", "A tracker", 0.0], ["What is tracklet?", "Another", 0.5]],
    }
    tag = tracklet.get_run(run.info.run_id).data.tags["mlflow.loggedArtifacts"]
    assert json.loads(tag) == [{"path": "eval/qa.json", "type": "table"}]


def test_log_table_appends_rows_and_lists_each_table_once(tracking_uri: str, tmp_path: Path) -> None:
    with tracklet.start_run() as run:
        tracklet.log_table(pd.DataFrame(QA), "qa.json")
        tracklet.log_table({"inputs": "Why?", "outputs": "Because", "toxicity": 1.0}, "qa.json")  # scalars: one row
        tracklet.log_table({"step": [1, 2]}, "other.json")
    stored = _stored(run.info.run_id, "qa.json", tmp_path)
    assert stored["data"] == [
        ["What is MLflow?", "A tracker", 0.0],
        ["What is tracklet?", "Another", 0.5],
        ["Why?", "Because", 1.0],
    ]
    tag = json.loads(tracklet.get_run(run.info.run_id).data.tags["mlflow.loggedArtifacts"])
    assert tag == [{"path": "qa.json", "type": "table"}, {"path": "other.json", "type": "table"}]


def test_log_table_to_another_run_by_id(tracking_uri: str, tmp_path: Path) -> None:
    with tracklet.start_run() as first:
        pass
    with tracklet.start_run():
        tracklet.log_table({"a": [1]}, "t.json", run_id=first.info.run_id)
    assert _stored(first.info.run_id, "t.json", tmp_path) == {"columns": ["a"], "data": [[1]]}


def test_load_table_joins_the_runs_that_logged_it_with_extra_columns(tracking_uri: str) -> None:
    ids = []
    for alpha, rows in ((0.1, {"x": [1, 2]}), (0.5, {"x": [3]})):
        with tracklet.start_run() as run:
            tracklet.log_param("alpha", alpha)
            tracklet.log_table(rows, "preds.json")
        ids.append(run.info.run_id)
    with tracklet.start_run():
        tracklet.log_table({"x": [99]}, "other.json")  # another table: not loaded

    table = tracklet.load_table("preds.json", extra_columns=["run_id", "params.alpha"])
    assert sorted(zip(table["x"], table["run_id"], table["params.alpha"], strict=True)) == [
        (1, ids[0], "0.1"),
        (2, ids[0], "0.1"),
        (3, ids[1], "0.5"),
    ]
    only = tracklet.load_table("preds.json", run_ids=[ids[1]])
    assert list(only.columns) == ["x"] and only["x"].tolist() == [3]
    with pytest.raises(errors.ResourceDoesNotExist, match="missing.json"):
        tracklet.load_table("missing.json")
    with pytest.raises(errors.InvalidParameterValue, match="extra column 'nope'"):
        tracklet.load_table("preds.json", extra_columns=["nope"])


def test_log_table_refuses_what_it_cannot_store(tracking_uri: str) -> None:
    with tracklet.start_run():
        with pytest.raises(errors.InvalidParameterValue, match=r"must end in \.json"):
            tracklet.log_table(QA, "qa.csv")
        with pytest.raises(errors.InvalidParameterValue, match="forbidden character"):
            tracklet.log_table(QA, "q,a.json")
        with pytest.raises(errors.InvalidParameterValue, match="relative to the run"):
            tracklet.log_table(QA, "../qa.json")
        with pytest.raises(errors.InvalidParameterValue, match="DataFrame or a dict"):
            tracklet.log_table([1, 2, 3], "qa.json")


def test_mlflow_and_tracklet_read_each_others_tables(remote: str) -> None:
    import mlflow

    with tracklet.start_run() as ours:
        tracklet.log_table(QA, "qa.json")
    mlflow.set_tracking_uri(remote)
    client = mlflow.MlflowClient(remote)
    experiment_id = ours.info.experiment_id
    theirs = client.load_table(experiment_id, "qa.json", extra_columns=["run_id"])
    assert theirs["inputs"].tolist() == QA["inputs"] and set(theirs["run_id"]) == {ours.info.run_id}

    mlflow_run = client.create_run(experiment_id)
    client.log_table(mlflow_run.info.run_id, {"x": [1, 2]}, "mlflow.json")
    client.set_terminated(mlflow_run.info.run_id)
    assert tracklet.load_table("mlflow.json")["x"].tolist() == [1, 2]


def test_log_table_refuses_images_in_cells(tracking_uri: str) -> None:
    from PIL import Image

    with tracklet.start_run():
        with pytest.raises(errors.InvalidParameterValue, match="column 'picture' holds images"):
            tracklet.log_table({"picture": [Image.new("RGB", (2, 2))], "label": ["cat"]}, "pictures.json")
