"""Traces read back: `get_trace` and `search_traces` through MLflow 3's trace API (`traces/search`,
`traces/get`, `traces/batchGet`), and assessments (`traces/{id}/assessments…`), which tracklet and
MLflow servers both answer.

Spans arrive as OpenTelemetry protobuf JSON; a `TraceSpan` holds them as plain values, ids in hex (as
`Span.span_id` while recording) and attributes decoded, so `inputs`, `outputs` and `span_type` are the
values that were recorded. `Trace.to_pandas_dataframe_row` writes a trace as a row of
`mlflow.search_traces`' DataFrame, spans in MLflow's own form (ids in base64, attributes as JSON texts).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from tracklet.client.transport import Transport
from tracklet.entities import TraceInfo
from tracklet.timestamps import parse_duration, parse_timestamp

if TYPE_CHECKING:
    import pandas as pd

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
    trace_id: str = ""  # OpenTelemetry's trace id, in hex (the trace's id is "tr-" and this)

    @property
    def inputs(self) -> Any:
        return self.attributes.get("mlflow.spanInputs")

    @property
    def outputs(self) -> Any:
        return self.attributes.get("mlflow.spanOutputs")

    @property
    def span_type(self) -> str:
        return str(self.attributes.get("mlflow.spanType") or "UNKNOWN")

    def to_dict(self) -> dict[str, Any]:
        """The span as MLflow's `Span.to_dict()`: ids in base64, attributes as JSON texts, status codes
        as OpenTelemetry's names (`STATUS_CODE_OK`)."""
        return {
            "trace_id": _base64(self.trace_id),
            "span_id": _base64(self.span_id),
            "parent_span_id": _base64(self.parent_id) if self.parent_id else None,
            "name": self.name,
            "start_time_unix_nano": self.start_time_ns,
            "end_time_unix_nano": self.end_time_ns,
            "events": [
                {"name": e["name"], "time_unix_nano": e["time_ns"], "attributes": e["attributes"]} for e in self.events
            ],
            "status": {"code": f"STATUS_CODE_{self.status}", "message": self.status_message},
            "attributes": {key: json.dumps(value, ensure_ascii=False) for key, value in self.attributes.items()},
            "links": [],
        }


@dataclass(frozen=True)
class AssessmentSource:
    """Who made an assessment: `source_type` "HUMAN", "LLM_JUDGE" or "CODE", and `source_id`."""

    source_type: str
    source_id: str


@dataclass(frozen=True)
class Assessment:
    """A feedback (a verdict) or an expectation (a ground truth) on a trace or one of its spans, as
    MLflow's `Assessment`: `name`, `value`, `rationale`, `source`, `valid` (False once overridden) and
    `overrides` (the id of the assessment this one replaced). `to_dict()` is MLflow's JSON of it."""

    assessment_id: str
    name: str
    trace_id: str
    kind: str  # "feedback" or "expectation" (or "issue": an issue reference, its JSON as `value`)
    value: Any
    source: AssessmentSource
    rationale: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    span_id: str | None = None
    create_time: str | None = None  # RFC 3339, as on the wire
    last_update_time: str | None = None
    valid: bool = True
    overrides: str | None = None
    error: dict[str, Any] | None = None  # a feedback's error (`error_code`, `error_message`), if any

    @property
    def feedback(self) -> Any:
        """The value if this is a feedback, else None (MLflow's `assessment.feedback`)."""
        return self.value if self.kind == "feedback" else None

    @property
    def expectation(self) -> Any:
        return self.value if self.kind == "expectation" else None

    def to_dict(self) -> dict[str, Any]:
        """The assessment as MLflow's `Assessment.to_dictionary()` writes it (see `_mlflow_assessment`)."""
        content: dict[str, Any] = dict(self.value or {}) if self.kind == "issue" else {"value": self.value}
        if self.error is not None:
            content["error"] = self.error
        body: dict[str, Any] = {
            "assessment_id": self.assessment_id,
            "assessment_name": self.name,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "source": {"source_type": self.source.source_type, "source_id": self.source.source_id},
            "create_time": self.create_time,
            "last_update_time": self.last_update_time,
            self.kind: content,
            "rationale": self.rationale,
            "metadata": dict(self.metadata) or None,
            "overrides": self.overrides,
            "valid": self.valid,
        }
        return _mlflow_assessment({key: value for key, value in body.items() if value is not None})

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Assessment:
        """From MLflow's JSON of an assessment (as the server sends it, or as `to_dict` writes it)."""
        kind = next((k for k in ("expectation", "issue") if body.get(k) is not None), "feedback")
        content = body.get(kind) or {}
        if "serialized_value" in content:  # an expectation MLflow's client wrote as JSON text
            value = json.loads(content["serialized_value"].get("value") or "null")
        elif kind == "issue":
            value = dict(content)
        else:
            value = content.get("value")
        source = body.get("source") or {}
        return cls(
            assessment_id=body.get("assessment_id", ""),
            name=body.get("assessment_name", ""),
            trace_id=body.get("trace_id", ""),
            kind=kind,
            value=value,
            source=AssessmentSource(source.get("source_type", "SOURCE_TYPE_UNSPECIFIED"), source.get("source_id", "")),
            rationale=body.get("rationale"),
            metadata=dict(body.get("metadata") or {}),
            span_id=body.get("span_id") or None,
            create_time=body.get("create_time"),
            last_update_time=body.get("last_update_time"),
            valid=body.get("valid", True) is not False,
            overrides=body.get("overrides") or None,
            error=None if kind == "issue" else content.get("error"),
        )


@dataclass(frozen=True)
class Trace:
    """A trace read back: its info (MLflow's TraceInfoV3, `info.assessments` as MLflow's JSON) and its
    spans; `assessments` are the same as `Assessment` objects."""

    info: TraceInfo
    spans: list[TraceSpan]  # in order of start

    @property
    def trace_id(self) -> str:
        return self.info.trace_id

    @property
    def assessments(self) -> list[Assessment]:
        return [Assessment.from_dict(a) for a in self.info.assessments]

    @property
    def root_span(self) -> TraceSpan | None:
        return next((span for span in self.spans if span.parent_id is None), None)

    def to_dict(self) -> dict[str, Any]:
        """The trace as MLflow's `Trace.to_dict()`: `{"info": …, "data": {"spans": […]}}`."""
        info = msgspec.to_builtins(self.info)
        info["assessments"] = [_mlflow_assessment(a) for a in self.info.assessments]
        if (duration := info.pop("execution_duration", None)) is not None:
            info["execution_duration_ms"] = parse_duration(duration, "execution_duration")
        info = {key: value for key, value in info.items() if value not in (None, {}, [])}
        return {"info": info, "data": {"spans": [span.to_dict() for span in self.spans]}}

    def to_pandas_dataframe_row(self) -> dict[str, Any]:
        """The trace as a row of `mlflow.search_traces`' DataFrame (`TRACE_COLUMNS`)."""
        info, root = self.info, self.root_span
        return {
            "trace_id": info.trace_id,
            "trace": json.dumps(self.to_dict(), ensure_ascii=False),
            "client_request_id": info.client_request_id,
            "state": info.state,
            "request_time": parse_timestamp(info.request_time, "request_time"),
            "execution_duration": (
                parse_duration(info.execution_duration, "execution_duration")
                if info.execution_duration is not None
                else None
            ),
            "request": root.inputs if root is not None else None,
            "response": root.outputs if root is not None else None,
            "trace_metadata": dict(info.trace_metadata),
            "tags": dict(info.tags),
            "spans": [span.to_dict() for span in self.spans],
            "assessments": [_mlflow_assessment(a) for a in info.assessments],
        }


def _mlflow_assessment(body: Mapping[str, Any]) -> dict[str, Any]:
    """An assessment's JSON as MLflow's client writes it back (`Assessment.to_dictionary()`): an
    expectation's list or object value as `serialized_value` (JSON text), and no `valid`, which MLflow
    keeps for feedback only. (MLflow's protobuf also turns every number into a float; not done here.)"""
    out = dict(body)
    expectation = out.get("expectation")
    if expectation is not None:
        out.pop("valid", None)
        value = expectation.get("value")
        if "value" in expectation and value is not None and not isinstance(value, bool | int | float | str):
            out["expectation"] = {
                "serialized_value": {"serialization_format": "JSON_FORMAT", "value": json.dumps(value)}
            }
    return out


# The columns of `mlflow.search_traces`' DataFrame (MLflow 3's `Trace.pandas_dataframe_columns()`).
TRACE_COLUMNS = (
    "trace_id",
    "trace",
    "client_request_id",
    "state",
    "request_time",
    "execution_duration",
    "request",
    "response",
    "trace_metadata",
    "tags",
    "spans",
    "assessments",
)


def traces_to_frame(found: Sequence[Trace]) -> pd.DataFrame:
    """Traces as `mlflow.search_traces`' DataFrame: a row a trace, MLflow's columns even when empty."""
    import pandas as pd  # only those who ask for a DataFrame pay for pandas

    return pd.DataFrame.from_records([t.to_pandas_dataframe_row() for t in found], columns=list(TRACE_COLUMNS))


def get_trace(transport: Transport, trace_id: str) -> Trace:
    body = transport.get(f"{API3}/get", trace_id=trace_id)["trace"]
    return _trace(body)


def search_traces(
    transport: Transport,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int | None = 100,
    include_spans: bool = True,
) -> list[Trace]:
    """Up to `max_results` matching traces (None: all), following pages; with their spans unless asked
    not to."""
    locations = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": str(e)}} for e in experiment_ids]
    infos: list[TraceInfo] = []
    token = None
    while max_results is None or len(infos) < max_results:
        body: dict[str, Any] = {
            "locations": locations,
            "filter": filter_string,
            "order_by": list(order_by or []),
            "max_results": 500 if max_results is None else min(max_results - len(infos), 500),
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
    overrides: str | None = None,
) -> Assessment:
    """Attach a feedback or an expectation (`kind`) to a trace. A later assessment of the same name
    does not replace this one; one that `overrides` another's id marks that one invalid."""
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
    if overrides:
        assessment["overrides"] = overrides
    body = transport.post(f"{API3}/{quote(trace_id, safe='')}/assessments", {"assessment": assessment})
    return Assessment.from_dict(body["assessment"])


def get_assessment(transport: Transport, trace_id: str, assessment_id: str) -> Assessment:
    return Assessment.from_dict(transport.get(_assessment_path(trace_id, assessment_id))["assessment"])


def update_assessment(
    transport: Transport,
    trace_id: str,
    assessment_id: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    value: Any = None,
    rationale: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Assessment:
    """Change an assessment in place: only what is given (`kind` and `value` together) is sent, with
    the update mask naming it, as MLflow's client does."""
    assessment: dict[str, Any] = {"assessment_id": assessment_id, "trace_id": trace_id}
    mask: list[str] = []
    if name is not None:
        assessment["assessment_name"] = name
        mask.append("assessmentName")  # protobuf's JSON of a FieldMask: camelCase paths
    if kind is not None:
        assessment[kind] = {"value": value}
        mask.append(kind)
    if rationale is not None:
        assessment["rationale"] = rationale
        mask.append("rationale")
    if metadata is not None:
        assessment["metadata"] = {str(k): str(v) for k, v in metadata.items()}
        mask.append("metadata")
    body = transport.request(
        "PATCH",
        _assessment_path(trace_id, assessment_id),
        json={"assessment": assessment, "update_mask": ",".join(mask)},
    )
    return Assessment.from_dict(body["assessment"])


def delete_assessment(transport: Transport, trace_id: str, assessment_id: str) -> None:
    transport.request("DELETE", _assessment_path(trace_id, assessment_id))


def _assessment_path(trace_id: str, assessment_id: str) -> str:
    return f"{API3}/{quote(trace_id, safe='')}/assessments/{quote(assessment_id, safe='')}"


def _trace(body: dict[str, Any]) -> Trace:
    return Trace(msgspec.convert(body["trace_info"], TraceInfo), _spans(body))


def _spans(body: dict[str, Any]) -> list[TraceSpan]:
    spans = [span_from_wire(raw) for raw in body.get("spans", [])]
    return sorted(spans, key=lambda s: s.start_time_ns)


def span_from_wire(raw: dict[str, Any]) -> TraceSpan:
    """A span as MLflow 3's trace API sends it (OpenTelemetry protobuf JSON: ids in base64)."""
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
        trace_id=_hex(raw.get("trace_id", "")),
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


def _base64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


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
