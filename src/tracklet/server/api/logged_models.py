"""`/api/2.0/mlflow/logged-models*` (MLflow 3's logged models)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.artifacts.paths import clean_path
from tracklet.entities import KeyValue
from tracklet.server.api.artifacts import list_under_root
from tracklet.server.protocol import Int64, json_response, page_response, read_json, read_query, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.server.workspace_scope import within_workspace
from tracklet.store.run_names import generate_run_name
from tracklet.validation import (
    missing,
    parse_experiment_id,
    validate_key,
    validate_logged_model_name,
    validate_max_results,
)


class CreateModel(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class FinalizeModel(msgspec.Struct):
    model_id: str | None = None
    status: str | int | None = None


class ModelTags(msgspec.Struct):
    tags: list[KeyValue] = []


class ModelParams(msgspec.Struct):
    params: list[KeyValue] = []


class OrderBy(msgspec.Struct):
    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


class SearchModels(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str | None = None
    max_results: Int64 | None = None
    order_by: list[OrderBy] = []
    page_token: str | None = None


class ArtifactsQuery(msgspec.Struct):
    artifact_directory_path: str | None = None
    page_token: str | None = None  # the whole folder is one page, as on MLflow's server


_STATUSES = {1: "LOGGED_MODEL_PENDING", 2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED"}


async def create(request: Request) -> Response:
    body = await read_json(request, CreateModel)
    experiment_id = parse_experiment_id(body.experiment_id)
    for kv in [*body.params, *body.tags]:
        validate_key(kv.key, "Key")
    model = await run_sync(
        store_of(request).create_logged_model,
        experiment_id,
        validate_logged_model_name(body.name) if body.name else generate_run_name(),  # MLflow names it so too
        body.model_type or "",
        body.source_run_id,
        body.params,
        body.tags,
    )
    return json_response({"model": model})


async def get(request: Request) -> Response:
    model = await run_read(request, store_of(request).get_logged_model, request.path_params["model_id"])
    return json_response({"model": model})


async def finalize(request: Request) -> Response:
    body = await read_json(request, FinalizeModel)
    status = body.status
    if status is None:
        raise missing("status")
    if isinstance(status, int) or status.isdigit():
        status = _STATUSES.get(int(status), str(status))
    model = await run_sync(store_of(request).finalize_logged_model, request.path_params["model_id"], status)
    return json_response({"model": model})


async def delete(request: Request) -> Response:
    await run_sync(store_of(request).delete_logged_model, request.path_params["model_id"])
    return json_response()


async def set_tags(request: Request) -> Response:
    body = await read_json(request, ModelTags)
    for tag in body.tags:
        validate_key(tag.key, "Tag")
    await run_sync(store_of(request).set_logged_model_tags, request.path_params["model_id"], body.tags)
    model = await run_read(request, store_of(request).get_logged_model, request.path_params["model_id"])
    return json_response({"model": model})


async def delete_tag(request: Request) -> Response:
    await run_sync(
        store_of(request).delete_logged_model_tag, request.path_params["model_id"], request.path_params["tag_key"]
    )
    return json_response()


async def log_params(request: Request) -> Response:
    body = await read_json(request, ModelParams)
    for param in body.params:
        validate_key(param.key, "Param")
    await run_sync(store_of(request).log_logged_model_params, request.path_params["model_id"], body.params)
    return json_response()


async def list_artifacts(request: Request) -> Response:
    """A logged model's files under `artifact_directory_path` (the MLflow UI's model page lists them so)."""
    query = read_query(request, ArtifactsQuery)
    sub = clean_path(query.artifact_directory_path)  # as MLflow: a bad path is reported before an unknown model
    model = await run_read(request, store_of(request).get_logged_model, request.path_params["model_id"])
    return json_response(await list_under_root(request, model.info.artifact_uri, sub))


async def search(request: Request) -> Response:
    body = await read_json(request, SearchModels)
    if not body.experiment_ids:
        raise missing("experiment_ids")
    experiment_ids = [parse_experiment_id(e, "experiment_ids") for e in body.experiment_ids]
    max_results = validate_max_results(body.max_results, default=50)
    if experiment_ids and not (experiment_ids := await within_workspace(request, experiment_ids)):
        return page_response("models", [], None)  # all of other workspaces
    order_by = [msgspec.to_builtins(o) for o in body.order_by]
    models, token = await run_sync(
        store_of(request).search_logged_models,
        experiment_ids,
        body.filter or "",
        order_by,
        max_results,
        body.page_token,
    )
    return page_response("models", models, token)


_BASE = "/api/2.0/mlflow/logged-models"
routes = [
    Route(_BASE, create, methods=["POST"]),
    Route(f"{_BASE}/search", search, methods=["POST"]),
    Route(f"{_BASE}/{{model_id}}", get, methods=["GET"]),
    Route(f"{_BASE}/{{model_id}}", finalize, methods=["PATCH"]),
    Route(f"{_BASE}/{{model_id}}", delete, methods=["DELETE"]),
    Route(f"{_BASE}/{{model_id}}/tags", set_tags, methods=["PATCH"]),
    Route(f"{_BASE}/{{model_id}}/tags/{{tag_key:path}}", delete_tag, methods=["DELETE"]),
    Route(f"{_BASE}/{{model_id}}/params", log_params, methods=["POST"]),
    *(
        Route(f"{prefix}/2.0/mlflow/logged-models/{{model_id}}/artifacts/directories", list_artifacts, methods=["GET"])
        for prefix in ("/api", "/ajax-api")
    ),
]
