"""`tracklet.search_traces` as `mlflow.search_traces` returns it (the official client, pointed at the
same tracklet server, is the reference), and the assessment verbs (`get_assessment`,
`update_assessment`, `override_feedback`, `delete_assessment`) against a real server and the local store."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest

import tracklet
from tests.client.conftest import AGAINST_MLFLOW
from tracklet import errors
from tracklet.client import fluent


@tracklet.trace(span_type="TOOL")
def lookup(city: str) -> dict[str, Any]:
    with tracklet.start_span("cache") as span:
        span.set_attributes({"hits": 1, "ratio": 0.5, "keys": ["a", "b"], "city": city})
    return {"city": city, "temp": 21}


@tracklet.trace(name="assistant")
def assistant(question: str) -> str:
    tracklet.update_current_trace(tags={"team": "weather"})
    return f"It is {lookup('Tromsø')['temp']} degrees"


def _traced(question: str) -> str:
    assistant(question)
    return tracklet.get_last_active_trace_id() or ""


def test_the_dataframe_is_mlflows(remote: str) -> None:
    import mlflow

    first = _traced("warm in Tromsø?")
    time.sleep(0.002)
    with pytest.raises(ZeroDivisionError):
        tracklet.trace(lambda: 1 / 0)()
    failed = tracklet.get_last_active_trace_id() or ""
    tracklet.log_feedback(first, "score", 4, rationale="close", source_id="ada")
    tracklet.log_expectation(first, "expected", {"temp": 21}, source_id="ada")
    experiment_id = fluent._current_experiment_id(fluent._state.client())

    ours = tracklet.search_traces()
    mlflow.set_tracking_uri(remote)
    try:
        theirs = mlflow.search_traces(locations=[experiment_id])
    finally:
        mlflow.set_tracking_uri(None)

    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.dtypes.astype(str)) == list(theirs.dtypes.astype(str))
    assert list(ours.trace_id) == list(theirs.trace_id) == [failed, first]  # newest first
    for column in ours.columns:
        if column == "trace":
            continue  # JSON text: compared parsed below
        assert [_plain(v) for v in ours[column]] == [_plain(v) for v in theirs[column]], column
    for our_json, their_json in zip(ours.trace, theirs.trace, strict=True):
        our_trace, their_trace = json.loads(our_json), json.loads(their_json)
        assert our_trace["data"] == their_trace["data"]
        for key in ("trace_id", "state", "request_time", "execution_duration_ms", "tags", "assessments"):
            assert _plain(our_trace["info"].get(key)) == _plain(their_trace["info"].get(key)), key
        parsed = mlflow.entities.Trace.from_json(our_json)  # MLflow reads the column back as its Trace
        assert parsed.info.trace_id == our_trace["info"]["trace_id"] and len(parsed.data.spans) == len(
            our_trace["data"]["spans"]
        )

    row = ours.set_index("trace_id").loc[first]
    parsed = mlflow.entities.Trace.from_json(row.trace)
    assert parsed.data.spans[1].inputs == {"city": "Tromsø"} and {a.name for a in parsed.info.assessments} == {
        "score",
        "expected",
    }
    assert row.state == "OK" and row.request == {"question": "warm in Tromsø?"} and row.response == "It is 21 degrees"
    assert row.tags["team"] == "weather" and row.request_time >= row.spans[0]["start_time_unix_nano"] // 10**6 - 1
    assert [s["name"] for s in row.spans] == ["assistant", "lookup", "cache"]
    assert row.spans[2]["attributes"]["keys"] == '["a", "b"]' and row.spans[2]["attributes"]["city"] == '"Tromsø"'
    assert {a["assessment_name"] for a in row.assessments} == {"score", "expected"}
    assert [a.to_dict() for a in tracklet.get_trace(first).assessments] == row.assessments
    assert ours.set_index("trace_id").loc[failed].state == "ERROR"

    # Without spans (and with nothing found), still MLflow's columns.
    bare = tracklet.search_traces(locations=[experiment_id], include_spans=False, max_results=1)
    assert list(bare.trace_id) == [failed] and bare.spans[0] == [] and bare.request[0] is None
    assert list(tracklet.search_traces(filter_string="trace.status = 'UNSET'").columns) == list(theirs.columns)


def _plain(value: Any) -> Any:
    """A DataFrame cell as a comparable value: NaN and None both None, MLflow's enums as their text, and
    JSON texts of expectations parsed (MLflow's protobuf writes 21 as 21.0 in them; 21 == 21.0)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"serialization_format", "value"}:
            return json.loads(value["value"])
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value, str):
        return str(value.value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def test_search_traces_takes_mlflows_arguments(tracking_uri: str) -> None:
    experiment_id = tracklet.create_experiment(f"args-{time.time_ns()}")
    with tracklet.start_run(experiment_id=experiment_id) as run:
        in_run = _traced("in a run?")
    tracklet.set_experiment(experiment_id=experiment_id)
    outside = _traced("outside?")

    found = tracklet.search_traces(locations=[experiment_id], return_type="list")
    assert [t.trace_id for t in found] == [outside, in_run] and all(isinstance(t, tracklet.Trace) for t in found)
    assert [t.trace_id for t in tracklet.search_traces([experiment_id], return_type="list")] == [outside, in_run]
    assert list(tracklet.search_traces(run_id=run.info.run_id).trace_id) == [in_run]
    assert list(tracklet.search_traces(order_by=["timestamp_ms ASC"], max_results=1).trace_id) == [in_run]
    assert list(tracklet.search_traces(filter_string="tags.team = 'weather'", flush=False).trace_id) == [
        outside,
        in_run,
    ]

    with pytest.raises(errors.InvalidParameterValue, match="return_type"):
        tracklet.search_traces(return_type="json")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidParameterValue, match="not both"):
        tracklet.search_traces(experiment_ids=[experiment_id], locations=[experiment_id])
    with pytest.raises(errors.InvalidParameterValue, match="experiment ids"):
        tracklet.search_traces(locations=["catalog.schema.table"])


def test_override_update_and_delete_assessments(tracking_uri: str) -> None:
    trace_id = _traced("is it warm?")
    tool = next(s for s in tracklet.get_trace(trace_id).spans if s.name == "lookup")
    judged = tracklet.log_feedback(
        trace_id,
        "correct",
        False,
        rationale="judge says no",
        source_type="LLM_JUDGE",
        source_id="gpt",
        span_id=tool.span_id,
    )
    assert tracklet.get_assessment(trace_id, judged.assessment_id) == judged

    fixed = tracklet.override_feedback(
        trace_id=trace_id,
        assessment_id=judged.assessment_id,
        value=True,
        rationale="it is right",
        source=tracklet.AssessmentSource("HUMAN", "ada"),
        metadata={"reason": "judge misread"},
    )
    assert (fixed.name, fixed.value, fixed.valid, fixed.overrides) == ("correct", True, True, judged.assessment_id)
    assert fixed.span_id == tool.span_id and fixed.source == tracklet.AssessmentSource("HUMAN", "ada")
    assert fixed.metadata == {"reason": "judge misread"}
    old = tracklet.get_assessment(trace_id, judged.assessment_id)
    assert old.valid is False and old.value is False and old.rationale == "judge says no"
    assert list(tracklet.search_traces(filter_string="feedback.correct = 'true'").trace_id) == [trace_id]
    assert tracklet.search_traces(filter_string="feedback.correct = 'false'", return_type="list") == []  # overridden

    updated = tracklet.update_assessment(trace_id, fixed.assessment_id, value=False, rationale="on second thought")
    assert (updated.assessment_id, updated.value, updated.rationale) == (
        fixed.assessment_id,
        False,
        "on second thought",
    )
    assert updated.metadata == {"reason": "judge misread"}  # not given: kept
    # MLflow's form: a whole assessment (here tracklet's own, changed) replaces name, value and rationale.
    renamed = tracklet.update_assessment(
        trace_id, fixed.assessment_id, dataclasses.replace(updated, name="right", value=True, rationale="yes")
    )
    assert (renamed.name, renamed.value, renamed.rationale) == ("right", True, "yes")
    assert tracklet.get_assessment(trace_id, fixed.assessment_id) == renamed

    expected = tracklet.log_expectation(trace_id, "expected", {"temp": 21})
    changed = tracklet.update_assessment(trace_id, expected.assessment_id, value={"temp": 22})
    assert changed.kind == "expectation" and changed.value == {"temp": 22}
    with pytest.raises(errors.InvalidParameterValue, match="not a feedback"):
        tracklet.override_feedback(trace_id, expected.assessment_id, {"temp": 23})

    tracklet.delete_assessment(trace_id, expected.assessment_id)
    with pytest.raises(errors.ResourceDoesNotExist) as missing:
        tracklet.get_assessment(trace_id, expected.assessment_id)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert {a.assessment_id for a in tracklet.get_trace(trace_id).assessments} == {
        judged.assessment_id,
        fixed.assessment_id,
    }


def test_assessment_verbs_see_a_trace_still_queued(tracking_uri: str) -> None:
    # No get_trace in between: the verbs send the queued trace first, as get_trace does.
    feedback = tracklet.log_feedback(_traced("queued?"), "score", 1)
    assert tracklet.get_assessment(feedback.trace_id, feedback.assessment_id).value == 1


def test_unknown_ids_are_clear_errors(tracking_uri: str) -> None:
    trace_id, unknown = _traced("unknown?"), "a-00000000000000000000000000000000"
    calls = [
        lambda: tracklet.get_assessment(trace_id, unknown),
        lambda: tracklet.update_assessment(trace_id, unknown, rationale="x"),
        lambda: tracklet.override_feedback(trace_id, unknown, 1),
    ]
    if not AGAINST_MLFLOW:  # MLflow's server deletes an unknown assessment without a word, and takes
        # an assessment on a trace it does not have; tracklet's refuses both.
        calls.append(lambda: tracklet.delete_assessment(trace_id, unknown))
        calls.append(lambda: tracklet.log_feedback("tr-00000000000000000000000000000000", "score", 1))
    for call in calls:
        with pytest.raises(errors.ResourceDoesNotExist) as raised:
            call()
        assert isinstance(raised.value, errors.TrackletError) and raised.value.message
    with pytest.raises(errors.InvalidParameterValue, match="either an assessment or the fields"):
        tracklet.update_assessment(trace_id, "a-1")
