"""MLflow 3 tracing: `/api/3.0/mlflow/traces*` and the trace tag and delete calls under `/api/2.0`
(MLflow 2's own trace API is in `traces_v2`).

A traced call ends in the client with `POST /api/3.0/mlflow/traces` (StartTraceV3, named so for
history: it reports a finished trace). The answer carries the tag `mlflow.artifactLocation`, where
the client then uploads the spans (`traces.json`) through the artifact proxy (`/version` answers
below 3.4, so the client never sends spans over OTLP, `/v1/traces`), and the tag
`mlflow.trace.spansLocation = ARCHIVE_REPO`, so that `mlflow.get_trace` and `search_traces` read them
back through `traces/get` and `traces/batchGet`, which serve that file (`trace_spans`). Traces whose
spans arrived over OTLP from other SDKs (`otlp`) are tagged `TRACKING_STORE` and served from the database.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.artifacts.paths import proxy_path
from tracklet.entities import TraceInfo
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.server.api.trace_spans import copy_spans_for_search, filters_spans, read_spans
from tracklet.server.protocol import (
    Int64,
    decode_body,
    json_response,
    page_response,
    read_json,
    read_query,
    run_read,
    run_sync,
)
from tracklet.server.state import artifacts_of, store_of
from tracklet.server.workspace_scope import within_workspace
from tracklet.store.schema import TRACE_NAME_TAG
from tracklet.store.store import Store
from tracklet.store.traces import (
    ARTIFACT_LOCATION_TAG,
    SPANS_IN_ARTIFACTS,
    SPANS_LOCATION_TAG,
    TRACE_STATES,
    NewTrace,
    prompt_link,
)
from tracklet.timestamps import parse_duration, parse_timestamp
from tracklet.validation import (
    MAX_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_length,
    missing,
    parse_experiment_id,
    require,
    truncate,
    validate_key,
    validate_page_size,
    validate_run_id,
)

_log = logging.getLogger(__name__)
MAX_TRACE_NAME_LENGTH = 4096  # MLflow's limit on a trace's name

MAX_TRACE_ID_LENGTH = 50
MAX_PROMPT_NAME_LENGTH = 256  # a prompt is a registered model: its name's limit
MAX_PREVIEW_LENGTH = 100_000
MAX_SEARCH_TRACES = 500  # MLflow's bound for traces/search
MAX_BATCH_TRACE_IDS = 1000
MAX_BATCH_TRACES = 100  # with spans; MLflow's client asks for 10 at a time


class ExperimentLocation(msgspec.Struct):
    experiment_id: str | None = None


class Location(msgspec.Struct):
    type: str | int | None = None
    mlflow_experiment: ExperimentLocation | None = None


class TraceInfoBody(msgspec.Struct):
    trace_id: str | None = None
    client_request_id: str | None = None
    trace_location: Location | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    request_time: str | None = None
    execution_duration: str | None = None
    state: str | int | None = None
    trace_metadata: dict[str, str] = {}
    tags: dict[str, str] = {}


class TraceBody(msgspec.Struct):
    trace_info: TraceInfoBody | None = None  # `spans` and `assessments` are not kept (see the module doc)


class StartTrace(msgspec.Struct):
    trace: TraceBody | None = None


class SearchTraces(msgspec.Struct):
    locations: list[Location] = []
    filter: str | None = None
    max_results: Int64 | None = None
    order_by: list[str] = []
    page_token: str | None = None


class BatchGetTraceInfos(msgspec.Struct):
    trace_ids: list[str] = []
    experiment_ids: list[str] | None = None


class GetTrace(msgspec.Struct):
    trace_id: str | None = None
    allow_partial: bool = False  # spans are whatever was uploaded: every answer may be partial


class BatchGetTraces(msgspec.Struct):
    trace_ids: list[str] = []
    experiment_ids: list[str] | None = None


class SetTraceTag(msgspec.Struct):
    key: str | None = None
    value: str | None = None


class DeleteTraceTag(msgspec.Struct):
    key: str | None = None


class LinkTracesToRun(msgspec.Struct):
    trace_ids: list[str] = []
    run_id: str | None = None


class PromptVersionRef(msgspec.Struct):
    name: str | None = None
    version: str | int | None = None


class LinkPromptsToTrace(msgspec.Struct):
    trace_id: str | None = None
    prompt_versions: list[PromptVersionRef] | None = None


class DeleteTraces(msgspec.Struct):
    experiment_id: str | None = None
    max_timestamp_millis: Int64 | None = None
    max_traces: Int64 | None = None
    request_ids: list[str] = []


def _experiment_of(location: Location | None, field: str) -> int:
    if location is None or location.mlflow_experiment is None:
        raise missing(f"{field}.mlflow_experiment")
    if location.type not in (None, "MLFLOW_EXPERIMENT", "TRACE_LOCATION_TYPE_UNSPECIFIED", 0, 1):
        raise InvalidParameterValue(
            f"Invalid value for parameter '{field}.type' supplied: tracklet keeps traces in experiments "
            f"(MLFLOW_EXPERIMENT), got {location.type!r}"
        )
    return parse_experiment_id(location.mlflow_experiment.experiment_id, f"{field}.mlflow_experiment.experiment_id")


def check_key_values(items: dict[str, str], field: str) -> None:
    for key, value in items.items():
        if not key:
            raise InvalidParameterValue(f"Invalid value for parameter '{field}' supplied: a key is empty")
        check_length(key, MAX_KEY_LENGTH, f"{field} key '{key[:50]}'")
        check_length(value, MAX_TAG_VALUE_LENGTH, f"{field}['{key[:50]}']")


def _trace_id(trace_id: str | None, field: str) -> str:
    require(trace_id, field)
    assert trace_id is not None
    check_length(trace_id, MAX_TRACE_ID_LENGTH, field)
    if not all(c.isalnum() or c in "-_.:" for c in trace_id):
        raise InvalidParameterValue(f"Invalid value '{trace_id}' for parameter '{field}' supplied.")
    return trace_id


def parse_state(
    state: str | int | None, field: str = "trace.trace_info.state", names: tuple[str, ...] = TRACE_STATES
) -> str:
    """A state by name or enum number, as the store names it (`names` are the message's own names)."""
    if state is None:
        return TRACE_STATES[0]
    if isinstance(state, int) and 0 <= state < len(names):
        return TRACE_STATES[state]
    if state not in names:
        raise InvalidParameterValue(
            f"Invalid value for parameter '{field}' supplied: {state!r}; expected one of {list(names)}"
        )
    return TRACE_STATES[names.index(str(state))]


def _new_trace(body: StartTrace) -> NewTrace:
    if body.trace is None:
        raise missing("trace")
    info = body.trace.trace_info
    if info is None:
        raise missing("trace.trace_info")
    at = "trace.trace_info"
    if info.request_time is None:
        raise missing(f"{at}.request_time")
    check_length(info.client_request_id, MAX_KEY_LENGTH, f"{at}.client_request_id")
    check_length(info.request_preview, MAX_PREVIEW_LENGTH, f"{at}.request_preview")
    check_length(info.response_preview, MAX_PREVIEW_LENGTH, f"{at}.response_preview")
    # A long tag value is cut, as by `set_tag` (refusing it would lose the whole trace: exporters do not
    # retry a 400); a name too long for a trace is refused, as MLflow refuses it.
    tags = {key: truncate(value, MAX_TAG_VALUE_LENGTH) for key, value in info.tags.items()}
    check_key_values(tags, f"{at}.tags")
    check_length(tags.get(TRACE_NAME_TAG), MAX_TRACE_NAME_LENGTH, "Trace name")
    check_key_values(info.trace_metadata, f"{at}.trace_metadata")
    return NewTrace(
        trace_id=_trace_id(info.trace_id, f"{at}.trace_id"),
        experiment_id=_experiment_of(info.trace_location, f"{at}.trace_location"),
        request_time=parse_timestamp(info.request_time, f"{at}.request_time"),
        state=parse_state(info.state),
        execution_duration=(
            None
            if info.execution_duration is None
            else parse_duration(info.execution_duration, f"{at}.execution_duration")
        ),
        client_request_id=info.client_request_id or None,
        request_preview=info.request_preview,
        response_preview=info.response_preview,
        metadata=info.trace_metadata,
        # The spans arrive as `traces.json` in the trace's artifacts; this tag makes MLflow's client read
        # them back through `traces/get` and `traces/batchGet`, ten traces a request, instead of
        # downloading one file per trace itself (see docs/architecture.md).
        tags={**tags, SPANS_LOCATION_TAG: SPANS_IN_ARTIFACTS},
    )


async def start(request: Request) -> Response:
    trace = _new_trace(await read_json(request, StartTrace))
    info = await run_sync(store_of(request).start_trace, trace)
    return json_response({"trace": {"trace_info": info}})


async def get_info(request: Request) -> Response:
    info = await run_read(request, store_of(request).get_trace_info, request.path_params["trace_id"])
    return json_response({"trace": {"trace_info": info}})


async def get_with_spans(request: Request) -> Response:
    query = read_query(request, GetTrace)
    require(query.trace_id, "trace_id")
    info = await run_read(request, store_of(request).get_trace_info, query.trace_id)
    (spans,) = await read_spans(artifacts_of(request), store_of(request), [info])
    return json_response({"trace": _trace(info, spans)})


async def batch_get_with_spans(request: Request) -> Response:
    query = read_query(request, BatchGetTraces, frozenset({"trace_ids", "experiment_ids"}))
    infos = await _trace_infos(store_of(request), query.trace_ids, query.experiment_ids, MAX_BATCH_TRACES)
    spans = await read_spans(artifacts_of(request), store_of(request), infos)
    return json_response({"traces": [_trace(i, s) for i, s in zip(infos, spans, strict=True)]})


def _trace(info: TraceInfo, spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"trace_info": info, "spans": spans} if spans else {"trace_info": info}  # MLflow omits empty lists


async def _trace_infos(
    store: Store, trace_ids: list[str], experiment_ids: list[str] | None, limit: int
) -> list[TraceInfo]:
    if not trace_ids:
        raise missing("trace_ids")
    if len(trace_ids) > limit:
        raise InvalidParameterValue(
            f"Invalid value for parameter 'trace_ids' supplied: at most {limit} ids per request, got {len(trace_ids)}"
        )
    experiments = None if experiment_ids is None else [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
    return await run_sync(store.batch_get_trace_infos, trace_ids, experiments)


async def batch_get_infos(request: Request) -> Response:
    body = await read_json(request, BatchGetTraceInfos)
    infos = await _trace_infos(store_of(request), body.trace_ids, body.experiment_ids, MAX_BATCH_TRACE_IDS)
    return page_response("trace_infos", infos, None)


async def search(request: Request) -> Response:
    body = await read_json(request, SearchTraces)
    if not body.locations:
        raise missing("locations")
    experiment_ids = [_experiment_of(loc, f"locations[{i}]") for i, loc in enumerate(body.locations)]
    max_results = validate_page_size(body.max_results, 100, MAX_SEARCH_TRACES)
    if experiment_ids and not (experiment_ids := await within_workspace(request, experiment_ids)):
        return page_response("traces", [], None)  # all of other workspaces
    if filters_spans(body.filter):
        await copy_spans_for_search(artifacts_of(request), store_of(request), experiment_ids)
    traces, token = await run_sync(
        store_of(request).search_traces,
        experiment_ids,
        body.filter or "",
        body.order_by,
        max_results,
        body.page_token,
    )
    return page_response("traces", traces, token)


def _mutable_tag(key: str | None) -> str:
    require(key, "key")
    assert key is not None
    check_length(key, MAX_KEY_LENGTH, "key")
    if key in (ARTIFACT_LOCATION_TAG, SPANS_LOCATION_TAG):  # where the spans are: changing it would lose them
        raise InvalidParameterValue(f"Tag '{key}' is immutable and cannot be changed on a trace.")
    return key


async def set_tag(request: Request) -> Response:
    body = await read_json(request, SetTraceTag)
    # As a run's tag: a key that names a file resolving elsewhere (`../k`) is refused, a long value cut.
    key = validate_key(_mutable_tag(body.key), "Tag")
    value = truncate(body.value, MAX_TAG_VALUE_LENGTH)
    if key == TRACE_NAME_TAG:
        check_length(value, MAX_TRACE_NAME_LENGTH, "Trace name")
    await run_sync(store_of(request).set_trace_tag, request.path_params["trace_id"], key, value)
    return json_response()


async def delete_tag(request: Request) -> Response:
    # MLflow's client sends the key in a JSON body; curl users tend to put it in the query.
    body = await request.body()
    key = decode_body(body, DeleteTraceTag).key if body.strip() else request.query_params.get("key")
    await run_sync(store_of(request).delete_trace_tag, request.path_params["trace_id"], _mutable_tag(key))
    return json_response()


async def link_to_run(request: Request) -> Response:
    body = await read_json(request, LinkTracesToRun)
    run_id = validate_run_id(body.run_id)
    if body.trace_ids:  # none: nothing to do, as in MLflow
        await run_sync(store_of(request).link_traces_to_run, body.trace_ids, run_id)
    return json_response()


def _prompt_version(ref: PromptVersionRef, i: int) -> str:
    """ "name/3", as MLflow names a linked prompt version (and `prompt = "name/3"` finds its traces)."""
    field = f"prompt_versions[{i}]"
    if not ref.name:
        raise missing(f"{field}.name")
    check_length(ref.name, MAX_PROMPT_NAME_LENGTH, f"{field}.name")
    if "/" in ref.name:  # the name/version pair would not read back
        raise InvalidParameterValue(f"Invalid value '{ref.name}' for parameter '{field}.name': it contains '/'")
    version = str(ref.version) if ref.version is not None else ""
    if not version.isdigit():
        raise InvalidParameterValue(f"Invalid value '{version}' for parameter '{field}.version': not a version number")
    return prompt_link(ref.name, int(version))


async def link_prompts(request: Request) -> Response:
    body = await read_json(request, LinkPromptsToTrace)
    if not body.trace_id:
        raise missing("trace_id")
    if body.prompt_versions is None:
        raise missing("prompt_versions")
    versions = [_prompt_version(ref, i) for i, ref in enumerate(body.prompt_versions)]
    await run_sync(store_of(request).link_prompts_to_trace, body.trace_id, versions)
    return json_response()


async def delete_traces(request: Request) -> Response:
    body = await read_json(request, DeleteTraces)
    experiment_id = parse_experiment_id(body.experiment_id)
    deleted, locations = await run_sync(
        store_of(request).delete_traces,
        experiment_id,
        body.max_timestamp_millis,
        body.max_traces,
        body.request_ids,
    )
    await _delete_spans(request, locations)
    return json_response({"traces_deleted": deleted})


async def _delete_spans(request: Request, locations: list[str]) -> None:
    """Remove deleted traces' span folders, 32 at a time (deleting by age may remove thousands; on S3 each
    is a listing and a delete). Best effort: the traces are gone already, and a file left behind costs
    only space."""
    artifacts = artifacts_of(request)

    async def delete(location: str) -> None:
        path = proxy_path(location)
        if path is None:
            return
        if posixpath.basename(path) == "artifacts":  # `…/traces/<id>/artifacts`: the trace's folder goes
            path = posixpath.dirname(path)
        try:
            await artifacts.delete(path)
        except ResourceDoesNotExist:
            pass  # a trace whose client never uploaded its spans
        except Exception:
            _log.warning("could not delete the spans of a deleted trace at %s", location, exc_info=True)

    for start in range(0, len(locations), 32):
        await asyncio.gather(*(delete(location) for location in locations[start : start + 32]))


_V3 = "/api/3.0/mlflow/traces"
_V2 = "/api/2.0/mlflow/traces"
routes = [
    Route(_V3, start, methods=["POST"]),
    Route(f"{_V3}/search", search, methods=["POST"]),
    Route(f"{_V3}/batchGetInfos", batch_get_infos, methods=["POST"]),
    Route(f"{_V3}/get", get_with_spans, methods=["GET"]),
    Route(f"{_V3}/batchGet", batch_get_with_spans, methods=["GET"]),
    *(Route(f"{base}/delete-traces", delete_traces, methods=["POST"]) for base in (_V2, _V3)),
    Route(f"{_V2}/link-to-run", link_to_run, methods=["POST"]),
    Route(f"{_V2}/link-prompts", link_prompts, methods=["POST"]),
    *(Route(f"{base}/{{trace_id}}/tags", set_tag, methods=["PATCH"]) for base in (_V2, _V3)),
    *(Route(f"{base}/{{trace_id}}/tags", delete_tag, methods=["DELETE"]) for base in (_V2, _V3)),
    Route(f"{_V3}/{{trace_id}}", get_info, methods=["GET"]),
]
