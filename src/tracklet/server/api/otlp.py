"""OTLP/HTTP trace ingestion, `POST /v1/traces`, as MLflow's server offers it: any OpenTelemetry SDK
(Python, Java, Go, JavaScript, ...) exports its spans straight into an experiment.

The experiment is named by the header `x-mlflow-experiment-id`; `x-mlflow-run-id` links the traces to
a run. Bodies are OTLP's `ExportTraceServiceRequest` in protobuf (`application/x-protobuf`) or in
OTLP's JSON (`application/json`, ids in hex), plain, gzip- or deflate-compressed. Each span becomes
one in the layout of the `traces.json` MLflow's client writes (attribute values as JSON texts) and
is merged into its trace (`store/spans.py`); the trace's id is `tr-` and the OpenTelemetry trace id in
hex, as MLflow names it. Errors answer in MLflow's JSON shape, and nothing of a refused export is kept.

MLflow's own client does not use this endpoint against tracklet (`/version` answers below 3.4, see
`traces.py`): it uploads `traces.json` instead, which costs the server less.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections import defaultdict
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.server.protocol import run_sync
from tracklet.server.state import span_indexer_of, store_of
from tracklet.store.spans import SpanBatch, StoredSpan, TraceRoot
from tracklet.validation import MAX_KEY_LENGTH, MAX_TAG_VALUE_LENGTH, parse_experiment_id, validate_run_id

EXPERIMENT_HEADER = "x-mlflow-experiment-id"
RUN_HEADER = "x-mlflow-run-id"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY = 64 * 1024 * 1024  # after decompression: a small gzip body must not unpack into gigabytes
MAX_PREVIEW = 1000  # characters of the root span's inputs and outputs in the trace's previews, as MLflow's client
REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId"
TRACE_TAG_PREFIX = "mlflow.traceTag."  # root span attributes MLflow's SDK turns into trace tags
_STATUS_NAMES = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_JSON_TEXT = msgspec.json.Encoder()


async def export_traces(request: Request) -> Response:
    experiment_id = parse_experiment_id(request.headers.get(EXPERIMENT_HEADER), EXPERIMENT_HEADER)
    run_header = request.headers.get(RUN_HEADER)
    run_id = validate_run_id(run_header) if run_header else None
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type not in (PROTOBUF, JSON):
        raise InvalidParameterValue(
            f"Invalid Content-Type {request.headers.get('content-type')!r}: expected '{PROTOBUF}' or '{JSON}'"
        )
    body = _decompressed(await request.body(), request.headers.get("content-encoding", ""))
    batches = await run_sync(_decode, body, media_type == JSON)
    if not batches:
        raise InvalidParameterValue("Invalid OpenTelemetry export: it holds no spans")
    await run_sync(store_of(request).log_spans, experiment_id, batches, run_id)
    span_indexer_of(request).exported(experiment_id)  # their fields for span filters, after the answer
    # An empty ExportTraceServiceResponse: no bytes in protobuf, `{}` in JSON.
    return Response(b"{}" if media_type == JSON else b"", media_type=media_type)


def _decompressed(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        data = body
    elif encoding in ("gzip", "deflate"):
        # gzip; zlib-wrapped deflate, or the raw deflate stream some clients send.
        wbits = (
            16 + zlib.MAX_WBITS if encoding == "gzip" else (zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS)
        )
        unpack = zlib.decompressobj(wbits)
        try:
            data = unpack.decompress(body, MAX_BODY + 1)
        except zlib.error as err:
            raise InvalidParameterValue(f"The {encoding} body could not be decompressed: {err}") from None
    else:
        raise InvalidParameterValue(f"Unsupported Content-Encoding {encoding!r}: expected gzip or deflate")
    if len(data) > MAX_BODY:
        raise InvalidParameterValue(f"The export is larger than {MAX_BODY // 2**20} MB uncompressed")
    return data


def _decode(body: bytes, is_json: bool) -> list[SpanBatch]:
    # Loaded at the first export: protobuf and OTLP's messages cost each server process ~7 MB and 45 ms.
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    export = ExportTraceServiceRequest()
    try:
        if is_json:
            json_format.ParseDict(_ids_as_base64(msgspec.json.decode(body)), export, ignore_unknown_fields=True)
        else:
            export.ParseFromString(body)
    except (DecodeError, json_format.ParseError, msgspec.DecodeError, ValueError, TypeError, AttributeError) as err:
        raise InvalidParameterValue(f"Invalid OpenTelemetry export: {err}") from None
    spans = defaultdict(list)
    for resource_spans in export.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans[_trace_id(span)].append(span)
    return [_batch(trace_id, trace_spans) for trace_id, trace_spans in spans.items()]


def _ids_as_base64(data: Any) -> Any:
    """OTLP's JSON writes span and trace ids in hex; protobuf's JSON mapping reads bytes as base64."""
    if not isinstance(data, dict):
        raise InvalidParameterValue("Invalid OpenTelemetry export: the body is not a JSON object")
    for resource_spans in data.get("resourceSpans") or data.get("resource_spans") or []:
        for scope_spans in resource_spans.get("scopeSpans") or resource_spans.get("scope_spans") or []:
            for span in scope_spans.get("spans") or []:
                for item in (span, *(span.get("links") or [])):
                    for key in _ID_FIELDS:
                        if isinstance(item.get(key), str) and item[key]:
                            item[key] = base64.b64encode(bytes.fromhex(item[key])).decode()
    return data


def _trace_id(span: Any) -> str:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        raise InvalidParameterValue(f"Invalid span {span.name!r}: its trace id must be 16 bytes, not all zero")
    if len(span.span_id) != 8 or not any(span.span_id):
        raise InvalidParameterValue(f"Invalid span {span.name!r}: its span id must be 8 bytes, not all zero")
    if span.parent_span_id and len(span.parent_span_id) != 8:
        raise InvalidParameterValue(f"Invalid span {span.name!r}: its parent span id must be 8 bytes")
    return "tr-" + span.trace_id.hex()


def _batch(trace_id: str, spans: list[Any]) -> SpanBatch:
    stored, root = [], None
    for span in spans:
        content = _span_content(trace_id, span)
        stored.append(StoredSpan(span.span_id.hex(), span.start_time_unix_nano, _json_text(content)))
        if not span.parent_span_id:
            root = _root(span, content["attributes"])
    ends = [span.end_time_unix_nano for span in spans if span.end_time_unix_nano]
    return SpanBatch(
        trace_id=trace_id,
        spans=stored,
        start_time=min(span.start_time_unix_nano for span in spans) // 1_000_000,
        end_time=max(ends) // 1_000_000 if ends else None,
        root=root,
    )


def _span_content(trace_id: str, span: Any) -> dict[str, Any]:
    """The span as MLflow's `Span.to_dict()` writes it: ids in base64, attribute values as JSON texts."""
    attributes = {kv.key: _attribute_text(kv.key, _value(kv.value)) for kv in span.attributes}
    attributes[REQUEST_ID_ATTRIBUTE] = _json_text(trace_id)
    return {
        "trace_id": _base64(span.trace_id),
        "span_id": _base64(span.span_id),
        "parent_span_id": _base64(span.parent_span_id) if span.parent_span_id else None,
        "name": span.name,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano or None,
        "events": [
            {"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": _values(e.attributes)}
            for e in span.events
        ],
        "status": {"code": _STATUS_NAMES.get(span.status.code, _STATUS_NAMES[0]), "message": span.status.message},
        "attributes": attributes,
        "links": [
            {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(), "attributes": _values(link.attributes)}
            for link in span.links
        ],
    }


def _root(span: Any, attributes: dict[str, str]) -> TraceRoot:
    tags = {
        key.removeprefix(TRACE_TAG_PREFIX): _tag_value(msgspec.json.decode(value))
        for key, value in attributes.items()
        if key.startswith(TRACE_TAG_PREFIX) and 0 < len(key) - len(TRACE_TAG_PREFIX) <= MAX_KEY_LENGTH
    }
    # A tag too long to keep is left out, as MLflow does, rather than refusing the spans with it.
    tags = {key: value for key, value in tags.items() if len(value) <= MAX_TAG_VALUE_LENGTH}
    return TraceRoot(
        name=span.name,
        state="ERROR" if span.status.code == 2 else "OK",
        request_preview=_preview(attributes.get("mlflow.spanInputs")),
        response_preview=_preview(attributes.get("mlflow.spanOutputs")),
        tags=tags,
    )


def _preview(json_text: str | None) -> str | None:
    return None if json_text is None else json_text[:MAX_PREVIEW]


def _value(any_value: Any) -> Any:
    """An OpenTelemetry `AnyValue` as a plain Python value."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return _values(any_value.kvlist_value.values)
    if kind == "bytes_value":
        return _base64(any_value.bytes_value)
    return getattr(any_value, kind)


def _values(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


def _attribute_text(key: str, value: Any) -> str:
    """A span attribute's value as the JSON text MLflow keeps. MLflow's own attributes (`mlflow.*`) are
    JSON texts already when its SDK exports them through a plain OpenTelemetry exporter: kept as they are,
    or the span's inputs would read back as a string of JSON."""
    if key.startswith("mlflow.") and isinstance(value, str):
        try:
            msgspec.json.decode(value)
            return value
        except msgspec.DecodeError:
            pass
    if _non_finite(value):
        # JSON has no NaN or infinity; Python's json writes them as MLflow's client writes such attributes,
        # and its reader takes them back (strict JSON would turn them into null).
        return json.dumps(value)
    return _json_text(value)


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(map(_non_finite, value))
    if isinstance(value, dict):
        return any(map(_non_finite, value.values()))
    return False


def _json_text(value: Any) -> str:
    return _JSON_TEXT.encode(value).decode()  # NaN and infinities become null, as JSON has neither


def _tag_value(value: Any) -> str:
    return value if isinstance(value, str) else _json_text(value)


def _base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


routes = [Route("/v1/traces", export_traces, methods=["POST"])]
