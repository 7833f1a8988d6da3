"""`/api/2.0/mlflow/runs/*` and `metrics/get-history`."""

from __future__ import annotations

import json
from functools import partial

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.entities import DatasetInput, KeyValue
from tracklet.errors import InvalidParameterValue
from tracklet.server.api.experiments import view_type_of
from tracklet.server.protocol import (
    Int64,
    json_response,
    page_response,
    read_json,
    read_query,
    run_read,
    run_sync,
    run_write,
)
from tracklet.server.state import store_of
from tracklet.server.workspace_scope import within_workspace
from tracklet.validation import (
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_BATCH_TOTAL,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    missing,
    negative_timestamp,
    parse_experiment_id,
    require,
    truncate,
    validate_bulk_interval,
    validate_dataset_input,
    validate_key,
    validate_max_results,
    validate_metric_keys,
    validate_run_id,
)


class RunRef(msgspec.Struct):
    run_id: str | None = None
    run_uuid: str | None = None

    def id(self) -> str:
        return validate_run_id(self.run_id or self.run_uuid)


class CreateRun(msgspec.Struct):
    experiment_id: str | None = None
    user_id: str | None = None
    run_name: str | None = None
    start_time: Int64 | None = None
    tags: list[KeyValue] = []


class UpdateRun(RunRef):
    status: str | int | None = None
    end_time: Int64 | None = None
    run_name: str | None = None


class LogParam(RunRef):
    key: str | None = None
    value: str | None = None


class SetTag(LogParam):
    pass


class MetricIn(msgspec.Struct, gc=False):
    # Only scalars, so untracked by the garbage collector: a batch decodes a thousand of them.
    key: str | None = None
    value: float | None = None
    timestamp: Int64 | None = None
    step: Int64 = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LogMetric(MetricIn):
    run_id: str | None = None
    run_uuid: str | None = None

    def id(self) -> str:
        return validate_run_id(self.run_id or self.run_uuid)


class LogBatch(RunRef):
    metrics: list[MetricIn] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class ModelRef(msgspec.Struct):
    model_id: str
    step: Int64 = 0


class LogInputs(RunRef):
    datasets: list[DatasetInput] = []
    models: list[ModelRef] = []


class LogOutputs(RunRef):
    models: list[ModelRef] = []


class LogModel(RunRef):
    model_json: str | None = None


class SearchRuns(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str | None = None
    run_view_type: str | int | None = None
    max_results: Int64 | None = None
    order_by: list[str] = []
    page_token: str | None = None


class GetHistory(RunRef):
    metric_key: str | None = None
    max_results: Int64 | None = None
    page_token: str | None = None


# Values in a batch up to which writing it is quicker than a hop to a store thread (`run_write`).
_SMALL_BATCH = 100

_STATUS_NAMES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


def _status_name(status: str | int | None) -> str | None:
    if isinstance(status, int) or (isinstance(status, str) and status.isdigit()):
        return _STATUS_NAMES.get(int(status))
    return status


def _metric_points(
    metrics: list[MetricIn] | list[LogMetric], prefix: str = "metrics"
) -> list[MetricIn] | list[LogMetric]:
    """Check every point of a request; they are handed to the store as they are (this runs per point
    on the hottest path, so the common case is a couple of set and generator passes)."""

    def field(i: int, name: str) -> str:
        return f"{prefix}[{i}].{name}" if prefix else name

    validate_metric_keys([m.key for m in metrics], lambda i: field(i, "key"))
    bad = next((i for i, m in enumerate(metrics) if m.value is None or m.timestamp is None or m.timestamp < 0), None)
    if bad is not None:
        m = metrics[bad]
        if m.value is None:
            raise missing(field(bad, "value"))
        if m.timestamp is None:
            raise missing(field(bad, "timestamp"))
        raise negative_timestamp(m.timestamp, field(bad, "timestamp"))
    return metrics


def _params(params: list[KeyValue]) -> list[KeyValue]:
    seen: set[str] = set()
    out = []
    for i, p in enumerate(params):
        validate_key(p.key, "Param", f"params[{i}].key")
        if p.key in seen:
            raise InvalidParameterValue(
                f"Duplicate parameter keys have been submitted: ['{p.key}']. Please ensure the request contains "
                "only one param value per param key."
            )
        seen.add(p.key)
        out.append(KeyValue(key=p.key, value=truncate(p.value, MAX_PARAM_VALUE_LENGTH)))
    return out


def _tags(tags: list[KeyValue]) -> list[KeyValue]:
    out = []
    for i, t in enumerate(tags):
        validate_key(t.key, "Tag", f"tags[{i}].key")
        out.append(KeyValue(key=t.key, value=truncate(t.value, MAX_TAG_VALUE_LENGTH)))
    return out


async def create(request: Request) -> Response:
    body = await read_json(request, CreateRun)
    experiment_id = parse_experiment_id(body.experiment_id if body.experiment_id is not None else "0")
    run = await run_write(
        request,
        store_of(request).create_run,
        experiment_id,
        body.user_id or "",
        body.start_time if body.start_time is not None else 0,
        body.run_name,
        _tags(body.tags),
    )
    return json_response({"run": run})


async def get(request: Request) -> Response:
    query = read_query(request, RunRef)
    run = await run_read(request, store_of(request).get_run, query.id())
    return json_response({"run": run})


async def update(request: Request) -> Response:
    body = await read_json(request, UpdateRun)
    info = await run_write(
        request, store_of(request).update_run, body.id(), _status_name(body.status), body.end_time, body.run_name
    )
    return json_response({"run_info": info})


async def delete(request: Request) -> Response:
    body = await read_json(request, RunRef)
    await run_sync(store_of(request).delete_run, body.id())
    return json_response()


async def restore(request: Request) -> Response:
    body = await read_json(request, RunRef)
    await run_sync(store_of(request).restore_run, body.id())
    return json_response()


async def log_parameter(request: Request) -> Response:
    body = await read_json(request, LogParam)
    validate_key(body.key, "Param")
    param = KeyValue(key=body.key, value=truncate(body.value, MAX_PARAM_VALUE_LENGTH))  # type: ignore[arg-type]
    await run_write(request, store_of(request).log_batch, body.id(), [], [param], [])
    return json_response()


async def set_tag(request: Request) -> Response:
    body = await read_json(request, SetTag)
    validate_key(body.key, "Tag")
    tag = KeyValue(key=body.key, value=truncate(body.value, MAX_TAG_VALUE_LENGTH))  # type: ignore[arg-type]
    await run_write(request, store_of(request).log_batch, body.id(), [], [], [tag])
    return json_response()


async def delete_tag(request: Request) -> Response:
    body = await read_json(request, SetTag)
    require(body.key, "key")
    await run_sync(store_of(request).delete_tag, body.id(), body.key)
    return json_response()


async def log_metric(request: Request) -> Response:
    body = await read_json(request, LogMetric)
    run_id = body.id()
    points = _metric_points([body], prefix="")
    await run_write(request, store_of(request).log_batch, run_id, points, [], [])
    return json_response()


async def log_batch(request: Request) -> Response:
    body = await read_json(request, LogBatch)
    run_id = body.id()
    n_metrics, n_params, n_tags = len(body.metrics), len(body.params), len(body.tags)
    if n_metrics > MAX_BATCH_METRICS or n_params > MAX_BATCH_PARAMS or n_tags > MAX_BATCH_TAGS:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_BATCH_METRICS} metrics, {MAX_BATCH_PARAMS} params "
            f"and {MAX_BATCH_TAGS} tags. Got {n_metrics} metrics, {n_params} params and {n_tags} tags."
        )
    if n_metrics + n_params + n_tags > MAX_BATCH_TOTAL:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_BATCH_TOTAL} metrics, params and tags in total. "
            f"Got {n_metrics + n_params + n_tags}."
        )
    points = _metric_points(body.metrics)
    params = _params(body.params)
    tags = _tags(body.tags)
    if n_metrics + n_params + n_tags > _SMALL_BATCH:
        await run_sync(store_of(request).log_batch, run_id, points, params, tags)
    elif points or params or tags:
        await run_write(request, store_of(request).log_batch, run_id, points, params, tags)
    return json_response()


async def log_inputs(request: Request) -> Response:
    body = await read_json(request, LogInputs)
    for i, d in enumerate(body.datasets):
        validate_dataset_input(d, f"datasets[{i}]")
    await run_sync(store_of(request).log_inputs, body.id(), body.datasets, [m.model_id for m in body.models])
    return json_response()


async def log_outputs(request: Request) -> Response:
    body = await read_json(request, LogOutputs)
    if not body.models:
        raise missing("models")
    await run_sync(store_of(request).log_outputs, body.id(), [(m.model_id, m.step) for m in body.models])
    return json_response()


async def log_model(request: Request) -> Response:
    """R client's `mlflow_log_model`: appends the model JSON to the `mlflow.log-model.history` tag."""
    body = await read_json(request, LogModel)
    run_id = body.id()
    require(body.model_json, "model_json")
    try:
        model = json.loads(body.model_json)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidParameterValue("Malformed value for 'model_json': not valid JSON") from None
    store = store_of(request)
    run = await run_sync(store.get_run, run_id)
    current = next((t.value for t in run.data.tags if t.key == "mlflow.log-model.history"), "[]")
    history = json.loads(current) if current else []
    history.append(model)
    tag = KeyValue(key="mlflow.log-model.history", value=json.dumps(history))
    await run_sync(store.log_batch, run_id, [], [], [tag])
    return json_response()


async def search(request: Request) -> Response:
    body = await read_json(request, SearchRuns)
    max_results = validate_max_results(body.max_results, default=1000)
    experiment_ids = [parse_experiment_id(e, "experiment_ids") for e in body.experiment_ids]
    if experiment_ids and not (experiment_ids := await within_workspace(request, experiment_ids)):
        return page_response("runs", [], None)  # all of other workspaces
    runs, token = await run_sync(
        partial(store_of(request).search_runs, encoded=True),  # params and tags as JSON from the database
        experiment_ids,
        body.filter or "",
        view_type_of(body.run_view_type),
        max_results,
        body.order_by,
        body.page_token,
    )
    return page_response("runs", runs, token)


async def get_history(request: Request) -> Response:
    query = read_query(request, GetHistory)
    run_id = query.id()
    require(query.metric_key, "metric_key")
    max_results = query.max_results
    if max_results is not None:
        if max_results < 1:
            raise InvalidParameterValue(f"Invalid value {max_results} for parameter 'max_results': must be >= 1")
        # No upper bound in MLflow; capping keeps LIMIT max_results + 1 within int64 and changes nothing else.
        max_results = min(max_results, 2**62)
    metrics, token = await run_sync(
        store_of(request).get_metric_history, run_id, query.metric_key, max_results, query.page_token
    )
    return page_response("metrics", metrics, token)


async def get_history_bulk_interval(request: Request) -> Response:
    """MLflow's chart read: an evenly spaced sample of one metric of up to 100 runs."""
    params = request.query_params
    metric_key = params.get("metric_key", "")
    run_ids = params.getlist("run_ids")
    checked = validate_bulk_interval(
        run_ids, metric_key, params.get("start_step"), params.get("end_step"), params.get("max_results")
    )
    metrics = await run_sync(store_of(request).get_metric_history_bulk_interval, run_ids, metric_key, *checked)
    return page_response("metrics", metrics, None)


_BASE = "/api/2.0/mlflow/runs"
routes = [
    Route(f"{_BASE}/log-batch", log_batch, methods=["POST"]),
    Route(f"{_BASE}/log-metric", log_metric, methods=["POST"]),
    Route(f"{_BASE}/create", create, methods=["POST"]),
    Route(f"{_BASE}/get", get, methods=["GET"]),
    Route(f"{_BASE}/update", update, methods=["POST"]),
    Route(f"{_BASE}/log-parameter", log_parameter, methods=["POST"]),
    Route(f"{_BASE}/set-tag", set_tag, methods=["POST"]),
    Route(f"{_BASE}/delete", delete, methods=["POST"]),
    Route(f"{_BASE}/restore", restore, methods=["POST"]),
    Route(f"{_BASE}/delete-tag", delete_tag, methods=["POST"]),
    Route(f"{_BASE}/search", search, methods=["POST"]),
    Route(f"{_BASE}/log-inputs", log_inputs, methods=["POST"]),
    Route(f"{_BASE}/outputs", log_outputs, methods=["POST"]),
    Route(f"{_BASE}/log-model", log_model, methods=["POST"]),
    Route("/api/2.0/mlflow/metrics/get-history", get_history, methods=["GET"]),
    # The MLflow UI calls it under /ajax-api; both prefixes answer, as in MLflow.
    *(
        Route(f"{prefix}/2.0/mlflow/metrics/get-history-bulk-interval", get_history_bulk_interval, methods=["GET"])
        for prefix in ("/api", "/ajax-api")
    ),
]
