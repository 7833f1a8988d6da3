"""Tracing with tracklet's client (`@tracklet.trace`, `tracklet.start_span`) against a real server and
the local store: the traces are read back through the server's MLflow 3 trace API."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import pytest

import tracklet
from tests.client.conftest import free_port
from tracklet.client import fluent, tracing


@tracklet.trace(span_type="TOOL")
def lookup(city: str, units: str = "C") -> dict[str, Any]:
    return {"city": city, "temp": 21, "units": units}


@tracklet.trace(name="assistant")
def assistant(question: str) -> str:
    tracklet.update_current_trace(tags={"team": "weather"})
    with tracklet.start_span("plan", span_type="CHAIN") as span:
        span.set_inputs({"question": question})
        span.set_attribute("steps", 1)
        span.set_outputs(["lookup"])
    return f"It is {lookup('Oslo')['temp']} degrees"


def test_a_traced_call_is_recorded_with_its_spans(tracking_uri: str) -> None:
    before_ms = int(time.time() * 1000)
    assert assistant("weather in Oslo?") == "It is 21 degrees"
    trace_id = tracklet.get_last_active_trace_id()
    assert trace_id is not None and trace_id.startswith("tr-")

    trace = tracklet.get_trace(trace_id)
    info = trace.info
    assert info.state == "OK"
    assert info.tags["mlflow.traceName"] == "assistant" and info.tags["team"] == "weather"
    assert info.request_preview == '{"question":"weather in Oslo?"}'
    assert info.response_preview == '"It is 21 degrees"'
    assert info.trace_location.mlflow_experiment.experiment_id == fluent._current_experiment_id(fluent._state.client())
    assert datetime.fromisoformat(info.request_time.replace("Z", "+00:00")).timestamp() * 1000 >= before_ms - 1

    assert [span.name for span in trace.spans] == ["assistant", "plan", "lookup"]  # in order of start
    root, plan, tool = trace.spans
    assert root.parent_id is None and plan.parent_id == tool.parent_id == root.span_id
    assert root.inputs == {"question": "weather in Oslo?"} and root.outputs == "It is 21 degrees"
    assert plan.span_type == "CHAIN" and plan.attributes["steps"] == 1 and plan.outputs == ["lookup"]
    assert tool.span_type == "TOOL" and tool.inputs == {"city": "Oslo"} and tool.outputs["temp"] == 21
    assert root.start_time_ns <= plan.start_time_ns <= plan.end_time_ns <= tool.start_time_ns <= root.end_time_ns


def test_an_exception_fails_the_span_and_the_trace_and_is_raised_on(tracking_uri: str) -> None:
    @tracklet.trace
    def divide(a: float, b: float) -> float:
        return a / b

    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    trace = tracklet.get_trace(tracklet.get_last_active_trace_id() or "")
    assert trace.info.state == "ERROR"
    (span,) = trace.spans
    assert span.status == "ERROR" and "division by zero" in span.status_message
    (event,) = span.events
    assert event["name"] == "exception" and event["attributes"]["exception.type"] == "ZeroDivisionError"
    assert "Traceback" in event["attributes"]["exception.stacktrace"]


def test_traces_are_searched_by_run_filter_and_order(tracking_uri: str) -> None:
    experiment_id = tracklet.create_experiment(f"traced-{time.time_ns()}")
    with tracklet.start_run(experiment_id=experiment_id) as run:
        lookup("Bergen", units="F")
        in_run = tracklet.get_last_active_trace_id()
        assert [t.trace_id for t in tracklet.search_traces(run_id=run.info.run_id, return_type="list")] == [in_run]
    tracklet.set_experiment(experiment_id=experiment_id)
    for city in ("Oslo", "Tromsø"):
        time.sleep(0.002)  # distinct start times: the order is theirs
        lookup(city)
    time.sleep(0.002)
    with pytest.raises(ZeroDivisionError):
        tracklet.trace(lambda: 1 / 0)()

    found = tracklet.search_traces(return_type="list")
    assert len(found) == 4 and all(t.spans for t in found)
    assert [t.spans[0].inputs["city"] for t in found[1:]] == ["Tromsø", "Oslo", "Bergen"]  # newest first
    oldest = tracklet.search_traces(
        order_by=["timestamp_ms ASC"], max_results=2, include_spans=False, return_type="list"
    )
    assert [t.trace_id for t in oldest][0] == in_run and oldest[1].spans == []
    (failed,) = tracklet.search_traces(filter_string="trace.status = 'ERROR'", return_type="list")
    assert failed.spans[0].name == "<lambda>"
    client = tracklet.TrackletClient(tracking_uri)
    assert [t.trace_id for t in client.search_traces([experiment_id], "trace.name = 'lookup'")][-1] == in_run
    assert client.get_trace(in_run).spans[0].inputs == {"city": "Bergen", "units": "F"}


def test_async_functions_are_traced(tracking_uri: str) -> None:
    @tracklet.trace(name="fetch-all")
    async def fetch_all(n: int) -> list[int]:
        return list(await asyncio.gather(*(fetch(i) for i in range(n))))

    @tracklet.trace
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.001)
        return i * i

    assert asyncio.run(fetch_all(3)) == [0, 1, 4]
    trace = tracklet.get_trace(tracklet.get_last_active_trace_id() or "")
    root, *children = trace.spans
    assert root.name == "fetch-all" and root.outputs == [0, 1, 4]
    assert sorted((c.name, c.inputs["i"], c.outputs) for c in children) == [
        ("fetch", 0, 0),
        ("fetch", 1, 1),
        ("fetch", 2, 4),
    ]
    assert {c.parent_id for c in children} == {root.span_id}


def test_a_traced_call_does_not_wait_for_an_unreachable_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACKLET_HTTP_RETRY_SECONDS", "0.3")
    tracklet.set_tracking_uri(f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("TRACKLET_EXPERIMENT_ID", "1")
    caplog.set_level(logging.WARNING, logger="tracklet")
    started = time.perf_counter()
    assert lookup("Nowhere")["city"] == "Nowhere"
    assert time.perf_counter() - started < 0.2  # the sender retries in the background
    assert tracing.flush_traces(timeout=30)
    assert any("could not be sent" in r.getMessage() for r in caplog.records)


def test_mlflows_client_reads_the_traces_as_its_own(remote: str) -> None:
    from mlflow import MlflowClient

    assistant("and in Tromsø?")
    tracklet.log_feedback(tracklet.get_last_active_trace_id() or "", "helpful", "yes", rationale="short")
    trace = MlflowClient(remote).get_trace(tracklet.get_last_active_trace_id() or "")
    (feedback,) = trace.info.assessments
    assert (feedback.name, feedback.value, feedback.rationale) == ("helpful", "yes", "short")
    spans = {span.name: span for span in trace.data.spans}
    assert spans["assistant"].inputs == {"question": "and in Tromsø?"}
    assert spans["lookup"].span_type == "TOOL" and spans["lookup"].outputs == {"city": "Oslo", "temp": 21, "units": "C"}
    assert spans["plan"].attributes["steps"] == 1
    assert trace.info.tags["team"] == "weather"


def test_a_generator_is_one_span_until_it_is_exhausted(tracking_uri: str) -> None:
    @tracklet.trace(span_type="LLM")
    def stream(prompt: str):  # type: ignore[no-untyped-def]
        for word in prompt.split():
            yield lookup(word)["city"].upper()

    @tracklet.trace(name="chat")
    def chat() -> list[str]:
        words = []
        for word in stream("oslo bergen"):
            with tracklet.start_span("print"):  # the caller's, between two items: not inside the stream
                words.append(word)
        return words

    assert chat() == ["OSLO", "BERGEN"]
    spans = tracklet.get_trace(tracklet.get_last_active_trace_id() or "").spans
    by_id = {span.span_id: span for span in spans}
    parents = sorted((span.name, by_id[span.parent_id].name if span.parent_id else None) for span in spans)
    assert parents == [("chat", None), ("lookup", "stream"), ("lookup", "stream"),
                       ("print", "chat"), ("print", "chat"), ("stream", "chat")]  # fmt: skip
    (generator,) = [span for span in spans if span.name == "stream"]
    assert generator.outputs == ["OSLO", "BERGEN"] and generator.inputs == {"prompt": "oslo bergen"}
    assert generator.span_type == "LLM" and generator.end_time_ns >= max(
        s.end_time_ns for s in spans if s.name == "lookup"
    )

    @tracklet.trace
    def numbers():  # type: ignore[no-untyped-def]
        yield from range(10)

    for n in numbers():
        if n == 2:
            break  # a generator left early: its span ends with what it yielded
    (left,) = tracklet.get_trace(tracklet.get_last_active_trace_id() or "").spans
    assert left.outputs == [0, 1, 2] and left.status == "OK"


def test_traces_still_queued_at_exit_reach_the_local_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = (
        "import tracklet\n"
        f"tracklet.set_tracking_uri({str(tmp_path / 'store')!r})\n"
        "tracklet.trace(lambda: 42)()\n"
        "print(tracklet.get_last_active_trace_id())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "could not be sent" not in done.stderr, done.stderr
    tracklet.set_tracking_uri(str(tmp_path / "store"))
    assert tracklet.get_trace(done.stdout.strip()).spans[0].outputs == 42


def test_feedback_and_expectations_attach_to_a_trace_and_find_it(tracking_uri: str) -> None:
    assistant("is it warm?")
    trace_id = tracklet.get_last_active_trace_id() or ""
    tool = next(s for s in tracklet.get_trace(trace_id).spans if s.name == "lookup")
    score = tracklet.log_feedback(trace_id, "score", 4, rationale="close enough", source_id="ada")
    tracklet.log_feedback(trace_id, "grounded", True, source_type="CODE", source_id="checker", span_id=tool.span_id)
    tracklet.log_expectation(trace_id, "expected", {"temp": 21, "city": "Oslo"}, metadata={"set": "v1"})
    assert score.assessment_id and score.source == tracklet.AssessmentSource("HUMAN", "ada")
    assert (score.name, score.value, score.rationale, score.kind, score.valid) == (
        "score",
        4,
        "close enough",
        "feedback",
        True,
    )

    assessments = {a["assessment_name"]: a for a in tracklet.get_trace(trace_id).info.assessments}
    assert assessments["score"]["feedback"]["value"] == 4 and assessments["score"]["rationale"] == "close enough"
    assert assessments["grounded"]["feedback"]["value"] is True and assessments["grounded"]["span_id"] == tool.span_id
    assert assessments["expected"]["expectation"]["value"] == {"temp": 21, "city": "Oslo"}
    assert assessments["expected"]["metadata"] == {"set": "v1"}
    assert {a.name: a.value for a in tracklet.get_trace(trace_id).assessments} == {
        "score": 4, "grounded": True, "expected": {"temp": 21, "city": "Oslo"}
    }  # fmt: skip
    assert list(tracklet.search_traces(filter_string="feedback.score > 3").trace_id) == [trace_id]
    assert tracklet.search_traces(filter_string="feedback.score > 4", return_type="list") == []
