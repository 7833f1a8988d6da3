"""Loading a model folder into something callable, and the `_load_pyfunc` hook MLflow calls.

`load_model(uri)` takes a local folder, `file://` URI, `runs:/<run_id>/<name>` or
`models:/<model_id>`. A tracklet model needs only tracklet and its requirements; a model saved by
MLflow's own flavors (sklearn, pyfunc ...) is loaded through `mlflow.pyfunc`, which must then be
installed.
"""

from __future__ import annotations

import importlib.metadata
import platform
import tempfile
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from tracklet.errors import TrackletError
from tracklet.models.flavor import ModelFolder, read_model_folder
from tracklet.models.schema import Signature, enforce, to_frame

__all__ = ["LoadedModel", "RequirementsMismatchWarning", "load_model", "requirement_differences"]


class RequirementsMismatchWarning(UserWarning):
    """The running environment differs from the one the model was saved in."""


class MlflowNotInstalled(TrackletError):
    """A model saved by MLflow's own flavors needs mlflow to load."""


class LoadedModel:
    """A loaded model. Calling it calls the crate with the input as given; `predict()` first turns a
    DataFrame, numpy array, dict of columns or list of records into what the signature describes."""

    def __init__(self, folder: ModelFolder, impl: Any, *, native: bool) -> None:
        self.folder = folder
        self._impl = impl
        self._native = native  # a tracklet crate, rather than an MLflow pyfunc model

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def signature(self) -> Signature | None:
        return self.folder.signature

    @property
    def metadata(self) -> dict[str, Any]:
        """The MLmodel file's content."""
        return self.folder.mlmodel

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self._native:
            return self._impl(x, *args, **kwargs)
        return self._impl.predict(x, *args, **kwargs)

    def prepare(self, data: Any) -> Any:
        """`data` checked against the input signature and converted (SchemaError when it does not fit)."""
        signature = self.signature
        if signature is None or signature.inputs is None:
            if isinstance(data, list) and data and isinstance(data[0], dict):
                return to_frame(data)
            if isinstance(data, dict):
                return to_frame(data)
            return data
        return enforce(data, signature.inputs)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predictions for a DataFrame, numpy array, dict of columns or list of records."""
        prepared = self.prepare(data)
        if self._native:
            return self._impl(prepared)
        return self._impl.predict(prepared, params=params) if params else self._impl.predict(prepared)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.path}>"


def load_model(uri: str | Path, *, client: Any = None, dst_path: str | Path | None = None) -> LoadedModel:
    """Load the model at `uri`: a local folder, `file://...`, `runs:/<run_id>/<name>` or `models:/<model_id>`.

    Remote models are downloaded first (to `dst_path`, or a temporary folder) through `client`, by
    default one for the tracking URI in TRACKLET_TRACKING_URI or MLFLOW_TRACKING_URI. Warns with
    RequirementsMismatchWarning when installed versions differ from the model's requirements.
    """
    text = str(uri)
    if text.startswith(("runs:/", "models:/")):
        from tracklet.models.logging import download_model

        target = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="tracklet-model-"))
        return load_local(download_model(text, target, client=client))
    if text.startswith("file:"):
        text = unquote(urlparse(text).path)
    return load_local(Path(text))


def load_local(path: Path) -> LoadedModel:
    folder = read_model_folder(path)
    differences = requirement_differences(folder)
    if differences:
        warnings.warn(
            f"the model at {path} was saved in a different environment: {'; '.join(differences)}",
            RequirementsMismatchWarning,
            stacklevel=3,
        )
    if folder.is_tracklet:
        return LoadedModel(folder, folder.load_crate(), native=True)
    if "python_function" not in folder.flavors:
        raise TrackletError(f"the model at {path} has no python_function flavor (flavors: {', '.join(folder.flavors)})")
    loader = folder.flavors["python_function"].get("loader_module", "?")
    try:
        import mlflow.pyfunc
    except ImportError:
        raise MlflowNotInstalled(
            f"the model at {path} was saved by MLflow (loader {loader}); loading it needs mlflow: pip install mlflow"
        ) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracklet already warned about requirements, once
        impl = mlflow.pyfunc.load_model(str(path), suppress_warnings=True)
    return LoadedModel(folder, impl, native=False)


def requirement_differences(folder: ModelFolder) -> list[str]:
    """Human-readable differences between the model's pinned requirements and this environment."""
    from tracklet import __version__ as tracklet_version

    out: list[str] = []
    saved_python = folder.python_version
    if saved_python and saved_python.split(".")[:2] != platform.python_version().split(".")[:2]:
        out.append(f"python {saved_python} (running {platform.python_version()})")
    for name, wanted in folder.requirements.items():
        if name == "tracklet":
            installed: str | None = tracklet_version
        else:
            try:
                installed = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                installed = None
        if installed is None:
            out.append(f"{name}=={wanted} (not installed)")
        elif installed != wanted:
            out.append(f"{name}=={wanted} (installed {installed})")
    return out


def _load_pyfunc(path: str, model_config: Any = None) -> LoadedModel:
    """Called by `mlflow.pyfunc.load_model` with the model folder (the MLmodel has no `data` key)."""
    folder = read_model_folder(path)
    return LoadedModel(folder, folder.load_crate(), native=True)


def predictions_to_json(predictions: Any) -> Any:
    """Predictions as plain JSON values (numpy arrays and pandas objects turned into lists and records)."""
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    if isinstance(predictions, pd.Series):
        return predictions.tolist()
    if isinstance(predictions, np.ndarray):
        return predictions.tolist()
    if isinstance(predictions, np.generic):
        return predictions.item()
    if isinstance(predictions, (list, tuple)):
        return [predictions_to_json(p) for p in predictions]
    if isinstance(predictions, dict):
        return {str(k): predictions_to_json(v) for k, v in predictions.items()}
    return predictions
