"""`tracklet.log_input`: the datasets a run used, read back by tracklet and by the official MLflow client."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

import tracklet

WINE = Path(__file__).resolve().parents[2] / "examples" / "data" / "wine-quality.csv"  # the tutorial's data


@pytest.fixture
def wine() -> pd.DataFrame:
    return pd.read_csv(WINE, sep=None, engine="python")


def test_a_dataframe_is_described_by_name_digest_schema_profile_and_source(tracking_uri: str, wine) -> None:
    with tracklet.start_run() as run:
        dataset = tracklet.log_input(wine, name="wine", context="training", source=WINE)
    inputs = tracklet.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    stored = inputs[0].dataset
    assert (stored.name, stored.digest, stored.source_type) == ("wine", dataset.digest, "local")
    assert json.loads(stored.source) == {"uri": str(WINE)}
    assert json.loads(stored.profile) == {"num_rows": len(wine), "num_elements": int(wine.size)}
    columns = json.loads(stored.schema)["mlflow_colspec"]
    assert [c["name"] for c in columns] == list(wine.columns)
    assert {c["type"] for c in columns} <= {"double", "long"}
    assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "training")]


def test_the_digest_follows_the_content(tracking_uri: str, wine) -> None:
    with tracklet.start_run() as run:
        first = tracklet.log_input(wine, name="wine")
        again = tracklet.log_input(wine.copy(), name="wine")  # same content: the same dataset, kept once
        changed = wine.copy()
        changed.iloc[0, 0] += 1
        other = tracklet.log_input(changed, name="wine")
        array = tracklet.log_input(np.arange(12.0).reshape(4, 3), name="features", context="eval")
    assert first.digest == again.digest != other.digest
    inputs = tracklet.get_run(run.info.run_id).inputs.dataset_inputs
    assert sorted((i.dataset.name, i.dataset.digest) for i in inputs) == sorted(
        [("wine", first.digest), ("wine", other.digest), ("features", array.digest)]
    )
    assert json.loads(array.profile) == {"features_shape": [4, 3], "features_size": 12}
    assert json.loads(array.schema)["mlflow_tensorspec"]["features"]
    assert array.source_type == "code"


def test_the_official_client_reads_the_logged_dataset(remote: str, wine) -> None:
    with tracklet.start_run() as run:
        dataset = tracklet.log_input(wine, name="wine", context="training", source="https://example.org/wine.csv")
    mlflow.set_tracking_uri(remote)
    (seen,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert (seen.dataset.name, seen.dataset.digest, seen.dataset.source_type) == ("wine", dataset.digest, "http")
    assert json.loads(seen.dataset.source) == {"url": "https://example.org/wine.csv"}
    assert {t.key: t.value for t in seen.tags} == {"mlflow.data.context": "training"}


def test_a_dataset_with_nothing_to_describe_is_refused_before_sending(tracking_uri: str) -> None:
    with tracklet.start_run() as run:
        with pytest.raises(tracklet.SchemaError, match="expected a table of rows"):
            tracklet.log_input(5, name="a number")
    assert tracklet.get_run(run.info.run_id).inputs.dataset_inputs == []
