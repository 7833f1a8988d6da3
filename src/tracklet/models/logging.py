"""Logging a model to a run, and finding a logged model again by `runs:/` or `models:/` URI.

`log_model` follows the calls MLflow 3's own `log_model` makes (docs/mlflow-wire.md a.2): the run
is read, a logged model is created with the run's params and linked as an output of the run, the
model folder is uploaded under the logged model's `artifact_uri`, and the model is finalized
(`LOGGED_MODEL_READY`, or `LOGGED_MODEL_UPLOAD_FAILED` when the upload fails).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from tracklet.client.fluent import flush
from tracklet.entities import LoggedModel, ModelVersion
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.models.flavor import read_model_folder, save_model
from tracklet.store.model_sources import parse_model_uri

__all__ = ["ModelInfo", "default_client", "download_model", "log_model", "register_model"]


@dataclass(frozen=True)
class ModelInfo:
    """What `log_model` logged. `model_uri` (`models:/<model_id>`) loads it back."""

    model_id: str
    name: str
    run_id: str
    experiment_id: str
    artifact_uri: str
    size_bytes: int
    requirements: dict[str, str] = field(default_factory=dict)
    signature: dict[str, Any] | None = None
    registered_model_version: int | None = None  # with `log_model(registered_model_name=...)`

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    @property
    def run_model_uri(self) -> str:
        return f"runs:/{self.run_id}/{self.name}"


def default_client() -> Any:
    """A client for the fluent API's tracking URI (TRACKLET_TRACKING_URI, MLFLOW_TRACKING_URI or the local store)."""
    from tracklet.client.client import TrackletClient
    from tracklet.client.fluent import get_tracking_uri

    return TrackletClient(get_tracking_uri())


def _as_json(obj: Any) -> dict[str, Any]:
    """The client's answer as MLflow's JSON: dicts pass through, entities (msgspec Structs) are converted."""
    return obj if isinstance(obj, dict) else msgspec.to_builtins(obj)


def _params_of(run: dict[str, Any]) -> dict[str, str]:
    """The run's params: MLflow's JSON has a list of {key, value}, TrackletClient's Run a dict."""
    params = (run.get("data") or {}).get("params") or []
    if isinstance(params, dict):
        return {str(k): str(v) for k, v in params.items()}
    return {p["key"]: p.get("value", "") for p in params}


def _active_run_id() -> str | None:
    import tracklet

    active_run = getattr(tracklet, "active_run", None)  # the fluent API, once it exists
    run = active_run() if callable(active_run) else None
    if run is not None:
        info = run["info"] if isinstance(run, dict) else run.info
        return str(info["run_id"] if isinstance(info, dict) else info.run_id)
    return os.environ.get("TRACKLET_RUN_ID") or os.environ.get("MLFLOW_RUN_ID")


def log_model(
    model: Any,
    name: str,
    input_example: Any = None,
    *,
    client: Any = None,
    run_id: str | None = None,
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Log `model` (a crate, a plain callable, or an estimator whose `predict` becomes the crate) as a
    model named `name` of the run `run_id` (default: the active run), in MLflow's model format.

    With `input_example` the signature is inferred and the example stored with the model. With
    `registered_model_name` the model also becomes a new version of that registered model.
    """
    if not name or "/" in name:
        raise InvalidParameterValue(f"model name must be non-empty and without '/': {name!r}")
    client = client if client is not None else default_client()
    run_id = run_id or _active_run_id()
    if not run_id:
        raise InvalidParameterValue("log_model needs a run: start one, or pass run_id=")
    run = _as_json(client.get_run(run_id))
    experiment_id = str(run["info"]["experiment_id"])
    params = _params_of(run)
    created = client.create_logged_model(experiment_id, name, source_run_id=run_id, params=params or None)
    model_id = created.model_id
    client.log_outputs(run_id, [model_id])
    if hasattr(client, "log_model_metrics"):
        flush()  # metrics still queued by the fluent API belong to the scores the model was logged with
        client.log_model_metrics(run_id, model_id)
    artifact_uri = created.artifact_location
    with tempfile.TemporaryDirectory(prefix="tracklet-model-") as tmp:
        folder = save_model(
            model,
            Path(tmp) / name,
            input_example,
            metadata={"artifact_path": name, "model_id": model_id, "run_id": run_id},
        )
        saved = read_model_folder(folder)
        try:
            client.upload_artifacts_to(artifact_uri, folder)
        except BaseException:
            client.finalize_logged_model(model_id, status="LOGGED_MODEL_UPLOAD_FAILED")
            raise
    client.finalize_logged_model(model_id, status="LOGGED_MODEL_READY")
    registered = None
    if registered_model_name:
        version = client.create_model_version(registered_model_name, f"models:/{model_id}", model_id=model_id)
        registered = int(version.version)
    tracklet_conf = saved.flavors["tracklet"]
    return ModelInfo(
        model_id=model_id,
        name=name,
        run_id=run_id,
        experiment_id=experiment_id,
        artifact_uri=artifact_uri,
        size_bytes=int(tracklet_conf["size_bytes"]),
        requirements=dict(tracklet_conf["requirements"]),
        signature=saved.mlmodel.get("signature"),
        registered_model_version=registered,
    )


def register_model(
    model_uri: str, name: str, *, tags: dict[str, Any] | None = None, client: Any = None
) -> ModelVersion:
    """Register the model at `model_uri` (`models:/<model_id>`, as `log_model` returns,
    `runs:/<run_id>/<name>`, or another registered version: `models:/<name>/<version|stage|latest>`,
    `models:/<name>@<alias>`) as a new version of the registered model `name`, created if needed.
    Returns the new `ModelVersion` (`name`, `version`, `source`, `status`, ...), as MLflow's
    `register_model` does; it loads back with `load_model(f"models:/{name}/{version}")`."""
    client = client if client is not None else default_client()
    if model_uri.startswith("models:/"):
        # A logged model goes with its id; a registered version's source the server resolves itself.
        model_id = parse_model_uri(model_uri).model_id
        return client.create_model_version(name, model_uri, model_id=model_id, tags=tags)  # type: ignore[no-any-return]
    if not model_uri.startswith("runs:/"):
        raise InvalidParameterValue(
            f"expected models:/<model_id>, models:/<name>/<version> or runs:/<run_id>/<name>, got {model_uri!r}"
        )
    run_id, path = _run_path(model_uri)
    run = _as_json(client.get_run(run_id))
    logged = _run_logged_model(client, run, path.partition("/")[0])
    if logged is not None and not path.partition("/")[2]:  # MLflow 3: the run's logged model of that name
        model_id = logged.model_id
        return client.create_model_version(name, f"models:/{model_id}", model_id=model_id, tags=tags)  # type: ignore[no-any-return]
    # A model logged as plain run artifacts (MLflow 2, the R client): its files in the run's artifacts.
    source = f"{str(run['info']['artifact_uri']).rstrip('/')}/{path}"
    return client.create_model_version(name, source, run_id=run_id, tags=tags)  # type: ignore[no-any-return]


def download_model(uri: str, dst: str | Path, *, client: Any = None) -> Path:
    """Download the model folder behind a `runs:/<run_id>/<name>`, `models:/<model_id>` or registry URI
    (`models:/<name>/<version>`, `/<stage>`, `/latest`, `models:/<name>@<alias>`) into `dst`."""
    client = client if client is not None else default_client()
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    if uri.startswith("models:/"):
        try:
            ref = parse_model_uri(uri)
        except InvalidParameterValue:
            raise InvalidParameterValue(
                f"expected models:/<model_id>, models:/<name>/<version|stage|latest> or models:/<name>@<alias>, "
                f"got {uri!r}"
            ) from None
        if ref.model_id is not None:
            model = client.get_logged_model(ref.model_id)
            return Path(client.download_artifacts_from(model.artifact_location, "", dst))
        assert ref.name is not None
        version = _registered_version(client, uri, ref.name, ref.version, ref.stage, ref.alias)
        return Path(client.download_artifacts_from(client.get_model_version_download_uri(ref.name, version), "", dst))
    if uri.startswith("runs:/"):
        return _download_run_model(client, *_run_path(uri), dst)
    raise InvalidParameterValue(f"not a runs:/ or models:/ URI: {uri!r}")


def _registered_version(
    client: Any, uri: str, name: str, version: str | None, stage: str | None, alias: str | None
) -> str:
    """The version number a registry URI names, as MLflow resolves it: the number itself, the alias's
    version, the newest version in the stage, or (`latest`) the newest version of all."""
    if version is not None:
        return version
    if alias is not None:
        return str(client.get_model_version_by_alias(name, alias).version)
    candidates = client.get_latest_versions(name, [stage] if stage else [])
    if not candidates:
        raise ResourceDoesNotExist(f"{uri}: registered model {name!r} has no version in stage {stage!r}")
    return str(max(int(v.version) for v in candidates))


def _run_path(uri: str) -> tuple[str, str]:
    """(run id, path) of a `runs:/<run_id>/<path>` URI."""
    run_id, _, path = uri.removeprefix("runs:/").strip("/").partition("/")
    if not run_id or not path:
        raise InvalidParameterValue(f"expected runs:/<run_id>/<name>, got {uri!r}")
    return run_id, path


def _run_logged_model(client: Any, run: dict[str, Any], name: str) -> LoggedModel | None:
    """The run's newest logged model called `name` (MLflow 3 keeps models apart from run artifacts)."""
    run_id = run["info"]["run_id"]
    quoted = name.replace("'", "\\'")
    found = client.search_logged_models(
        [str(run["info"]["experiment_id"])], filter_string=f"name = '{quoted}'", max_results=1000
    )
    candidates = [m for m in found if m.source_run_id == run_id]
    return max(candidates, key=lambda m: m.creation_timestamp) if candidates else None


def _download_run_model(client: Any, run_id: str, path: str, dst: Path) -> Path:
    run = _as_json(client.get_run(run_id))
    name, _, rest = path.partition("/")
    logged = _run_logged_model(client, run, name)
    if logged is not None:
        return Path(client.download_artifacts_from(logged.artifact_location, rest, dst))
    # Models logged as plain run artifacts (MLflow 2, or the R client's runs/log-model).
    missing = ResourceDoesNotExist(f"run {run_id} has no model named {name!r}")
    try:
        target = Path(client.download_artifacts_from(str(run["info"]["artifact_uri"]), path, dst))
    except ResourceDoesNotExist:
        raise missing from None
    if not (target / "MLmodel").is_file():
        raise missing
    return target
