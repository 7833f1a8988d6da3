"""The model registry and logged models from the module-level API, with MLflow's fluent names and signatures:
`search_registered_models`, `search_model_versions`, `search_logged_models`, `get_logged_model`.

They return tracklet's entities (`tracklet.entities.RegisteredModel`, `ModelVersion`, `LoggedModel`: MLflow's
JSON as typed objects); `search_logged_models` gives MLflow's DataFrame unless asked for a list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from tracklet import entities, errors
from tracklet.client import fluent

__all__ = ["get_logged_model", "search_logged_models", "search_model_versions", "search_registered_models"]

# The columns of MLflow's `search_logged_models` DataFrame (its LoggedModel's properties, but model_uri).
LOGGED_MODEL_COLUMNS = [
    "artifact_location", "creation_timestamp", "experiment_id", "last_updated_timestamp", "metrics", "model_id",
    "model_type", "name", "params", "source_run_id", "status", "status_message", "tags",
]  # fmt: skip


def search_registered_models(
    max_results: int | None = None, filter_string: str | None = None, order_by: Sequence[str] | None = None
) -> list[entities.RegisteredModel]:
    """Registered models matching `filter_string` (`"name LIKE 'wine%'"`, `"tags.team = 'nlp'"`), all of
    them unless `max_results`; by name unless `order_by` (`["name DESC"]`, `["last_updated_timestamp DESC"]`).

    Each has `name`, `description`, `tags`, `aliases` and `latest_versions`.
    """
    return fluent._state.client().search_registered_models(max_results, filter_string, order_by)


def search_model_versions(
    max_results: int | None = None, filter_string: str | None = None, order_by: Sequence[str] | None = None
) -> list[entities.ModelVersion]:
    """Model versions matching `filter_string` (`"name = 'wine'"`, `"run_id = '…'"`, `"tags.validated = 'yes'"`),
    all of them unless `max_results`; `order_by` e.g. `["version_number DESC"]`.

    Each has `name`, `version`, `source`, `run_id`, `current_stage`, `status`, `tags` and `aliases`.
    """
    return fluent._state.client().search_model_versions(max_results, filter_string, order_by)


def get_logged_model(model_id: str) -> entities.LoggedModel:
    """The logged model with this id, read with MLflow's names (`model_id`, `name`, `status`, `artifact_location`,
    `source_run_id`, `tags`, `params`, `metrics`) or as MLflow's JSON (`info`, `data`). Raises ResourceDoesNotExist."""
    return fluent._state.client().get_logged_model(model_id)


def search_logged_models(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    datasets: Sequence[Mapping[str, str]] | None = None,
    max_results: int | None = None,
    order_by: Sequence[Mapping[str, Any]] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
) -> Any:
    """Logged models of `experiment_ids` (default: the current experiment) matching `filter_string`
    (`"name = 'model'"`, `"metrics.rmse < 0.8 AND params.alpha = '0.5'"`), all unless `max_results`;
    newest first unless `order_by`, MLflow's list of dicts: `[{"field_name": "metrics.rmse", "ascending": True}]`.

    `output_format="pandas"` (default) gives MLflow's DataFrame, one row a model (columns `model_id`, `name`,
    `status` ("READY" …), `params`, `tags`, `metrics` …); `"list"` gives `LoggedModel` objects.
    `datasets` (MLflow's filter of metrics by dataset) is not offered yet.
    """
    if output_format not in ("pandas", "list"):
        raise errors.InvalidParameterValue(f"output_format must be 'pandas' or 'list', not {output_format!r}")
    if datasets:
        raise errors.NotImplementedByServer("search_logged_models: tracklet does not filter by datasets yet")
    if isinstance(experiment_ids, str):
        raise errors.InvalidParameterValue(f"experiment_ids must be a list, such as [{experiment_ids!r}]")
    fluent.flush()  # as every read: what this process queued is stored first
    client = fluent._state.client()
    ids = [str(e) for e in experiment_ids] if experiment_ids else [fluent._current_experiment_id(client)]
    models = client.search_logged_models(ids, filter_string, max_results, order_by)
    return models if output_format == "list" else _models_to_frame(models)


def _models_to_frame(models: list[entities.LoggedModel]) -> Any:
    import pandas as pd

    rows = [
        {
            "artifact_location": m.artifact_location,
            "creation_timestamp": m.creation_timestamp,
            "experiment_id": m.experiment_id,
            "last_updated_timestamp": m.last_updated_timestamp,
            "metrics": list(m.metrics),
            "model_id": m.model_id,
            "model_type": m.model_type or None,
            "name": m.name,
            "params": m.params,
            "source_run_id": m.source_run_id,
            "status": m.status,  # MLflow's names: "READY", "PENDING", "FAILED"
            "status_message": None,
            "tags": m.tags,
        }
        for m in models
    ]
    return pd.DataFrame(rows, columns=LOGGED_MODEL_COLUMNS)
