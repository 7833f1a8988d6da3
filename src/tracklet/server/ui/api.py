"""Tracklet's own JSON endpoints for the web UI, under `/api/tracklet/` (documented in docs/ui.md).

They exist where MLflow's REST API would make a page slow or chatty (a runs table page with only the
requested columns and a total, downsampled histories, bulk reads and bulk lifecycle changes) or lacks
what a page needs (the events a webhook may name).
"""

from __future__ import annotations

import contextlib
import csv
import io
import posixpath
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tracklet.artifacts.paths import clean_path, proxy_path
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.server.api.experiments import view_type_of
from tracklet.server.api.trace_spans import read_span_dicts
from tracklet.server.protocol import json_response, read_json, read_query, run_sync
from tracklet.server.state import artifacts_of, store_of
from tracklet.server.ui import history, queries
from tracklet.validation import parse_experiment_id, require, validate_run_id
from tracklet.webhooks.events import ENTITY_ACTIONS

MAX_PAGE = 5000
MAX_HISTORY_RUNS = 500
MAX_BULK_RUNS = 2000
MAX_DEFAULT_COLUMNS = 1000
DEFAULT_PREVIEW_BYTES = 1_000_000
MAX_PREVIEW_BYTES = 10_000_000


class TableRequest(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str = ""
    order_by: list[str] = []
    view_type: str = "ACTIVE_ONLY"
    offset: int = 0
    limit: int = 100
    params: list[str] = []
    metrics: list[str] = []
    tags: list[str] = []
    nested: bool = False
    parent_id: str | None = None
    include_keys: bool = False
    default_columns: int = 0

    def query(self) -> queries.TableQuery:
        if not self.experiment_ids:
            raise InvalidParameterValue("experiment_ids must name at least one experiment")
        return queries.TableQuery(
            experiment_ids=[parse_experiment_id(e, "experiment_ids") for e in self.experiment_ids],
            filter=self.filter,
            order_by=self.order_by,
            view_type=view_type_of(self.view_type),
            nested=self.nested,
            parent_id=validate_run_id(self.parent_id) if self.parent_id is not None else None,
        )

    def columns(self) -> queries.Columns:
        return queries.Columns(self.params, self.metrics, self.tags)


class RunIds(msgspec.Struct):
    run_ids: list[str] = []

    def ids(self, limit: int = MAX_BULK_RUNS) -> list[str]:
        if not self.run_ids:
            raise InvalidParameterValue("run_ids must name at least one run")
        if len(self.run_ids) > limit:
            raise InvalidParameterValue(f"At most {limit} run_ids per request, got {len(self.run_ids)}")
        return [validate_run_id(r) for r in self.run_ids]


class RunSelection(msgspec.Struct):
    """Runs to delete or restore: listed ids, or every run of experiments matching a filter."""

    run_ids: list[str] | None = None
    experiment_ids: list[str] | None = None
    filter: str = ""
    exclude_run_ids: list[str] = []


class HistoryQuery(msgspec.Struct):
    run_ids: list[str] = []
    metric_key: str = ""
    x: str = "step"
    min: float | None = None
    max: float | None = None
    buckets: int = 1000


class KeysQuery(msgspec.Struct):
    experiment_ids: list[str] = []


class ViewQuery(msgspec.Struct):
    view_type: str = "ACTIVE_ONLY"


class PreviewQuery(msgspec.Struct):
    run_id: str = ""
    model_id: str = ""
    path: str = ""
    max_bytes: int = DEFAULT_PREVIEW_BYTES


class TraceQuery(msgspec.Struct):
    trace_id: str = ""


class ListQuery(msgspec.Struct):
    run_id: str = ""
    model_id: str = ""
    path: str = ""


def _read(store: Any, fn: Callable[..., Any], *args: Any) -> Any:
    with store.db.read() as conn:
        return fn(conn, *args)


async def runs_table(request: Request) -> Response:
    body = await read_json(request, TableRequest)
    if not 1 <= body.limit <= MAX_PAGE:
        raise InvalidParameterValue(f"limit must be between 1 and {MAX_PAGE}, got {body.limit}")
    if body.offset < 0:
        raise InvalidParameterValue(f"offset must not be negative, got {body.offset}")
    if not 0 <= body.default_columns <= MAX_DEFAULT_COLUMNS:
        raise InvalidParameterValue(
            f"default_columns must be between 0 and {MAX_DEFAULT_COLUMNS}, got {body.default_columns}"
        )
    q = body.query()
    store = store_of(request)
    page = await run_sync(
        _read, store, queries.table_page, q, body.columns(), body.limit, body.offset, body.default_columns
    )
    payload: dict[str, Any] = {"total": page.total, "offset": body.offset, "rows": page.rows}
    if page.matched is not None:
        payload["matched"] = page.matched
    if page.columns is not None:
        payload["columns"] = page.columns
    if body.include_keys:
        payload["keys"] = await run_sync(_read, store, queries.available_keys, q.experiment_ids)
    return json_response(payload)


async def runs_keys(request: Request) -> Response:
    query = read_query(request, KeysQuery, frozenset({"experiment_ids"}))
    ids = [parse_experiment_id(e, "experiment_ids") for e in query.experiment_ids]
    if not ids:
        raise InvalidParameterValue("experiment_ids must name at least one experiment")
    return json_response({"keys": await run_sync(_read, store_of(request), queries.available_keys, ids)})


def _csv_chunks(store: Any, q: queries.TableQuery, columns: queries.Columns) -> list[bytes]:
    header = [
        "run_id",
        "run_name",
        "experiment_id",
        "status",
        "user_id",
        "start_time",
        "end_time",
        "parent_run_id",
    ]
    out: list[bytes] = []
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        header
        + [f"params.{k}" for k in columns.params]
        + [f"metrics.{k}" for k in columns.metrics]
        + [f"tags.{k}" for k in columns.tags]
    )
    with store.db.read() as conn:
        ids = queries.page_ids(conn, q, 10**12, 0)
        for start in range(0, len(ids), 1000):
            for row in queries.load_rows(conn, ids[start : start + 1000], columns):
                writer.writerow(
                    [row[h] if row[h] is not None else "" for h in header]
                    + [row["params"].get(k, "") for k in columns.params]
                    + [row["metrics"].get(k, "") for k in columns.metrics]
                    + [row["tags"].get(k, "") for k in columns.tags]
                )
            out.append(buf.getvalue().encode())
            buf.seek(0)
            buf.truncate()
    out.append(buf.getvalue().encode())
    return out


async def runs_csv(request: Request) -> Response:
    body = await read_json(request, TableRequest)
    q = body.query()
    q = queries.TableQuery(q.experiment_ids, q.filter, q.order_by, q.view_type)  # CSV is always flat
    chunks = await run_sync(_csv_chunks, store_of(request), q, body.columns())

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    name = "runs-" + "-".join(str(e) for e in q.experiment_ids) + ".csv"
    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def runs_bulk_get(request: Request) -> Response:
    body = await read_json(request, RunIds)
    store = store_of(request)
    runs = await run_sync(_read, store, store.load_runs, body.ids())
    return json_response({"runs": runs})


async def _set_stage(request: Request, delete: bool) -> Response:
    """One transaction whatever the number of runs: listed ids, or all runs matching a filter."""
    body = await read_json(request, RunSelection)
    if (body.run_ids is None) == (body.experiment_ids is None):
        raise InvalidParameterValue("Give either run_ids or experiment_ids (with an optional filter), not both")
    stage = "deleted" if delete else "active"
    db = store_of(request).db
    if body.run_ids is not None:
        ids = RunIds(body.run_ids).ids()

        def by_ids() -> int:
            with db.write() as conn:
                return queries.set_stage(conn, stage, run_ids=ids)

        count = await run_sync(by_ids)
        return json_response({"run_ids": ids, "count": count})
    if not body.experiment_ids:
        raise InvalidParameterValue("experiment_ids must name at least one experiment")
    if len(body.exclude_run_ids) > MAX_BULK_RUNS:
        raise InvalidParameterValue(f"At most {MAX_BULK_RUNS} exclude_run_ids, got {len(body.exclude_run_ids)}")
    exclude = [validate_run_id(r) for r in body.exclude_run_ids]
    q = queries.TableQuery(
        experiment_ids=[parse_experiment_id(e, "experiment_ids") for e in body.experiment_ids],
        filter=body.filter,
        view_type="ACTIVE_ONLY" if delete else "DELETED_ONLY",  # the runs this change applies to
    )
    where = queries.matching_ids(q)  # a bad filter fails here, before the write lock is taken

    def by_filter() -> int:
        with db.write() as conn:
            return queries.set_stage(conn, stage, where=where, exclude=exclude)

    return json_response({"count": await run_sync(by_filter)})


async def runs_delete(request: Request) -> Response:
    return await _set_stage(request, delete=True)


async def runs_restore(request: Request) -> Response:
    return await _set_stage(request, delete=False)


async def metric_history(request: Request) -> Response:
    query = read_query(request, HistoryQuery, frozenset({"run_ids"}))
    if not query.metric_key:
        raise InvalidParameterValue("Missing value for required parameter 'metric_key'.")
    ids = RunIds(query.run_ids).ids(MAX_HISTORY_RUNS)
    history.check_request(query.x, query.buckets, query.min, query.max)  # before fanning out per run
    db = store_of(request).db
    results: dict[str, history.Series] = {}
    limiter = anyio.CapacityLimiter(4)

    async def one(run_id: str) -> None:
        results[run_id] = await anyio.to_thread.run_sync(
            history.downsample, db, run_id, query.metric_key, query.x, query.min, query.max, query.buckets,
            limiter=limiter,
        )  # fmt: skip

    async with anyio.create_task_group() as tg:
        for run_id in dict.fromkeys(ids):
            tg.start_soon(one, run_id)
    return json_response(
        {
            "metric_key": query.metric_key,
            "x": query.x,
            "series": [results[r].to_json() for r in dict.fromkeys(ids)],
        }
    )


async def experiments_list(request: Request) -> Response:
    query = read_query(request, ViewQuery)
    view = view_type_of(query.view_type)
    rows = await run_sync(_read, store_of(request), queries.experiments_with_counts, view)
    return json_response({"experiments": rows})


async def _artifact_root(request: Request, run_id: str, model_id: str) -> str:
    """The proxied artifact folder of a run or of a logged model (exactly one of them)."""
    if bool(run_id) == bool(model_id):
        raise InvalidParameterValue("Give either run_id or model_id")
    store = store_of(request)
    if run_id:
        uri, owner = (await run_sync(store.get_run, validate_run_id(run_id))).info.artifact_uri, f"run {run_id}"
    else:
        model = await run_sync(store.get_logged_model, model_id)
        uri, owner = model.info.artifact_uri, f"logged model {model_id}"
    root = proxy_path(uri)
    if root is None:
        raise InvalidParameterValue(f"Artifacts of {owner} are not served by this server")
    return root


async def artifact_list(request: Request) -> Response:
    """A folder of a run's or logged model's artifacts, paths relative to its artifact root."""
    query = read_query(request, ListQuery)
    root = await _artifact_root(request, query.run_id, query.model_id)
    sub = clean_path(query.path)
    files = await artifacts_of(request).list(posixpath.join(root, sub) if sub else root)
    return json_response(
        {
            "files": [
                {"path": posixpath.join(sub, f.path) if sub else f.path, "is_dir": f.is_dir, "file_size": f.file_size}
                for f in files
            ]
        }  # fmt: skip
    )


async def artifact_preview(request: Request) -> Response:
    """The first `max_bytes` of a run's or logged model's artifact, for previews (headers say the size
    and if it was cut)."""
    query = read_query(request, PreviewQuery)
    if not 1 <= query.max_bytes <= MAX_PREVIEW_BYTES:
        raise InvalidParameterValue(f"max_bytes must be between 1 and {MAX_PREVIEW_BYTES}")
    root = await _artifact_root(request, query.run_id, query.model_id)
    path = posixpath.join(root, clean_path(query.path, allow_empty=False))
    found = await artifacts_of(request).open(path)
    data = bytearray()
    async with contextlib.aclosing(found.chunks) as chunks:  # closes a file left half read
        async for chunk in chunks:
            data.extend(chunk)
            if len(data) >= query.max_bytes:
                break
    body = bytes(data[: query.max_bytes])
    headers = {
        "X-Tracklet-Size": str(found.size),
        "X-Tracklet-Truncated": "true" if found.size > len(body) else "false",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return Response(body, media_type="text/plain; charset=utf-8", headers=headers)


async def trace_runs(request: Request) -> Response:
    """The runs of a trace (recorded in, then linked to), whole, for the trace page."""
    trace_id = read_query(request, TraceQuery).trace_id
    require(trace_id, "trace_id")
    store = store_of(request)
    run_ids = await run_sync(store.trace_run_ids, trace_id)
    runs = await run_sync(_read, store, store.load_runs, run_ids) if run_ids else []
    return json_response({"runs": runs})


async def trace_spans(request: Request) -> Response:
    """A trace's spans in the layout of `traces.json`, wherever they are kept (the trace page reads the
    client's own file through the artifact proxy, and asks here for spans received over OTLP)."""
    trace_id = read_query(request, TraceQuery).trace_id
    require(trace_id, "trace_id")
    store = store_of(request)
    info = await run_sync(store.get_trace_info, trace_id)
    (spans,) = await read_span_dicts(artifacts_of(request), store, [info])
    if not spans:
        raise ResourceDoesNotExist(f"No spans of trace '{trace_id}' have arrived")
    return json_response({"spans": spans})


# Events a webhook may name that tracklet never sends: MLflow's AI gateway budgets (tracklet has no gateway).
_NEVER_SENT = frozenset({"budget_policy"})


async def webhook_events(request: Request) -> Response:
    """The events a webhook may subscribe to, for the webhook form: MLflow's API has no list of them."""
    events = [
        {"entity": entity, "action": action, "sent": entity not in _NEVER_SENT}
        for entity, actions in ENTITY_ACTIONS.items()
        for action in actions
    ]
    return json_response({"events": events})


_BASE = "/api/tracklet"
routes = [
    Route(f"{_BASE}/experiments", experiments_list, methods=["GET"]),
    Route(f"{_BASE}/runs/table", runs_table, methods=["POST"]),
    Route(f"{_BASE}/runs/table.csv", runs_csv, methods=["POST"]),
    Route(f"{_BASE}/runs/keys", runs_keys, methods=["GET"]),
    Route(f"{_BASE}/runs/bulk-get", runs_bulk_get, methods=["POST"]),
    Route(f"{_BASE}/runs/delete", runs_delete, methods=["POST"]),
    Route(f"{_BASE}/runs/restore", runs_restore, methods=["POST"]),
    Route(f"{_BASE}/metrics/history", metric_history, methods=["GET"]),
    Route(f"{_BASE}/artifacts/list", artifact_list, methods=["GET"]),
    Route(f"{_BASE}/artifacts/preview", artifact_preview, methods=["GET"]),
    Route(f"{_BASE}/traces/spans", trace_spans, methods=["GET"]),
    Route(f"{_BASE}/traces/runs", trace_runs, methods=["GET"]),
    Route(f"{_BASE}/webhooks/events", webhook_events, methods=["GET"]),
]
