"""Models: package a callable with its objects (`crate`), save or log it in MLflow's model format,
load it back anywhere, and serve it over HTTP."""

from tracklet.models.crate import Crate, CrateError, crate
from tracklet.models.flavor import save_model
from tracklet.models.loading import LoadedModel, RequirementsMismatchWarning, load_model
from tracklet.models.logging import ModelInfo, log_model, register_model
from tracklet.models.schema import SchemaError

__all__ = [
    "Crate",
    "CrateError",
    "LoadedModel",
    "ModelInfo",
    "RequirementsMismatchWarning",
    "SchemaError",
    "crate",
    "load_model",
    "log_model",
    "register_model",
    "save_model",
]
