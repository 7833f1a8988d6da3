"""MLflow 2's trace API (`/api/2.0/mlflow/traces`: start, end, get info, search), which MLflow
2.14–2.22 clients use: a trace is started when the traced call begins and ended when it returns.
The same rows as MLflow 3's traces; tags, deletes and spans go through `traces`."""

from __future__ import annotations

import uuid

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.entities import KeyValue, TraceInfo, TraceInfoV2
from tracklet.errors import InvalidParameterValue
from tracklet.server.api.trace_spans import copy_spans_for_search, filters_spans
from tracklet.server.api.traces import MAX_SEARCH_TRACES, check_key_values, parse_state
from tracklet.server.protocol import Int64, json_response, page_response, read_json, read_request, run_read, run_sync
from tracklet.server.state import artifacts_of, store_of
from tracklet.server.workspace_scope import within_workspace
from tracklet.store.traces import TRACE_STATES, NewTrace
from tracklet.timestamps import parse_duration, parse_timestamp
from tracklet.validation import missing, parse_experiment_id, validate_page_size


class StartTraceV2(msgspec.Struct):
    experiment_id: str | None = None
    timestamp_ms: Int64 | None = None
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []


class EndTraceV2(msgspec.Struct):
    timestamp_ms: Int64 | None = None
    status: str | int | None = None
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []


class SearchTracesV2(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str | None = None
    max_results: Int64 | None = None
    order_by: list[str] = []
    page_token: str | None = None


_V2_STATUSES = ("TRACE_STATUS_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")  # TRACE_STATES' numbering


def _v2(info: TraceInfo) -> TraceInfoV2:
    return TraceInfoV2(
        request_id=info.trace_id,
        experiment_id=info.trace_location.mlflow_experiment.experiment_id,
        timestamp_ms=parse_timestamp(info.request_time, "request_time"),
        execution_time_ms=(
            None if info.execution_duration is None else parse_duration(info.execution_duration, "execution_duration")
        ),
        status=_V2_STATUSES[TRACE_STATES.index(info.state)],
        request_metadata=[KeyValue(k, v) for k, v in info.trace_metadata.items()],
        tags=[KeyValue(k, v) for k, v in info.tags.items()],
    )


def _key_value_map(items: list[KeyValue], field: str) -> dict[str, str]:
    mapped = {kv.key: kv.value for kv in items}
    check_key_values(mapped, field)
    return mapped


def _timestamp_ms(value: int | None) -> int:
    if value is None:
        raise missing("timestamp_ms")
    if value < 0:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter 'timestamp_ms' supplied: it must not be negative"
        )
    return value


async def start_v2(request: Request) -> Response:
    body = await read_json(request, StartTraceV2)
    trace = NewTrace(
        trace_id="tr-" + uuid.uuid4().hex,
        experiment_id=parse_experiment_id(body.experiment_id),
        request_time=_timestamp_ms(body.timestamp_ms),
        state="IN_PROGRESS",
        metadata=_key_value_map(body.request_metadata, "request_metadata"),
        tags=_key_value_map(body.tags, "tags"),
    )
    info = await run_sync(store_of(request).start_trace, trace)
    return json_response({"trace_info": _v2(info)})


async def end_v2(request: Request) -> Response:
    body = await read_json(request, EndTraceV2)
    if body.status is None:
        raise missing("status")
    info = await run_sync(
        store_of(request).end_trace,
        request.path_params["request_id"],
        _timestamp_ms(body.timestamp_ms),
        parse_state(body.status, "status", _V2_STATUSES),
        _key_value_map(body.request_metadata, "request_metadata"),
        _key_value_map(body.tags, "tags"),
    )
    return json_response({"trace_info": _v2(info)})


async def get_info_v2(request: Request) -> Response:
    info = await run_read(request, store_of(request).get_trace_info, request.path_params["request_id"])
    return json_response({"trace_info": _v2(info)})


async def search_v2(request: Request) -> Response:
    query = await read_request(request, SearchTracesV2, frozenset({"experiment_ids", "order_by"}))
    if not query.experiment_ids:
        raise missing("experiment_ids")
    experiment_ids = [parse_experiment_id(e, "experiment_ids") for e in query.experiment_ids]
    max_results = validate_page_size(query.max_results, 100, MAX_SEARCH_TRACES)
    if experiment_ids and not (experiment_ids := await within_workspace(request, experiment_ids)):
        return page_response("traces", [], None)  # all of other workspaces
    if filters_spans(query.filter):
        await copy_spans_for_search(artifacts_of(request), store_of(request), experiment_ids)
    traces, token = await run_sync(
        store_of(request).search_traces,
        experiment_ids,
        query.filter or "",
        query.order_by,
        max_results,
        query.page_token,
    )
    return page_response("traces", [_v2(t) for t in traces], token)


_V2 = "/api/2.0/mlflow/traces"
routes = [
    Route(_V2, start_v2, methods=["POST"]),
    Route(_V2, search_v2, methods=["GET"]),
    Route(f"{_V2}/{{request_id}}", end_v2, methods=["PATCH"]),
    Route(f"{_V2}/{{request_id}}/info", get_info_v2, methods=["GET"]),
]
