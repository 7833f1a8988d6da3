"""`/api/3.0/mlflow/datasets/*`: MLflow 3's evaluation datasets (`mlflow.genai.datasets.create_dataset`,
`EvaluationDataset.merge_records`, `to_df`, `search_datasets`, tags, links to experiments).

As in MLflow's protocol, a dataset's tags and its records travel as JSON text inside the JSON (`"tags":
"{\\"k\\": \\"v\\"}"`, `"records": "[...]"`); the text is read with Python's JSON, which takes NaN (what
pandas writes for a missing value).
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.server.protocol import Int64, json_response, page_response, read_json, read_request, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.server.workspace_scope import within_workspace
from tracklet.store.eval_datasets import SOURCE_TYPES, NewRecord
from tracklet.validation import MAX_SEARCH_RESULTS, check_length, missing, parse_experiment_id, validate_page_size

MAX_NAME_LENGTH = 255  # MLflow's column
MAX_TAG_KEY_LENGTH = 255
MAX_TAG_VALUE_LENGTH = 5000
MAX_SOURCE_FIELD_LENGTH = 255  # a record's source id and creator: columns of their own
DEFAULT_RECORDS_PAGE = 1000  # MLflow's, and what its client asks for


class CreateDataset(msgspec.Struct):
    name: str | None = None
    experiment_ids: list[str] = []
    tags: str | None = None  # JSON text of an object


class SearchDatasets(msgspec.Struct):
    experiment_ids: list[str] = []
    filter_string: str | None = None
    max_results: Int64 | None = None
    order_by: list[str] = []
    page_token: str | None = None


class SetTags(msgspec.Struct):
    tags: str | None = None


class UpsertRecords(msgspec.Struct):
    records: str | None = None  # JSON text of a list of objects


class ReadRecords(msgspec.Struct):
    max_results: Int64 | None = None
    page_token: str | None = None


class DeleteRecords(msgspec.Struct):
    dataset_record_ids: list[str] = []


class ExperimentIds(msgspec.Struct):
    experiment_ids: list[str] = []


def _json_text(text: str | None, field: str) -> Any:
    if not text:
        raise missing(field)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidParameterValue(f"Invalid value for parameter '{field}' supplied: it is not valid JSON") from None


def _no_nul(value: str, field: str) -> str:
    if "\x00" in value:
        raise InvalidParameterValue(
            f"Invalid value for parameter '{field}' supplied: text cannot contain NUL (\\u0000)"
        )
    return value


def _tags(text: str | None, field: str = "tags") -> dict[str, str]:
    """Tags from their JSON object: values as text (as MLflow's `str(value)`), null ones left out."""
    tags = _json_text(text, field)
    if not isinstance(tags, dict):
        raise InvalidParameterValue(f"Invalid value for parameter '{field}' supplied: expected a JSON object")
    checked: dict[str, str] = {}
    for key, value in tags.items():
        if value is None:
            continue
        if not key:
            raise InvalidParameterValue(f"Invalid value for parameter '{field}' supplied: a tag key is empty")
        check_length(_no_nul(key, f"{field} key"), MAX_TAG_KEY_LENGTH, f"{field} key '{key[:50]}'")
        text_value = value if isinstance(value, str) else str(value)
        check_length(_no_nul(text_value, f"{field}['{key[:50]}']"), MAX_TAG_VALUE_LENGTH, f"{field}['{key[:50]}']")
        checked[key] = text_value
    return checked


def _absent(value: Any) -> bool:
    """None, or NaN: what pandas puts in a column for a record without that field."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _object(record: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = record.get(key)
    if _absent(value):
        return None
    if not isinstance(value, dict):
        raise InvalidParameterValue(f"Invalid value for '{where}.{key}': expected a JSON object")
    return value


def _source(record: dict[str, Any], where: str) -> dict[str, Any] | None:
    source = _object(record, "source", where)
    if source is None:
        return None
    unknown = set(source) - {"source_type", "source_data"}
    if unknown:
        raise InvalidParameterValue(f"Invalid value for '{where}.source': unknown fields {sorted(unknown)}")
    kind = source.get("source_type")
    if not isinstance(kind, str) or kind.upper() not in SOURCE_TYPES:
        raise InvalidParameterValue(
            f"Invalid dataset record source type: {kind!r} (in '{where}.source'). Must be one of {list(SOURCE_TYPES)}"
        )
    data = _object(source, "source_data", f"{where}.source") or {}
    for name in ("trace_id", "source_id"):
        if data.get(name) is not None:
            check_length(_no_nul(str(data[name]), f"{where}.source.source_data.{name}"), MAX_SOURCE_FIELD_LENGTH, name)
    return {"source_type": kind.upper(), "source_data": data}


def _records(text: str | None) -> list[NewRecord]:
    records = _json_text(text, "records")
    if not isinstance(records, list):
        raise InvalidParameterValue("Invalid value for parameter 'records' supplied: expected a JSON array")
    checked: list[NewRecord] = []
    for i, record in enumerate(records):
        where = f"records[{i}]"
        if not isinstance(record, dict):
            raise InvalidParameterValue(f"Invalid value for '{where}': each record must be a JSON object")
        tags = _object(record, "tags", where)
        user = (tags or {}).get("mlflow.user")
        if user is not None:
            check_length(_no_nul(str(user), f"{where}.tags.mlflow.user"), MAX_SOURCE_FIELD_LENGTH, "mlflow.user")
        outputs = record.get("outputs")
        checked.append(
            NewRecord(
                inputs=_object(record, "inputs", where) or {},
                has_outputs="outputs" in record and not (isinstance(outputs, float) and math.isnan(outputs)),
                outputs=outputs,
                expectations=_object(record, "expectations", where),
                tags=tags,
                source=_source(record, where),
            )
        )
    return checked


def _experiment_ids(values: list[str]) -> list[int]:
    return sorted({parse_experiment_id(v, "experiment_ids") for v in values})


async def create(request: Request) -> Response:
    body = await read_json(request, CreateDataset)
    if not body.name:
        raise missing("name")
    check_length(body.name, MAX_NAME_LENGTH, "name")
    tags = _tags(body.tags) if body.tags else {}
    dataset = await run_sync(store_of(request).create_dataset, body.name, tags, body.experiment_ids)
    return json_response({"dataset": dataset})


async def get(request: Request) -> Response:
    dataset = await run_read(request, store_of(request).get_dataset, request.path_params["dataset_id"])
    return json_response({"dataset": dataset})


async def delete(request: Request) -> Response:
    await run_sync(store_of(request).delete_dataset, request.path_params["dataset_id"])
    return json_response()


async def search(request: Request) -> Response:
    query = await read_request(request, SearchDatasets, list_fields=frozenset({"experiment_ids", "order_by"}))
    max_results = validate_page_size(query.max_results, 1000, MAX_SEARCH_RESULTS)
    experiment_ids = _experiment_ids(query.experiment_ids)
    if experiment_ids and not (experiment_ids := await within_workspace(request, experiment_ids)):
        return page_response("datasets", [], None)  # all of other workspaces
    datasets, token = await run_sync(
        store_of(request).search_datasets,
        experiment_ids,
        query.filter_string,
        max_results,
        query.order_by,
        query.page_token,
    )
    return page_response("datasets", datasets, token)


async def set_tags(request: Request) -> Response:
    body = await read_json(request, SetTags)
    tags = _tags(body.tags)
    await run_sync(store_of(request).set_dataset_tags, request.path_params["dataset_id"], tags)
    return json_response()


async def delete_tag(request: Request) -> Response:
    params = request.path_params
    await run_sync(store_of(request).delete_dataset_tag, params["dataset_id"], params["key"])
    return json_response()


async def upsert_records(request: Request) -> Response:
    body = await read_json(request, UpsertRecords)
    records = _records(body.records)
    inserted, updated = await run_sync(
        store_of(request).upsert_dataset_records, request.path_params["dataset_id"], records
    )
    return json_response({"inserted_count": inserted, "updated_count": updated})


async def get_records(request: Request) -> Response:
    query = await read_request(request, ReadRecords)
    # 0 (protobuf's unset) means the default, as in MLflow
    max_results = validate_page_size(query.max_results or None, DEFAULT_RECORDS_PAGE, MAX_SEARCH_RESULTS)
    records, token = await run_sync(
        store_of(request).dataset_records, request.path_params["dataset_id"], max_results, query.page_token or None
    )
    payload: dict[str, Any] = {"records": msgspec.Raw(msgspec.json.encode(records.decode()))}
    if token:
        payload["next_page_token"] = token
    return json_response(payload)


async def delete_records(request: Request) -> Response:
    body = await read_json(request, DeleteRecords)
    deleted = await run_sync(
        store_of(request).delete_dataset_records, request.path_params["dataset_id"], body.dataset_record_ids
    )
    return json_response({"deleted_count": deleted})


async def experiment_ids(request: Request) -> Response:
    ids = await run_read(request, store_of(request).dataset_experiment_ids, request.path_params["dataset_id"])
    return page_response("experiment_ids", ids, None)


async def add_experiments(request: Request) -> Response:
    body = await read_json(request, ExperimentIds)
    dataset = await run_sync(
        store_of(request).add_dataset_to_experiments, request.path_params["dataset_id"], body.experiment_ids
    )
    return json_response({"dataset": dataset})


async def remove_experiments(request: Request) -> Response:
    body = await read_json(request, ExperimentIds)
    dataset = await run_sync(
        store_of(request).remove_dataset_from_experiments, request.path_params["dataset_id"], body.experiment_ids
    )
    return json_response({"dataset": dataset})


_ENDPOINTS: list[tuple[str, Any, list[str]]] = [
    ("/create", create, ["POST"]),
    ("/search", search, ["GET", "POST"]),
    ("/{dataset_id}", get, ["GET"]),
    ("/{dataset_id}", delete, ["DELETE"]),
    ("/{dataset_id}/tags", set_tags, ["PATCH"]),
    ("/{dataset_id}/tags/{key:path}", delete_tag, ["DELETE"]),
    ("/{dataset_id}/records", upsert_records, ["POST"]),
    ("/{dataset_id}/records", get_records, ["GET"]),
    ("/{dataset_id}/records", delete_records, ["DELETE"]),
    ("/{dataset_id}/experiment-ids", experiment_ids, ["GET"]),
    ("/{dataset_id}/add-experiments", add_experiments, ["POST"]),
    ("/{dataset_id}/remove-experiments", remove_experiments, ["POST"]),
]
# The MLflow UI calls them under /ajax-api; both prefixes answer, as in MLflow.
routes = [
    Route(f"{prefix}/3.0/mlflow/datasets{path}", endpoint, methods=methods)
    for prefix in ("/api", "/ajax-api")
    for path, endpoint, methods in _ENDPOINTS
]
