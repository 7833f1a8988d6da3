"""Traces read back: `get_trace` and `search_traces` through MLflow 3's trace API (`traces/search`,
`traces/get`, `traces/batchGet`), which tracklet and MLflow servers both answer.

Spans arrive as OpenTelemetry protobuf JSON; a `TraceSpan` holds them as plain values, ids in hex (as
`Span.span_id` while recording) and attributes decoded, so `inputs`, `outputs` and `span_type` are the
values that were recorded.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tracklet.client.transport import Transport
from tracklet.entities import TraceInfo

API3 = "/api/3.0/mlflow/traces"
_SPANS_PER_REQUEST = 10  # MLflow's server serves at most 10 traces with spans a request


@dataclass(frozen=True)
class TraceSpan:
    """A span of a trace read back: ids in hex, times in ns since the epoch, attributes decoded."""

    span_id: str
    parent_id: str | None
    name: str
    start_time_ns: int
    end_time_ns: int
    status: str  # "OK", "ERROR" or "UNSET"
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # {"name", "time_ns", "attributes"}

    @property
    def inputs(self) -> Any:
        return self.attributes.get("mlflow.spanInputs")

    @property
    def outputs(self) -> Any:
        return self.attributes.get("mlflow.spanOutputs")

    @property
    def span_type(self) -> str:
        return str(self.attributes.get("mlflow.spanType") or "UNKNOWN")


@dataclass(frozen=True)
class Trace:
    """A trace read back: its info (MLflow's TraceInfoV3) and its spans."""

    info: TraceInfo
    spans: list[TraceSpan]  # in order of start

    @property
    def trace_id(self) -> str:
        return self.info.trace_id


def get_trace(transport: Transport, trace_id: str) -> Trace:
    body = transport.get(f"{API3}/get", trace_id=trace_id)["trace"]
    return _trace(body)


def search_traces(
    transport: Transport,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int = 100,
    include_spans: bool = True,
) -> list[Trace]:
    """Up to `max_results` matching traces, following pages; with their spans unless asked not to."""
    locations = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": str(e)}} for e in experiment_ids]
    infos: list[TraceInfo] = []
    token = None
    while len(infos) < max_results:
        body: dict[str, Any] = {
            "locations": locations,
            "filter": filter_string,
            "order_by": list(order_by or []),
            "max_results": min(max_results - len(infos), 500),
        }
        if token:
            body["page_token"] = token
        page = transport.post(f"{API3}/search", body)
        infos += [msgspec.convert(info, TraceInfo) for info in page.get("traces", [])]
        token = page.get("next_page_token")
        if not token:
            break
    if not include_spans:
        return [Trace(info, []) for info in infos]
    spans: dict[str, list[TraceSpan]] = {}
    for start in range(0, len(infos), _SPANS_PER_REQUEST):
        ids = [info.trace_id for info in infos[start : start + _SPANS_PER_REQUEST]]
        for trace in transport.get(f"{API3}/batchGet", trace_ids=ids).get("traces", []):
            spans[trace["trace_info"]["trace_id"]] = _spans(trace)
    return [Trace(info, spans.get(info.trace_id, [])) for info in infos]


def log_assessment(
    transport: Transport,
    trace_id: str,
    name: str,
    kind: str,
    value: Any,
    *,
    source_type: str,
    source_id: str,
    rationale: str | None = None,
    metadata: Mapping[str, str] | None = None,
    span_id: str | None = None,
) -> dict[str, Any]:
    """Attach a feedback or an expectation (`kind`) to a trace; returns it as MLflow's Assessment JSON
    (with its `assessment_id`). A later assessment of the same name does not replace this one."""
    assessment: dict[str, Any] = {
        "assessment_name": name,
        "trace_id": trace_id,
        "source": {"source_type": source_type, "source_id": source_id},
        kind: {"value": value},
    }
    if rationale is not None:
        assessment["rationale"] = rationale
    if metadata:
        assessment["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    if span_id:
        assessment["span_id"] = span_id
    return transport.post(f"{API3}/{trace_id}/assessments", {"assessment": assessment})["assessment"]  # type: ignore[no-any-return]


def _trace(body: dict[str, Any]) -> Trace:
    return Trace(msgspec.convert(body["trace_info"], TraceInfo), _spans(body))


def _spans(body: dict[str, Any]) -> list[TraceSpan]:
    spans = [_span(raw) for raw in body.get("spans", [])]
    return sorted(spans, key=lambda s: s.start_time_ns)


def _span(raw: dict[str, Any]) -> TraceSpan:
    status = raw.get("status") or {}
    parent = raw.get("parent_span_id")
    return TraceSpan(
        span_id=_hex(raw.get("span_id", "")),
        parent_id=_hex(parent) if parent else None,
        name=raw.get("name", ""),
        start_time_ns=int(raw.get("start_time_unix_nano") or 0),
        end_time_ns=int(raw.get("end_time_unix_nano") or 0),
        status=str(status.get("code") or "STATUS_CODE_UNSET").removeprefix("STATUS_CODE_"),
        status_message=status.get("message") or "",
        attributes=_values(raw.get("attributes", [])),
        events=[
            {
                "name": e.get("name", ""),
                "time_ns": int(e.get("time_unix_nano") or 0),
                "attributes": _values(e.get("attributes", [])),
            }
            for e in raw.get("events", [])
        ],
    )


def _hex(base64_id: str) -> str:
    return base64.b64decode(base64_id).hex()


def _values(key_values: list[dict[str, Any]]) -> dict[str, Any]:
    return {kv["key"]: _plain(kv.get("value") or {}) for kv in key_values}


def _plain(any_value: dict[str, Any]) -> Any:
    """An OpenTelemetry `AnyValue` in protobuf JSON as a plain value."""
    if not any_value:
        return None
    ((kind, value),) = any_value.items()
    if kind in ("kvlist_value", "kvlistValue"):
        return _values(value.get("values", []))
    if kind in ("array_value", "arrayValue"):
        return [_plain(v) for v in value.get("values", [])]
    if kind in ("int_value", "intValue"):
        return int(value)
    if kind in ("double_value", "doubleValue"):
        return float(value)
    return value
