"""`/api/2.0/mlflow/model-versions/*`: the numbered versions of registered models.

Every route also answers under `/ajax-api/2.0/mlflow/`, as in MLflow.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.entities import KeyValue
from tracklet.server.api.registered_models import MAX_DESCRIPTION_LENGTH
from tracklet.server.protocol import Int64, json_response, page_response, read_json, read_request, run_read, run_sync
from tracklet.server.state import store_of, webhooks_of
from tracklet.validation import (
    MAX_MODEL_VERSIONS_PAGE,
    canonical_stage,
    check_length,
    parse_model_version,
    require,
    validate_model_name,
    validate_page_size,
    validate_registry_tag,
)
from tracklet.webhooks import events


class CreateVersion(msgspec.Struct):
    name: str | None = None
    source: str | None = None
    run_id: str | None = None
    tags: list[KeyValue] = []
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None


class VersionRef(msgspec.Struct):
    name: str | None = None
    version: str | Int64 | None = None


class UpdateVersion(msgspec.Struct):
    name: str | None = None
    version: str | Int64 | None = None
    description: str | None = None


class TransitionStage(msgspec.Struct):
    name: str | None = None
    version: str | Int64 | None = None
    stage: str | None = None
    archive_existing_versions: bool = False


class SearchVersions(msgspec.Struct):
    filter: str | None = None
    max_results: Int64 | None = None
    order_by: list[str] = []
    page_token: str | None = None


class VersionTag(msgspec.Struct):
    name: str | None = None
    version: str | Int64 | None = None
    key: str | None = None
    value: str | None = None


MAX_SOURCE_LENGTH = 65_535  # a URI; MLflow's column is VARCHAR(500) on some databases, TEXT on others


def _ref(name: str | None, version: str | int | None) -> tuple[str, int]:
    return validate_model_name(name), parse_model_version(version)


async def create(request: Request) -> Response:
    body = await read_json(request, CreateVersion)
    name = validate_model_name(body.name)
    require(body.source, "source")
    assert body.source is not None
    check_length(body.source, MAX_SOURCE_LENGTH, "source")
    check_length(body.description, MAX_DESCRIPTION_LENGTH, "description")
    for tag in body.tags:
        validate_registry_tag(tag.key, tag.value)
    version = await run_sync(
        store_of(request).create_model_version,
        name,
        body.source,
        body.run_id,
        body.tags,
        body.run_link or "",
        body.description or "",
        body.model_id or None,
    )
    webhooks_of(request).emit(events.version_created(version, body.tags, body.description))
    return json_response({"model_version": version})


async def get(request: Request) -> Response:
    query = await read_request(request, VersionRef)
    version = await run_read(request, store_of(request).get_model_version, *_ref(query.name, query.version))
    return json_response({"model_version": version})


async def get_download_uri(request: Request) -> Response:
    query = await read_request(request, VersionRef)
    uri = await run_read(request, store_of(request).get_model_version_download_uri, *_ref(query.name, query.version))
    return json_response({"artifact_uri": uri})


async def update(request: Request) -> Response:
    body = await read_json(request, UpdateVersion)
    name, number = _ref(body.name, body.version)
    check_length(body.description, MAX_DESCRIPTION_LENGTH, "description")
    version = await run_sync(store_of(request).update_model_version, name, number, body.description)
    return json_response({"model_version": version})


async def transition_stage(request: Request) -> Response:
    body = await read_json(request, TransitionStage)
    name, number = _ref(body.name, body.version)
    stage = canonical_stage(body.stage)
    version = await run_sync(
        store_of(request).transition_model_version_stage, name, number, stage, body.archive_existing_versions
    )
    return json_response({"model_version": version})


async def delete(request: Request) -> Response:
    body = await read_json(request, VersionRef)
    await run_sync(store_of(request).delete_model_version, *_ref(body.name, body.version))
    return json_response()


async def search(request: Request) -> Response:
    query = await read_request(request, SearchVersions, list_fields=frozenset({"order_by"}))
    # MLflow's protocol default is also its upper bound (200,000); its client asks for 10,000 per page.
    max_results = validate_page_size(query.max_results, MAX_MODEL_VERSIONS_PAGE, MAX_MODEL_VERSIONS_PAGE)
    versions, token = await run_sync(
        store_of(request).search_model_versions, query.filter, max_results, query.order_by, query.page_token
    )
    return page_response("model_versions", versions, token)


async def set_tag(request: Request) -> Response:
    body = await read_json(request, VersionTag)
    name, number = _ref(body.name, body.version)
    key = validate_registry_tag(body.key, body.value)
    await run_sync(store_of(request).set_model_version_tag, name, number, key, body.value or "")
    webhooks_of(request).emit(events.version_tag_set(name, number, key, body.value or ""))
    return json_response()


async def delete_tag(request: Request) -> Response:
    body = await read_json(request, VersionTag)
    name, number = _ref(body.name, body.version)
    key = validate_registry_tag(body.key, None)
    await run_sync(store_of(request).delete_model_version_tag, name, number, key)
    webhooks_of(request).emit(events.version_tag_deleted(name, number, key))
    return json_response()


_ENDPOINTS = [
    ("create", create, ["POST"]),
    ("get", get, ["GET"]),
    ("get-download-uri", get_download_uri, ["GET"]),
    ("update", update, ["PATCH"]),
    ("transition-stage", transition_stage, ["POST"]),
    ("delete", delete, ["DELETE"]),
    ("search", search, ["GET"]),
    ("set-tag", set_tag, ["POST"]),
    ("delete-tag", delete_tag, ["DELETE"]),
]
routes = [
    Route(f"{prefix}/2.0/mlflow/model-versions/{path}", endpoint, methods=methods)
    for prefix in ("/api", "/ajax-api")
    for path, endpoint, methods in _ENDPOINTS
]
