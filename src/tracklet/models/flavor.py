"""The model folder, in MLflow's format, written and read.

    <folder>/
      MLmodel                      flavors `python_function` (loader tracklet.models.loading) and `tracklet`
      crate.pkl                    the crate, pickled with cloudpickle
      requirements.txt             pinned versions of the packages the crate comes from
      python_env.yaml              the Python version and those requirements, for virtualenv restoration
      input_example.json           when an example was given (pandas "split" form, or {"inputs": ...})
      serving_input_example.json   the same, as a request body for the scoring server

`mlflow.pyfunc.load_model` reads MLmodel, imports `tracklet.models.loading` and calls its
`_load_pyfunc(folder)`.
"""

from __future__ import annotations

import datetime
import json
import math
import types
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import yaml

from tracklet._version import __version__
from tracklet.errors import InvalidParameterValue
from tracklet.models.crate import Crate, crate
from tracklet.models.schema import Signature, enforce, infer_schema, to_frame

__all__ = ["FLAVOR_NAME", "LOADER_MODULE", "ModelFolder", "as_crate", "read_model_folder", "save_model"]

FLAVOR_NAME = "tracklet"
LOADER_MODULE = "tracklet.models.loading"
CRATE_FILE = "crate.pkl"
MLMODEL_FILE = "MLmodel"


def _call_predict(x: Any, model: Any) -> Any:
    return model.predict(x)


def _call_object(x: Any, function: Any) -> Any:
    return function(x)


def as_crate(model: Any) -> Crate:
    """A crate for `model`: a crate as it is, an object with `predict` (a scikit-learn estimator)
    through its predict, a plain function as its own crate, any other callable as an object."""
    if isinstance(model, Crate):
        return model
    if not isinstance(model, (types.FunctionType, types.MethodType)) and callable(getattr(model, "predict", None)):
        return crate(_call_predict, model=model)
    if isinstance(model, types.FunctionType):
        return crate(model)
    if callable(model):
        return crate(_call_object, function=model)
    raise InvalidParameterValue(
        f"expected a crate, a function or an estimator with a predict method, got {type(model).__name__}"
    )


def save_model(
    model: Any,
    path: str | Path,
    input_example: Any = None,
    *,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write `model` (a crate, a callable, or an estimator with `predict`) as a model folder at `path`.

    With `input_example`, the input signature is inferred from it and the output signature from
    what the model returns for it. `metadata` adds top-level MLmodel fields (run_id, model_id ...).
    """
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidParameterValue(f"model folder {folder} already exists and is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    packed = as_crate(model)
    payload = packed.dumps()
    (folder / CRATE_FILE).write_bytes(payload)

    signature = _infer_signature(packed, input_example) if input_example is not None else None
    mlmodel: dict[str, Any] = dict(metadata or {})
    mlmodel["flavors"] = {
        "python_function": {
            "env": {"virtualenv": "python_env.yaml"},
            "loader_module": LOADER_MODULE,
            "python_version": packed.python_version,
        },
        FLAVOR_NAME: {
            "crate": CRATE_FILE,
            "function": getattr(packed.fn, "__qualname__", type(packed.fn).__name__),
            "objects": {k: _qualified_type(v) for k, v in packed.objects.items()},
            "python_version": packed.python_version,
            "requirements": packed.requirements,
            "size_bytes": len(payload),
            "tracklet_version": __version__,
        },
    }
    mlmodel["model_size_bytes"] = len(payload)
    mlmodel["model_uuid"] = uuid.uuid4().hex
    mlmodel["utc_time_created"] = str(datetime.datetime.now(datetime.UTC).replace(tzinfo=None))
    if signature is not None:
        mlmodel["signature"] = signature.to_dict()
        mlmodel["saved_input_example_info"] = _write_example(folder, input_example)

    (folder / MLMODEL_FILE).write_text(yaml.safe_dump(mlmodel, sort_keys=True))
    requirements = "".join(f"{name}=={version}\n" for name, version in packed.requirements.items())
    (folder / "requirements.txt").write_text(requirements)
    python_env = {
        "python": packed.python_version,
        "build_dependencies": ["pip", "setuptools", "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    (folder / "python_env.yaml").write_text(yaml.safe_dump(python_env, sort_keys=False))
    return folder


def _qualified_type(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _infer_signature(packed: Crate, example: Any) -> Signature:
    inputs = infer_schema(example if not isinstance(example, list) or not example else to_frame(example))
    try:
        output = packed(enforce(example, inputs))
    except Exception:  # noqa: BLE001 (the example need not be runnable to describe the inputs)
        return Signature(inputs, None)
    try:
        return Signature(inputs, infer_schema(output))
    except (ValueError, TypeError, InvalidParameterValue):
        return Signature(inputs, None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (np.generic,)):
        return _jsonable(value.item())
    if isinstance(value, (pd.Timestamp, datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    return value


def _write_example(folder: Path, example: Any) -> dict[str, Any]:
    if isinstance(example, np.ndarray) and example.ndim >= 2:
        body: dict[str, Any] = {"inputs": example.tolist()}
        info = {"type": "ndarray", "format": "tf-serving"}
        serving = body
    else:
        frame = to_frame(example if not isinstance(example, np.ndarray) else example.reshape(-1, 1))
        body = {
            "columns": [str(c) for c in frame.columns],
            "data": [[_jsonable(v) for v in row] for row in frame.itertuples(index=False, name=None)],
        }
        info = {"type": "dataframe", "pandas_orient": "split"}
        serving = {"dataframe_split": body}
    (folder / "input_example.json").write_text(json.dumps(body))
    (folder / "serving_input_example.json").write_text(json.dumps(serving, indent=2))
    return {"artifact_path": "input_example.json", "serving_input_path": "serving_input_example.json", **info}


@dataclass(frozen=True)
class ModelFolder:
    """A model folder as read from disk: its MLmodel content and where things are."""

    path: Path
    mlmodel: dict[str, Any]

    @property
    def flavors(self) -> dict[str, Any]:
        return dict(self.mlmodel.get("flavors") or {})

    @property
    def signature(self) -> Signature | None:
        return Signature.from_dict(self.mlmodel.get("signature"))

    @property
    def is_tracklet(self) -> bool:
        return FLAVOR_NAME in self.flavors

    @property
    def requirements(self) -> dict[str, str]:
        """Pinned requirements: the tracklet flavor's, else requirements.txt's `name==version` lines."""
        if self.is_tracklet:
            return dict(self.flavors[FLAVOR_NAME].get("requirements") or {})
        pins: dict[str, str] = {}
        req = self.path / "requirements.txt"
        if req.exists():
            for line in req.read_text().splitlines():
                name, sep, version = line.strip().partition("==")
                if sep and not name.startswith(("-", "#")):
                    pins[name.strip()] = version.strip()
        return pins

    @property
    def python_version(self) -> str | None:
        conf = self.flavors.get(FLAVOR_NAME) or self.flavors.get("python_function") or {}
        version = conf.get("python_version")
        return str(version) if version is not None else None

    def load_crate(self) -> Crate:
        conf = self.flavors[FLAVOR_NAME]
        with open(self.path / conf.get("crate", CRATE_FILE), "rb") as f:
            loaded = cloudpickle.load(f)
        if not isinstance(loaded, Crate):
            raise InvalidParameterValue(f"{self.path / CRATE_FILE} does not hold a crate")
        return loaded


def read_model_folder(path: str | Path) -> ModelFolder:
    """Read a model folder's MLmodel; InvalidParameterValue when `path` holds none."""
    folder = Path(path)
    mlmodel_path = folder / MLMODEL_FILE
    if not mlmodel_path.is_file():
        raise InvalidParameterValue(f"no MLmodel file in {folder}: not a model folder")
    mlmodel = yaml.safe_load(mlmodel_path.read_text()) or {}
    return ModelFolder(folder, mlmodel)
