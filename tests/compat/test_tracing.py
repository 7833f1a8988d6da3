"""MLflow 3 tracing through the official client: `@mlflow.trace` and `mlflow.start_span` record traces
in tracklet, and `get_trace`, `search_traces`, trace tags and `delete_traces` read and change them."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow.entities import SpanType, TraceData, TraceState
from mlflow.exceptions import MlflowException

from tests.compat.conftest import error_code


@mlflow.trace(span_type=SpanType.TOOL)
def add(a: int, b: int) -> int:
    return a + b


@mlflow.trace(name="pipeline")
def pipeline(x: int) -> int:
    with mlflow.start_span("prepare") as span:
        span.set_inputs({"x": x})
        span.set_outputs(add(x, 1))
    return add(x, 2)


@mlflow.trace
def fails() -> None:
    raise ValueError("this step fails")


def _export() -> None:
    # Traces are sent in the background; wait for them while the server is up.
    mlflow.flush_trace_async_logging()


def _search(experiment_id: str, **kwargs) -> list:  # type: ignore[no-untyped-def, type-arg]
    return mlflow.search_traces(locations=[experiment_id], return_type="list", **kwargs)  # type: ignore[no-any-return]


def test_a_traced_call_is_recorded_with_its_spans(mlflow_client, experiment_id, caplog):
    caplog.set_level(logging.WARNING, logger="mlflow")
    before_ms = int(time.time() * 1000)
    assert pipeline(5) == 7
    _export()

    (found,) = _search(experiment_id)
    trace = mlflow.get_trace(found.info.trace_id)
    info = trace.info
    assert info.trace_id.startswith("tr-")
    assert info.experiment_id == experiment_id
    assert info.state == TraceState.OK
    assert info.tags["mlflow.traceName"] == "pipeline"
    assert info.tags["mlflow.artifactLocation"].endswith(f"/{experiment_id}/traces/{info.trace_id}/artifacts")
    assert before_ms - 1000 <= info.request_time <= int(time.time() * 1000)
    assert info.execution_duration is not None and info.execution_duration >= 0
    assert info.request_preview == '{"x": 5}' and info.response_preview == "7"

    by_id = {span.span_id: span for span in trace.data.spans}
    tree = sorted((s.name, by_id[s.parent_id].name if s.parent_id else None) for s in trace.data.spans)
    assert tree == [("add", "pipeline"), ("add", "prepare"), ("pipeline", None), ("prepare", "pipeline")]
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.inputs == {"x": 5} and root.outputs == 7
    adds = sorted((s for s in trace.data.spans if s.name == "add"), key=lambda s: s.start_time_ns)
    assert [s.inputs for s in adds] == [{"a": 5, "b": 1}, {"a": 5, "b": 2}]
    assert {s.span_type for s in adds} == {SpanType.TOOL}

    # The server reads the spans back from the file the client uploaded (`traces/get`), exactly.
    assert info.tags["mlflow.trace.spansLocation"] == "ARCHIVE_REPO"
    uploaded = mlflow.artifacts.download_artifacts(info.tags["mlflow.artifactLocation"] + "/traces.json")
    from_file = TraceData.from_dict(json.loads(Path(uploaded).read_text()))
    assert [s.to_dict() for s in trace.data.spans] == [s.to_dict() for s in from_file.spans]
    assert not [r for r in caplog.records if "trace" in r.getMessage().lower()], "the client warned about tracing"


def test_traces_of_a_run_and_failed_traces_are_found_by_search(mlflow_client, experiment_id):
    pipeline(1)
    with mlflow.start_run() as run:
        pipeline(2)
    with pytest.raises(ValueError):
        fails()
    _export()

    (in_run,) = _search(experiment_id, run_id=run.info.run_id)
    assert in_run.info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    assert in_run.info.request_preview == '{"x": 2}'
    (failed,) = _search(experiment_id, filter_string="trace.status = 'ERROR'")
    assert failed.info.state == TraceState.ERROR and failed.info.tags["mlflow.traceName"] == "fails"
    error_span = failed.data.spans[0]
    assert error_span.status.status_code == "ERROR"
    assert any(e.name == "exception" and "this step fails" in str(e.attributes) for e in error_span.events)

    assert len(_search(experiment_id, filter_string="trace.name = 'pipeline'")) == 2
    assert len(_search(experiment_id, filter_string="trace.name LIKE 'pipe%' AND trace.status = 'OK'")) == 2
    assert len(_search(experiment_id, filter_string="metadata.`mlflow.sourceRun` IS NULL")) == 2
    assert len(_search(experiment_id, filter_string="trace.execution_time_ms >= 0")) == 3
    oldest_first = _search(experiment_id, order_by=["timestamp_ms ASC"])
    assert [t.info.request_preview for t in oldest_first] == ['{"x": 1}', '{"x": 2}', "{}"]
    assert len(_search(experiment_id, filter_string="span.name = 'add'")) == 2  # the two pipelines'
    with pytest.raises(MlflowException) as bad:
        _search(experiment_id, filter_string="span.content = 'add'")
    assert error_code(bad) == "INVALID_PARAMETER_VALUE"


def test_paging_through_traces_returns_each_once(mlflow_client, experiment_id):
    for x in range(7):
        add(x, x)
    _export()
    seen: list[str] = []
    token = None
    while True:
        page = mlflow_client.search_traces(locations=[experiment_id], max_results=3, page_token=token)
        seen += [t.info.trace_id for t in page]
        token = page.token
        if not token:
            break
    assert len(seen) == 7 == len(set(seen))
    frame = mlflow.search_traces(locations=[experiment_id])
    assert len(frame) == 7 and {"trace_id", "state", "request_time"} <= set(frame.columns)


def test_trace_tags_are_set_and_deleted(mlflow_client, experiment_id):
    add(1, 2)
    _export()
    (trace,) = _search(experiment_id)
    trace_id = trace.info.trace_id
    mlflow_client.set_trace_tag(trace_id, "review", "good")
    assert mlflow.get_trace(trace_id).info.tags["review"] == "good"
    assert len(_search(experiment_id, filter_string="tags.review = 'good'")) == 1

    mlflow_client.delete_trace_tag(trace_id, "review")
    assert "review" not in mlflow.get_trace(trace_id).info.tags


def test_deleting_traces_removes_them_and_their_spans(mlflow_client, experiment_id, server):
    for x in range(4):
        add(x, 1)
    _export()
    traces = _search(experiment_id, order_by=["timestamp_ms ASC"])
    folder = Path(server.artifacts_destination) / experiment_id / "traces"
    assert {p.name for p in folder.iterdir()} == {t.info.trace_id for t in traces}

    assert mlflow_client.delete_traces(experiment_id, trace_ids=[traces[3].info.trace_id]) == 1
    newest_kept = traces[2].info.request_time
    assert mlflow_client.delete_traces(experiment_id, max_timestamp_millis=newest_kept, max_traces=2) == 2
    (left,) = _search(experiment_id)
    assert left.info.trace_id == traces[2].info.trace_id
    assert {p.name for p in folder.iterdir()} == {left.info.trace_id}
    assert mlflow.get_trace(traces[0].info.trace_id) is None  # the client's answer for "not found"


def test_feedback_and_expectations_are_logged_overridden_updated_and_deleted(mlflow_client, experiment_id):
    from mlflow.entities import AssessmentSource, Feedback

    assert add(2, 2) == 4
    _export()
    (trace,) = _search(experiment_id)
    trace_id = trace.info.trace_id
    judge = AssessmentSource(source_type="LLM_JUDGE", source_id="gpt-judge")
    feedback = mlflow.log_feedback(
        trace_id=trace_id, name="correct", value=True, source=judge, rationale="2 + 2 is 4", metadata={"run": "1"}
    )
    truth = mlflow.log_expectation(trace_id=trace_id, name="expected", value={"answer": 4, "units": ["none"]})
    assert feedback.assessment_id.startswith("a-") and feedback.value is True

    got = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert (got.name, got.value, got.rationale, got.metadata) == ("correct", True, "2 + 2 is 4", {"run": "1"})
    assert got.source.source_type == "LLM_JUDGE" and got.source.source_id == "gpt-judge"
    assert mlflow.get_assessment(trace_id, truth.assessment_id).value == {"answer": 4, "units": ["none"]}

    override = mlflow.override_feedback(trace_id=trace_id, assessment_id=feedback.assessment_id, value=False)
    assert override.overrides == feedback.assessment_id
    assert mlflow.get_assessment(trace_id, feedback.assessment_id).valid is False
    updated = mlflow.update_assessment(
        trace_id, override.assessment_id, Feedback(name="correct", value=0.5, rationale="half right")
    )
    assert (updated.value, updated.rationale) == (0.5, "half right")
    assert updated.last_update_time_ms >= updated.create_time_ms

    on_trace = {a.assessment_id: a for a in mlflow.get_trace(trace_id).info.assessments}
    assert set(on_trace) == {feedback.assessment_id, truth.assessment_id, override.assessment_id}
    assert _search(experiment_id)[0].info.assessments, "search results carry the assessments too"
    assert len(_search(experiment_id, filter_string="feedback.correct > 0.4")) == 1  # the valid override's 0.5
    assert _search(experiment_id, filter_string="feedback.correct = 'true'") == []  # the overridden True

    mlflow.delete_assessment(trace_id, override.assessment_id)
    assert mlflow.get_assessment(trace_id, feedback.assessment_id).valid is True, "the overridden one counts again"
    with pytest.raises(MlflowException) as gone:
        mlflow.get_assessment(trace_id, override.assessment_id)
    assert error_code(gone) == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_client.delete_traces(experiment_id, trace_ids=[trace_id]) == 1


def test_traces_linked_to_a_run_are_searched_with_it(mlflow_client, experiment_id):
    add(1, 1)
    _export()
    (outside,) = _search(experiment_id)
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    assert _search(experiment_id, run_id=run_id) == []
    mlflow_client.link_traces_to_run([outside.info.trace_id], run_id=run_id)
    assert [t.info.trace_id for t in _search(experiment_id, run_id=run_id)] == [outside.info.trace_id]


def test_the_web_ui_reads_a_traces_runs_recorded_in_then_linked(server, mlflow_client, experiment_id):
    with mlflow.start_run() as recorded:
        add(1, 2)
    _export()
    (trace,) = _search(experiment_id)
    evaluation = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.link_traces_to_run([trace.info.trace_id], run_id=evaluation)

    def runs_of(**params: str) -> httpx.Response:
        return httpx.get(f"{server.url}/api/tracklet/traces/runs", params=params)

    answer = runs_of(trace_id=trace.info.trace_id)
    assert answer.status_code == 200
    assert [r["info"]["run_id"] for r in answer.json()["runs"]] == [recorded.info.run_id, evaluation]
    missing = runs_of(trace_id="tr-" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert runs_of().status_code == 400


def test_genai_evaluate_records_its_run_traces_and_assessments(mlflow_client, experiment_id):
    """`mlflow.genai.evaluate` with code scorers (no LLM judge): a run with the scorers' metrics, one
    trace per row linked to it, each with the scorers' feedback and the row's expectation."""
    from mlflow.genai.scorers import scorer

    @scorer
    def exact_match(outputs, expectations) -> bool:  # type: ignore[no-untyped-def]
        return outputs == expectations["expected"]  # type: ignore[no-any-return]

    @scorer
    def length(outputs) -> int:  # type: ignore[no-untyped-def]
        return len(outputs)

    data = [
        {"inputs": {"question": "hi"}, "expectations": {"expected": "HI"}},
        {"inputs": {"question": "yo"}, "expectations": {"expected": "nope"}},
    ]
    result = mlflow.genai.evaluate(
        data=data, predict_fn=lambda question: question.upper(), scorers=[exact_match, length]
    )
    assert result.metrics["exact_match/mean"] == 0.5 and result.metrics["length/mean"] == 2.0
    assert mlflow_client.get_run(result.run_id).data.metrics["exact_match/mean"] == 0.5

    traces = _search(experiment_id, run_id=result.run_id)
    assert len(traces) == 2
    verdicts = {t.data.spans[0].inputs["question"]: {a.name: a.value for a in t.info.assessments} for t in traces}
    assert verdicts == {
        "hi": {"exact_match": True, "length": 2, "expected": "HI"},
        "yo": {"exact_match": False, "length": 2, "expected": "nope"},
    }
