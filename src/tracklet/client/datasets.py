"""Datasets a run used (`tracklet.log_input`): name, digest, schema, profile and source, described the
way MLflow's clients and UI read them (`dataset_inputs` of a run)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any

import numpy as np
import pandas as pd

from tracklet import entities
from tracklet.models.schema import infer_schema, to_frame

CONTEXT_TAG = "mlflow.data.context"  # MLflow's tag for what a run used a dataset for ("training", "eval" …)
_DIGEST_LENGTH = 8  # as MLflow's: a short fingerprint shown beside the name


def _frame_and_tensor(data: Any) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    if isinstance(data, np.ndarray) and data.ndim >= 2:
        return None, data
    return to_frame(data), None


def digest_of(data: Any) -> str:
    """A fingerprint of the data's content (values and column names): equal data, equal digest."""
    frame, tensor = _frame_and_tensor(data)
    h = hashlib.sha256()
    if tensor is not None:
        h.update(f"{tensor.dtype}{tensor.shape}".encode())
        h.update(np.ascontiguousarray(tensor).tobytes())
    else:
        assert frame is not None
        h.update(json.dumps([str(c) for c in frame.columns]).encode())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:_DIGEST_LENGTH]


def _schema_json(data: Any) -> str:
    schema = infer_schema(data)
    if schema.tensor is not None:
        return json.dumps({"mlflow_tensorspec": {"features": json.dumps([schema.tensor.to_dict()]), "targets": None}})
    return json.dumps({"mlflow_colspec": [c.to_dict() for c in schema.columns]})


def _profile_json(data: Any) -> str:
    frame, tensor = _frame_and_tensor(data)
    if tensor is not None:
        return json.dumps({"features_shape": list(tensor.shape), "features_size": int(tensor.size)})
    assert frame is not None
    return json.dumps({"num_rows": len(frame), "num_elements": int(frame.size)})


def _source(source: str | os.PathLike[str] | None) -> tuple[str, str]:
    """(source_type, source JSON): where the data came from, or the script that logged it."""
    if source is None:
        return "code", json.dumps({"tags": {"mlflow.source.name": os.path.abspath(sys.argv[0]) if sys.argv[0] else ""}})
    text = os.fspath(source)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("http", "https"):
        return "http", json.dumps({"url": text})
    if scheme:
        return scheme, json.dumps({"uri": text})
    return "local", json.dumps({"uri": os.path.abspath(text)})


def describe(data: Any, name: str | None = None, source: str | os.PathLike[str] | None = None) -> entities.Dataset:
    """A dataset entity for a DataFrame, a dict of columns, a list of records or a numpy array."""
    source_type, source_json = _source(source)
    return entities.Dataset(
        name=name or "dataset",
        digest=digest_of(data),
        source_type=source_type,
        source=source_json,
        schema=_schema_json(data),
        profile=_profile_json(data),
    )
