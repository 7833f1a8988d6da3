"""`/api/2.0/mlflow/experiments/*`."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.entities import KeyValue
from tracklet.errors import InvalidParameterValue
from tracklet.server.protocol import Int64, json_response, page_response, read_json, read_query, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.validation import (
    MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    parse_experiment_id,
    require,
    validate_experiment_name,
    validate_key,
    validate_max_results,
)

VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")


class CreateExperiment(msgspec.Struct):
    name: str | None = None
    artifact_location: str | None = None
    tags: list[KeyValue] = []


class ExperimentId(msgspec.Struct):
    experiment_id: str | None = None


class ExperimentName(msgspec.Struct):
    experiment_name: str | None = None


class UpdateExperiment(msgspec.Struct):
    experiment_id: str | None = None
    new_name: str | None = None


class ExperimentTag(msgspec.Struct):
    experiment_id: str | None = None
    key: str | None = None
    value: str | None = None


class SearchExperiments(msgspec.Struct):
    max_results: Int64 | None = None
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = []
    view_type: str | int | None = None


def view_type_of(value: str | int | None) -> str:
    if value is None or value == "":
        return "ACTIVE_ONLY"
    if isinstance(value, int) or value.isdigit():
        index = int(value) - 1  # protobuf enum: ACTIVE_ONLY=1, DELETED_ONLY=2, ALL=3
        if 0 <= index < len(VIEW_TYPES):
            return VIEW_TYPES[index]
    elif value.upper() in VIEW_TYPES:
        return value.upper()
    raise InvalidParameterValue(f"Invalid view type {value!r}: expected one of {list(VIEW_TYPES)}")


def _validate_experiment_tag(key: str | None, value: str | None) -> str:
    validate_key(key, "Tag")
    if value is not None and len(value) > MAX_EXPERIMENT_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"Tag value '{value[:50]}…' had length {len(value)}, which exceeded length limit of "
            f"{MAX_EXPERIMENT_TAG_VALUE_LENGTH}"
        )
    return value or ""


async def create(request: Request) -> Response:
    body = await read_json(request, CreateExperiment)
    name = validate_experiment_name(body.name)
    for tag in body.tags:
        _validate_experiment_tag(tag.key, tag.value)
    experiment_id = await run_sync(store_of(request).create_experiment, name, body.artifact_location, body.tags)
    return json_response({"experiment_id": experiment_id})


async def get(request: Request) -> Response:
    query = read_query(request, ExperimentId)
    experiment = await run_read(request, store_of(request).get_experiment, parse_experiment_id(query.experiment_id))
    return json_response({"experiment": experiment})


async def get_by_name(request: Request) -> Response:
    query = read_query(request, ExperimentName)
    require(query.experiment_name, "experiment_name")
    experiment = await run_read(request, store_of(request).get_experiment_by_name, query.experiment_name)
    return json_response({"experiment": experiment})


async def delete(request: Request) -> Response:
    body = await read_json(request, ExperimentId)
    await run_sync(store_of(request).delete_experiment, parse_experiment_id(body.experiment_id))
    return json_response()


async def restore(request: Request) -> Response:
    body = await read_json(request, ExperimentId)
    await run_sync(store_of(request).restore_experiment, parse_experiment_id(body.experiment_id))
    return json_response()


async def update(request: Request) -> Response:
    body = await read_json(request, UpdateExperiment)
    experiment_id = parse_experiment_id(body.experiment_id)
    name = validate_experiment_name(body.new_name, "new_name")
    await run_sync(store_of(request).rename_experiment, experiment_id, name)
    return json_response()


async def set_tag(request: Request) -> Response:
    body = await read_json(request, ExperimentTag)
    experiment_id = parse_experiment_id(body.experiment_id)
    value = _validate_experiment_tag(body.key, body.value)
    await run_sync(store_of(request).set_experiment_tag, experiment_id, body.key, value)
    return json_response()


async def delete_tag(request: Request) -> Response:
    body = await read_json(request, ExperimentTag)
    experiment_id = parse_experiment_id(body.experiment_id)
    require(body.key, "key")
    await run_sync(store_of(request).delete_experiment_tag, experiment_id, body.key)
    return json_response()


async def search(request: Request) -> Response:
    if request.method == "GET":
        body = read_query(request, SearchExperiments, list_fields=frozenset({"order_by"}))
    else:
        body = await read_json(request, SearchExperiments)
    max_results = validate_max_results(body.max_results, default=None)
    experiments, token = await run_sync(
        store_of(request).search_experiments,
        body.filter or "",
        view_type_of(body.view_type),
        body.order_by,
        max_results,
        body.page_token,
    )
    return page_response("experiments", experiments, token)


_BASE = "/api/2.0/mlflow/experiments"
routes = [
    Route(f"{_BASE}/create", create, methods=["POST"]),
    Route(f"{_BASE}/get", get, methods=["GET"]),
    Route(f"{_BASE}/get-by-name", get_by_name, methods=["GET"]),
    Route(f"{_BASE}/delete", delete, methods=["POST"]),
    Route(f"{_BASE}/restore", restore, methods=["POST"]),
    Route(f"{_BASE}/update", update, methods=["POST"]),
    Route(f"{_BASE}/set-experiment-tag", set_tag, methods=["POST"]),
    Route(f"{_BASE}/delete-experiment-tag", delete_tag, methods=["POST"]),
    Route(f"{_BASE}/search", search, methods=["GET", "POST"]),
]
