"""Assessments of traces from tracklet's client: feedback (a verdict), expectations (the expected
answer), read, changed, overridden and deleted with MLflow's fluent verbs and signatures. Each verb
sends the traces still queued here first, so it finds the user's own."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Any

import msgspec

from tracklet import errors
from tracklet.client import traces
from tracklet.client.traces import Assessment, AssessmentSource
from tracklet.client.tracing import encodable, flush_traces


def log_feedback(
    trace_id: str,
    name: str,
    value: Any,
    *,
    rationale: str | None = None,
    source_type: str = "HUMAN",
    source_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
    span_id: str | None = None,
    source: AssessmentSource | Any = None,
) -> Assessment:
    """A verdict on a trace (or one of its spans): `value` a bool, number, string or JSON-like object;
    `source_type` "HUMAN", "LLM_JUDGE" or "CODE" (`source_id` defaults to the user), or `source` an
    `AssessmentSource` (MLflow's too). Returns the `Assessment`, with its `assessment_id`;
    `search_traces(filter_string="feedback.<name> = …")` finds the trace by it."""
    return _log_assessment(
        trace_id, name, "feedback", value, rationale, _source(source, source_type, source_id), metadata, span_id
    )


def log_expectation(
    trace_id: str,
    name: str,
    value: Any,
    *,
    source_type: str = "HUMAN",
    source_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
    span_id: str | None = None,
    source: AssessmentSource | Any = None,
) -> Assessment:
    """The expected answer (ground truth) for a trace, as `log_feedback` records a verdict."""
    return _log_assessment(
        trace_id, name, "expectation", value, None, _source(source, source_type, source_id), metadata, span_id
    )


def get_assessment(trace_id: str, assessment_id: str) -> Assessment:
    """One assessment of a trace (`ResourceDoesNotExist` if there is none by that id)."""
    flush_traces()
    return traces.get_assessment(_transport(), trace_id, assessment_id)


_UNSET: Any = object()


def update_assessment(
    trace_id: str,
    assessment_id: str,
    assessment: Assessment | Any = None,
    *,
    name: str | None = None,
    value: Any = _UNSET,
    rationale: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Assessment:
    """Change an assessment in place (to keep the old one, invalidated, use `override_feedback`):
    either from an `assessment` (tracklet's, e.g. `dataclasses.replace(get_assessment(…), value=5)`, or
    MLflow's `Feedback`/`Expectation`), whose name, value and, when set, rationale and metadata are
    written, as `mlflow.update_assessment` does; or from the keywords, only those given. Returns the
    assessment as it now is."""
    keywords = name is not None or value is not _UNSET or rationale is not None or metadata is not None
    if (assessment is None) == (not keywords):
        raise errors.InvalidParameterValue(
            "update_assessment: give either an assessment or the fields to change (name, value, rationale, metadata)"
        )
    flush_traces()
    transport = _transport()
    kind: str | None = None
    if assessment is not None:
        name, rationale, metadata = assessment.name, assessment.rationale, assessment.metadata
        kind = getattr(assessment, "kind", None)
        if kind is None:  # MLflow's Feedback or Expectation
            kind = "expectation" if getattr(assessment, "expectation", None) is not None else "feedback"
        value = assessment.value
    elif value is not _UNSET:
        kind = traces.get_assessment(transport, trace_id, assessment_id).kind
    return traces.update_assessment(
        transport,
        trace_id,
        assessment_id,
        name=name,
        kind=kind,
        value=None if kind is None else msgspec.to_builtins(value, enc_hook=encodable),
        rationale=rationale,
        metadata=metadata,
    )


def override_feedback(
    trace_id: str,
    assessment_id: str,
    value: Any,
    rationale: str | None = None,
    source: AssessmentSource | Any = None,
    metadata: Mapping[str, str] | None = None,
) -> Assessment:
    """Replace a feedback with a new one of the same name (and span) that records which one it
    overrides; the old one stays, marked invalid (`valid == False`), as `mlflow.override_feedback`
    does. `source` defaults to a human: the user. Returns the new assessment."""
    flush_traces()
    transport = _transport()
    old = traces.get_assessment(transport, trace_id, assessment_id)
    if old.kind != "feedback":
        raise errors.InvalidParameterValue(f"The assessment with ID {assessment_id} is not a feedback assessment.")
    source_type, source_id = _source(source, "HUMAN", None)
    return traces.log_assessment(
        transport,
        trace_id,
        old.name,
        "feedback",
        msgspec.to_builtins(value, enc_hook=encodable),
        source_type=source_type,
        source_id=source_id,
        rationale=rationale,
        metadata=metadata,
        span_id=old.span_id,
        overrides=old.assessment_id,
    )


def delete_assessment(trace_id: str, assessment_id: str) -> None:
    """Remove an assessment from its trace for good."""
    flush_traces()
    traces.delete_assessment(_transport(), trace_id, assessment_id)


def _transport() -> Any:
    from tracklet.client import fluent

    return fluent._state.client().transport


def _source(source: Any, source_type: str, source_id: str | None) -> tuple[str, str]:
    """(source type, source id) from an `AssessmentSource` (tracklet's or MLflow's), a mapping, or the
    separate keywords; the id defaults to the user."""
    if source is not None:
        if isinstance(source, Mapping):
            source_type, source_id = source.get("source_type", source_type), source.get("source_id")
        else:
            source_type, source_id = source.source_type, getattr(source, "source_id", None)
        source_type = str(getattr(source_type, "value", source_type))
    return source_type, source_id or _user()


def _log_assessment(
    trace_id: str,
    name: str,
    kind: str,
    value: Any,
    rationale: str | None,
    source: tuple[str, str],
    metadata: Mapping[str, str] | None,
    span_id: str | None,
) -> Assessment:
    flush_traces()  # the trace may still be on its way
    return traces.log_assessment(
        _transport(),
        trace_id,
        name,
        kind,
        msgspec.to_builtins(value, enc_hook=encodable),
        source_type=source[0],
        source_id=source[1],
        rationale=rationale,
        metadata=metadata,
        span_id=span_id,
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (some containers)
        return "unknown"
