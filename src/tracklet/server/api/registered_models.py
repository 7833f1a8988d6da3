"""`/api/2.0/mlflow/registered-models/*`: the model registry's models, their tags and aliases.

Every route also answers under `/ajax-api/2.0/mlflow/`, as in MLflow.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.entities import KeyValue
from tracklet.server.protocol import Int64, json_response, page_response, read_json, read_request, run_read, run_sync
from tracklet.server.state import store_of, webhooks_of
from tracklet.validation import (
    MAX_REGISTERED_MODELS_PAGE,
    check_length,
    parse_model_version,
    validate_alias,
    validate_model_name,
    validate_new_model_name,
    validate_page_size,
    validate_registry_tag,
)
from tracklet.webhooks import events


class CreateModel(msgspec.Struct):
    name: str | None = None
    tags: list[KeyValue] = []
    description: str | None = None


class ModelName(msgspec.Struct):
    name: str | None = None


class RenameModel(msgspec.Struct):
    name: str | None = None
    new_name: str | None = None


class UpdateModel(msgspec.Struct):
    name: str | None = None
    description: str | None = None


class SearchModels(msgspec.Struct):
    filter: str | None = None
    max_results: Int64 | None = None
    order_by: list[str] = []
    page_token: str | None = None


class LatestVersions(msgspec.Struct):
    name: str | None = None
    stages: list[str] = []


class ModelTag(msgspec.Struct):
    name: str | None = None
    key: str | None = None
    value: str | None = None


class ModelAlias(msgspec.Struct):
    name: str | None = None
    alias: str | None = None
    version: str | Int64 | None = None


MAX_DESCRIPTION_LENGTH = 1_000_000  # not MLflow's (it has none); keeps one request from storing gigabytes


async def create(request: Request) -> Response:
    body = await read_json(request, CreateModel)
    name = validate_new_model_name(body.name)
    for tag in body.tags:
        validate_registry_tag(tag.key, tag.value)
    check_length(body.description, MAX_DESCRIPTION_LENGTH, "description")
    model = await run_sync(store_of(request).create_registered_model, name, body.tags, body.description)
    webhooks_of(request).emit(events.model_created(name, body.tags, body.description))
    return json_response({"registered_model": model})


async def get(request: Request) -> Response:
    query = await read_request(request, ModelName)
    model = await run_read(request, store_of(request).get_registered_model, validate_model_name(query.name))
    return json_response({"registered_model": model})


async def rename(request: Request) -> Response:
    body = await read_json(request, RenameModel)
    name = validate_model_name(body.name)
    new_name = validate_new_model_name(body.new_name, "new_name")
    model = await run_sync(store_of(request).rename_registered_model, name, new_name)
    return json_response({"registered_model": model})


async def update(request: Request) -> Response:
    body = await read_json(request, UpdateModel)
    name = validate_model_name(body.name)
    check_length(body.description, MAX_DESCRIPTION_LENGTH, "description")
    model = await run_sync(store_of(request).update_registered_model, name, body.description)
    return json_response({"registered_model": model})


async def delete(request: Request) -> Response:
    body = await read_json(request, ModelName)
    await run_sync(store_of(request).delete_registered_model, validate_model_name(body.name))
    return json_response()


async def search(request: Request) -> Response:
    query = await read_request(request, SearchModels, list_fields=frozenset({"order_by"}))
    max_results = validate_page_size(query.max_results, 100, MAX_REGISTERED_MODELS_PAGE)
    models, token = await run_sync(
        store_of(request).search_registered_models, query.filter, max_results, query.order_by, query.page_token
    )
    return page_response("registered_models", models, token)


async def get_latest_versions(request: Request) -> Response:
    query = await read_request(request, LatestVersions, list_fields=frozenset({"stages"}))
    name = validate_model_name(query.name)
    versions = await run_read(request, store_of(request).get_latest_versions, name, query.stages)
    return page_response("model_versions", versions, None)


async def set_tag(request: Request) -> Response:
    body = await read_json(request, ModelTag)
    name = validate_model_name(body.name)
    key = validate_registry_tag(body.key, body.value)
    await run_sync(store_of(request).set_registered_model_tag, name, key, body.value or "")
    webhooks_of(request).emit(events.model_tag_set(name, key, body.value or ""))
    return json_response()


async def delete_tag(request: Request) -> Response:
    body = await read_json(request, ModelTag)
    name = validate_model_name(body.name)
    key = validate_registry_tag(body.key, None)
    await run_sync(store_of(request).delete_registered_model_tag, name, key)
    webhooks_of(request).emit(events.model_tag_deleted(name, key))
    return json_response()


async def set_alias(request: Request) -> Response:
    body = await read_json(request, ModelAlias)
    name = validate_model_name(body.name)
    alias = validate_alias(body.alias, setting=True)
    version = parse_model_version(body.version)
    await run_sync(store_of(request).set_registered_model_alias, name, alias, version)
    webhooks_of(request).emit(events.alias_set(name, alias, version))
    return json_response()


async def delete_alias(request: Request) -> Response:
    body = await read_json(request, ModelAlias)
    name = validate_model_name(body.name)
    alias = validate_alias(body.alias)
    await run_sync(store_of(request).delete_registered_model_alias, name, alias)
    webhooks_of(request).emit(events.alias_deleted(name, alias))
    return json_response()


async def get_by_alias(request: Request) -> Response:
    query = await read_request(request, ModelAlias)
    name = validate_model_name(query.name)
    alias = validate_alias(query.alias)
    version = await run_read(request, store_of(request).get_model_version_by_alias, name, alias)
    return json_response({"model_version": version})


_ENDPOINTS = [
    ("create", create, ["POST"]),
    ("get", get, ["GET"]),
    ("rename", rename, ["POST"]),
    ("update", update, ["PATCH"]),
    ("delete", delete, ["DELETE"]),
    ("search", search, ["GET"]),
    ("get-latest-versions", get_latest_versions, ["POST", "GET"]),
    ("set-tag", set_tag, ["POST"]),
    ("delete-tag", delete_tag, ["DELETE"]),
]
routes = [
    *(
        Route(f"{prefix}/2.0/mlflow/registered-models/{path}", endpoint, methods=methods)
        for prefix in ("/api", "/ajax-api")
        for path, endpoint, methods in _ENDPOINTS
    ),
    # One path, three verbs: set, delete and read an alias.
    *(
        Route(
            f"{prefix}/2.0/mlflow/registered-models/alias",
            endpoint,
            methods=[method],
        )
        for prefix in ("/api", "/ajax-api")
        for method, endpoint in (("POST", set_alias), ("DELETE", delete_alias), ("GET", get_by_alias))
    ),
]
