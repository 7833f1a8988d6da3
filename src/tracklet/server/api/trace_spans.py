"""A trace's spans as `…/traces/get` and `…/traces/batchGet` answer them: MLflow's span dicts, from the
client's `traces.json` in the artifact store or from the database (spans received over OTLP), rewritten
as OpenTelemetry's protobuf JSON.

The two forms differ in three places. Span attributes are JSON texts in the file and typed
`AnyValue`s on the wire (the client decodes them and dumps them back to JSON text, so a value sent as a
string would arrive quoted twice); attributes are a dict in the file and a key/value list on the wire;
links name their trace and span in hex in the file and as bytes (base64) on the wire.

Span filters search the spans in the database (`store/span_search.py`): an uploaded `traces.json` is
copied there after the upload is answered, and OTLP rows get their fields when exports pause
(`SpanIndexer`); a search with a span filter first does what is missing for its experiments
(`copy_spans_for_search`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import posixpath
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from tracklet.artifacts.base import ArtifactStore
from tracklet.artifacts.paths import proxy_path
from tracklet.entities import TraceInfo
from tracklet.server.protocol import run_sync
from tracklet.store.search import parse_trace_filter
from tracklet.store.search_sql import SPAN_KINDS
from tracklet.store.span_search import decode_attribute
from tracklet.store.spans import SpanStore
from tracklet.store.traces import ARTIFACT_LOCATION_TAG, SPANS_IN_DATABASE, SPANS_LOCATION_TAG

_log = logging.getLogger(__name__)

SPANS_FILE = "traces.json"
# Where MLflow's client uploads a trace's spans: `<experiment artifacts>/traces/<trace id>/artifacts/`.
_SPANS_UPLOAD = re.compile(r"(?:^|/)traces/([^/]+)/artifacts/" + re.escape(SPANS_FILE) + "$")
MAX_KEPT_UPLOAD = 32 * 2**20  # larger uploads are not kept in memory: a span filter reads them later
_GATHER_S = 0.25  # the uploads of this long are copied together
_QUIET_S = 1.0  # OTLP rows get their fields once no export has come for this long
_COPY_BATCH = 100  # traces' files read, then written, at a time
_INT64 = range(-(2**63), 2**63)
# Doubles that JSON cannot write, as protobuf's JSON mapping spells them.
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def any_value(value: Any) -> dict[str, Any]:
    """A Python value (as JSON decodes it) as an OpenTelemetry `AnyValue` in protobuf JSON."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int) and value in _INT64:
        return {"int_value": str(value)}
    if isinstance(value, int | float):
        number = float(value)
        return {"double_value": number if math.isfinite(number) else _NON_FINITE[str(number)]}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, list):
        return {"array_value": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlist_value": {"values": key_values(value)}}
    return {"string_value": str(value)}


def key_values(mapping: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": any_value(v)} for k, v in (mapping or {}).items()]


def _hex_as_base64(text: Any, length: int) -> str | None:
    hex_id = str(text or "").removeprefix("tr-")
    try:
        raw = binascii.unhexlify(hex_id)
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(raw).decode() if len(raw) == length else None


def _link(link: dict[str, Any]) -> dict[str, Any] | None:
    trace_id, span_id = _hex_as_base64(link.get("trace_id"), 16), _hex_as_base64(link.get("span_id"), 8)
    if trace_id is None or span_id is None:
        return None
    return {"trace_id": trace_id, "span_id": span_id, "attributes": key_values(link.get("attributes"))}


def otel_span(span: dict[str, Any]) -> dict[str, Any]:
    """One span dict of `traces.json` as an OpenTelemetry `Span` in protobuf JSON."""
    out: dict[str, Any] = {
        "trace_id": span.get("trace_id") or "",
        "span_id": span.get("span_id") or "",
        "name": span.get("name") or "",
        "start_time_unix_nano": str(span.get("start_time_unix_nano") or 0),
        "end_time_unix_nano": str(span.get("end_time_unix_nano") or 0),
        "attributes": [
            {"key": k, "value": any_value(decode_attribute(v))} for k, v in (span.get("attributes") or {}).items()
        ],
        "events": [
            {
                "name": event.get("name") or "",
                "time_unix_nano": str(event.get("time_unix_nano") or 0),
                "attributes": key_values(event.get("attributes")),
            }
            for event in span.get("events") or []
        ],
    }
    if span.get("parent_span_id"):
        out["parent_span_id"] = span["parent_span_id"]
    status = span.get("status") or {}
    if isinstance(status, dict) and status.get("code"):
        out["status"] = {"code": status["code"], "message": status.get("message") or ""}
    links = [link for raw in span.get("links") or [] if isinstance(raw, dict) and (link := _link(raw))]
    if links:
        out["links"] = links
    return out


async def read_spans(
    artifacts: ArtifactStore, store: SpanStore, infos: Sequence[TraceInfo]
) -> list[list[dict[str, Any]]]:
    """Each trace's spans in protobuf JSON, from wherever its tag `mlflow.trace.spansLocation` says;
    none for a trace whose client has not uploaded them (yet), or whose file cannot be read as spans
    (logged: the trace's info is still worth answering)."""
    return [[otel_span(span) for span in spans] for spans in await read_span_dicts(artifacts, store, infos)]


async def read_span_dicts(
    artifacts: ArtifactStore, store: SpanStore, infos: Sequence[TraceInfo]
) -> list[list[dict[str, Any]]]:
    """As `read_spans`, in the layout of `traces.json`."""
    in_database = {info.trace_id for info in infos if info.tags.get(SPANS_LOCATION_TAG) == SPANS_IN_DATABASE}
    rows = await run_sync(store.load_spans, list(in_database)) if in_database else {}
    paths = [
        None if info.trace_id in in_database else _spans_path(info.tags.get(ARTIFACT_LOCATION_TAG, ""))
        for info in infos
    ]
    files = iter(await artifacts.read_small_files([p for p in paths if p is not None]))
    return [
        [msgspec.json.decode(text) for text in rows.get(info.trace_id, [])]
        if path is None
        else _parse(info.trace_id, path, next(files))
        for info, path in zip(infos, paths, strict=True)
    ]


def _spans_path(artifact_location: str) -> str | None:
    root = proxy_path(artifact_location)
    return None if root is None else posixpath.join(root, SPANS_FILE)


def _parse(trace_id: str, path: str, body: bytes | None) -> list[dict[str, Any]]:
    if body is None:
        return []
    try:
        spans = msgspec.json.decode(body).get("spans") or []
        return [_span_dict(span) for span in spans]
    except (msgspec.DecodeError, AttributeError, TypeError) as err:
        _log.warning("the spans of trace %s in %s could not be read: %s", trace_id, path, err)
        return []


# The fields of a span dict that hold records: what reads them (`otel_span`, `searchable_span`) takes
# them for the JSON type here, or absent (null).
_SPAN_RECORDS: dict[str, type] = {"attributes": dict, "events": list, "links": list}


def _span_dict(span: Any) -> dict[str, Any]:
    """A span of a `traces.json`, its records of the right JSON type (TypeError: the file is not spans)."""
    if not isinstance(span, dict):
        raise TypeError(f"a span is a JSON object, not {type(span).__name__}")
    for field, kind in _SPAN_RECORDS.items():
        if span.get(field) is not None and not isinstance(span[field], kind):
            raise TypeError(f"a span's {field} is a JSON {kind.__name__}, not {type(span[field]).__name__}")
    for event in span.get("events") or []:
        if not isinstance(event, dict) or not isinstance(event.get("attributes") or {}, dict):
            raise TypeError("a span's event is a JSON object, with its attributes in an object")
    return span


def uploaded_trace(path: str) -> str | None:
    """The trace id when `path` is where MLflow's client uploads a trace's spans."""
    found = _SPANS_UPLOAD.search(path)
    return None if found is None else found.group(1)


class SpanIndexer:
    """Makes spans searchable after the request that brought them is answered (one per app, on
    `app.state`). Uploaded `traces.json` files are copied into the database a moment later, together:
    one thread hop and one transaction for the uploads of a quarter second (done in each request, it cost a
    trace logged by MLflow's client ~0.6 ms of server CPU, a sixth of it). Span rows received over OTLP
    get their fields once no export has come for a second: done in the export, or beside a stream of
    exports, it cost OTLP ingestion a quarter to a half of its throughput. What is still waiting when a
    server process dies, or when a span filter comes first, is done by the span filter (traces without
    span rows, rows without a status)."""

    def __init__(self, store: SpanStore, artifacts: ArtifactStore) -> None:
        self.store, self.artifacts = store, artifacts
        self.uploads: list[tuple[str, str, bytes | None]] = []  # trace id, path, body (None: read it back)
        self.experiments: set[int] = set()  # with span rows received over OTLP
        self.last_export = 0.0
        self.copying: asyncio.Task[None] | None = None
        self.filling: asyncio.Task[None] | None = None

    def uploaded(self, trace_id: str, path: str, body: bytes | None) -> None:
        self.uploads.append((trace_id, path, body))
        if not _running(self.copying):
            self.copying = asyncio.get_running_loop().create_task(self._copy())

    def exported(self, experiment_id: int) -> None:
        self.experiments.add(experiment_id)
        self.last_export = asyncio.get_running_loop().time()
        if not _running(self.filling):
            self.filling = asyncio.get_running_loop().create_task(self._fill())

    async def close(self) -> None:
        """Do what is waiting (the server is stopping)."""
        for task in (self.copying, self.filling):
            if task is not None and _running(task):
                await task

    async def _copy(self) -> None:
        try:
            await asyncio.sleep(_GATHER_S)
            while self.uploads:
                batch, self.uploads = self.uploads[:_COPY_BATCH], self.uploads[_COPY_BATCH:]
                unread = [path for _, path, body in batch if body is None]
                read = iter(await self.artifacts.read_small_files(unread))
                files = [(trace_id, path, next(read) if body is None else body) for trace_id, path, body in batch]
                await run_sync(self._write, files)
        except Exception:  # best effort: a span filter copies the files of traces without span rows
            _log.warning("uploaded spans were not copied for span filters", exc_info=True)
        finally:
            self.copying = None

    def _write(self, files: list[tuple[str, str, bytes | None]]) -> None:
        copies = [(trace_id, _parse(trace_id, path, body), path) for trace_id, path, body in files]
        self.store.copy_spans(copies, _spans_path)

    async def _fill(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.experiments:
                if (quiet := loop.time() - self.last_export) < _QUIET_S:
                    await asyncio.sleep(_QUIET_S - quiet)
                    continue
                experiments, self.experiments = sorted(self.experiments), set()
                await run_sync(self.store.index_stored_spans, experiments)
        except Exception:  # best effort: a span filter fills in rows without a status
            _log.warning("spans received over OTLP were not made searchable", exc_info=True)
        finally:
            self.filling = None


def _running(task: asyncio.Task[None] | None) -> bool:
    # A task of another event loop (an app run in-process by several) is left to that loop.
    return task is not None and task.get_loop() is asyncio.get_running_loop()


def filters_spans(filter_string: str | None) -> bool:
    return any(c.kind in SPAN_KINDS for c in parse_trace_filter(filter_string))


async def copy_spans_for_search(artifacts: ArtifactStore, store: SpanStore, experiment_ids: Sequence[int]) -> None:
    """Before a span filter searches these experiments: give spans stored before span filters existed
    their searchable fields, and copy the `traces.json` of traces that have no spans in the database
    (uploaded before, or written into the artifact store without passing the server). A trace whose
    file is missing or unreadable stays as it is, and is looked at again by the next span filter."""
    if await run_sync(store.has_unindexed_spans, experiment_ids):
        await run_sync(store.index_stored_spans, experiment_ids)
    after = ""
    while batch := await run_sync(store.traces_to_copy, experiment_ids, after, _COPY_BATCH):
        paths = [(trace_id, path) for trace_id, location in batch if (path := _spans_path(location)) is not None]
        bodies = await artifacts.read_small_files([path for _, path in paths])
        copies = [
            (trace_id, spans, None)
            for (trace_id, path), body in zip(paths, bodies, strict=True)
            if (spans := _parse(trace_id, path, body))
        ]
        if copies:
            await run_sync(store.copy_spans, copies)
        if len(batch) < _COPY_BATCH:
            return
        after = batch[-1][0]
