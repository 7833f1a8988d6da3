"""OpenTelemetry's own SDK and OTLP/HTTP exporter send spans to `/v1/traces`, as MLflow's docs tell
users of any OpenTelemetry-instrumented application to; the official MLflow client reads them back as
traces. Spans are captured in memory first, so each test decides which spans go in which export."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow.entities import TraceData, TraceState
from mlflow.exceptions import MlflowException
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer

from tests.compat.conftest import error_code


class Recorder:
    """A tracer whose finished spans wait in memory until a test exports them."""

    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
        provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer: Tracer = provider.get_tracer("tests.otlp")

    def spans(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.memory.get_finished_spans()}


def export(server, experiment_id: str, spans: Sequence[ReadableSpan], **headers: str) -> SpanExportResult:  # type: ignore[no-untyped-def]
    compression = Compression(headers.pop("compression", "none"))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"x-mlflow-experiment-id": experiment_id, **headers},
        compression=compression,
    )
    try:
        return exporter.export(list(spans))
    finally:
        exporter.shutdown()


def trace_id_of(span: ReadableSpan) -> str:
    return f"tr-{span.context.trace_id:032x}"


def record_agent(recorder: Recorder) -> dict[str, ReadableSpan]:
    """An agent call: a root span, a tool call that fails and a model call with attributes of each kind."""
    tracer = recorder.tracer
    with tracer.start_as_current_span("agent") as root:
        root.set_attribute("mlflow.spanInputs", '{"question": "2+2?"}')
        root.set_attribute("mlflow.spanType", "AGENT")  # not JSON: taken as a string
        with tracer.start_as_current_span("search-tool") as tool:
            tool.set_status(Status(StatusCode.ERROR, "no network"))
            tool.add_event("retry", {"attempt": 2})
        with tracer.start_as_current_span("llm") as llm:
            llm.set_attribute("gen_ai.request.model", "tiny")
            llm.set_attribute("gen_ai.usage.input_tokens", 12)
            llm.set_attribute("temperature", 0.25)
            llm.set_attribute("stream", False)
            llm.set_attribute("stop", ["\n", "END"])
            llm.set_attribute("score", float("nan"))  # OTLP doubles may be NaN or infinite; JSON has neither
            llm.set_attribute("budget", float("-inf"))
        root.set_attribute("mlflow.spanOutputs", '"4"')
        root.set_attribute("mlflow.traceTag.team", "search")
    return recorder.spans()


def test_an_opentelemetry_export_becomes_a_trace_the_mlflow_client_reads(server, mlflow_client, experiment_id):
    spans = record_agent(Recorder())
    assert export(server, experiment_id, list(spans.values())) == SpanExportResult.SUCCESS

    root = spans["agent"]
    trace = mlflow.get_trace(trace_id_of(root))
    info = trace.info
    assert info.experiment_id == experiment_id
    assert info.state == TraceState.OK
    assert info.request_time == root.start_time // 1_000_000
    assert info.execution_duration == root.end_time // 1_000_000 - root.start_time // 1_000_000
    assert info.tags["mlflow.traceName"] == "agent"
    assert info.tags["team"] == "search"
    assert info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert info.request_preview == '{"question": "2+2?"}' and info.response_preview == '"4"'

    by_name = {span.name: span for span in trace.data.spans}
    assert set(by_name) == {"agent", "search-tool", "llm"}
    assert by_name["agent"].parent_id is None
    # MLflow's attributes hold JSON texts: read back as the values they encode; other text as text.
    assert by_name["agent"].inputs == {"question": "2+2?"} and by_name["agent"].outputs == "4"
    assert by_name["agent"].span_type == "AGENT"
    assert by_name["llm"].parent_id == by_name["search-tool"].parent_id == by_name["agent"].span_id
    assert by_name["llm"].span_id == f"{spans['llm'].context.span_id:016x}"
    llm = by_name["llm"]
    assert llm.attributes["gen_ai.request.model"] == "tiny"
    assert llm.attributes["gen_ai.usage.input_tokens"] == 12
    assert llm.attributes["temperature"] == 0.25
    assert llm.attributes["stream"] is False
    assert llm.attributes["stop"] == ["\n", "END"]
    assert math.isnan(llm.attributes["score"]) and llm.attributes["budget"] == float("-inf")
    assert (llm.start_time_ns, llm.end_time_ns) == (spans["llm"].start_time, spans["llm"].end_time)
    tool = by_name["search-tool"]
    assert tool.status.status_code == "ERROR" and tool.status.description == "no network"
    assert [(e.name, e.attributes) for e in tool.events] == [("retry", {"attempt": 2})]

    (found,) = mlflow.search_traces(locations=[experiment_id], return_type="list")
    assert found.info.trace_id == info.trace_id and len(found.data.spans) == 3
    assert (
        len(mlflow.search_traces(locations=[experiment_id], filter_string="tags.team = 'search'", return_type="list"))
        == 1
    )


def test_a_trace_is_in_progress_until_its_root_span_arrives(server, mlflow_client, experiment_id):
    recorder = Recorder()
    with recorder.tracer.start_as_current_span("job") as job:
        job.set_status(Status(StatusCode.ERROR, "step 3 failed"))
        for step in range(3):
            with recorder.tracer.start_as_current_span(f"step-{step}"):
                time.sleep(0.002)
    spans = recorder.spans()
    trace_id = trace_id_of(spans["job"])

    # As a batching SDK does: the children first, one export each, the root later.
    for step in range(3):
        export(server, experiment_id, [spans[f"step-{step}"]])
    early = mlflow.get_trace(trace_id)
    assert early.info.state == TraceState.IN_PROGRESS
    assert sorted(s.name for s in early.data.spans) == ["step-0", "step-1", "step-2"]
    first, last = spans["step-0"], spans["step-2"]
    assert early.info.request_time == first.start_time // 1_000_000
    assert early.info.execution_duration == last.end_time // 1_000_000 - first.start_time // 1_000_000

    export(server, experiment_id, [spans["job"]])
    done = mlflow.get_trace(trace_id)
    assert done.info.state == TraceState.ERROR
    assert done.info.request_time == spans["job"].start_time // 1_000_000
    assert [s.name for s in done.data.spans] == ["job", "step-0", "step-1", "step-2"]  # in order of start
    assert {s.parent_id for s in done.data.spans if s.name != "job"} == {done.data.spans[0].span_id}


def test_a_span_sent_twice_is_kept_once(server, mlflow_client, experiment_id):
    spans = record_agent(Recorder())
    export(server, experiment_id, [spans["llm"]], compression="gzip")
    export(server, experiment_id, list(spans.values()), compression="deflate")
    trace = mlflow.get_trace(trace_id_of(spans["agent"]))
    assert sorted(s.name for s in trace.data.spans) == ["agent", "llm", "search-tool"]


def test_exports_of_one_trace_at_the_same_time_all_arrive(server, mlflow_client, experiment_id):
    recorder = Recorder()
    with recorder.tracer.start_as_current_span("fan-out"):
        for worker in range(12):
            with recorder.tracer.start_as_current_span(f"worker-{worker}"):
                pass
    spans = recorder.spans()
    results: list[SpanExportResult] = []
    threads = [
        threading.Thread(target=lambda span=span: results.append(export(server, experiment_id, [span])))
        for span in spans.values()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SpanExportResult.SUCCESS] * 13
    trace = mlflow.get_trace(trace_id_of(spans["fan-out"]))
    assert len(trace.data.spans) == 13 and trace.info.state == TraceState.OK


def test_the_run_header_links_the_traces_to_the_run(server, mlflow_client, experiment_id):
    run = mlflow_client.create_run(experiment_id)
    spans = record_agent(Recorder())
    export(server, experiment_id, list(spans.values()), **{"x-mlflow-run-id": run.info.run_id})
    (found,) = mlflow.search_traces(locations=[experiment_id], run_id=run.info.run_id, return_type="list")
    assert found.info.trace_id == trace_id_of(spans["agent"])
    assert found.info.trace_metadata["mlflow.sourceRun"] == run.info.run_id  # as the client notes its own


def test_deleted_traces_take_their_stored_spans_with_them(server, mlflow_client, experiment_id):
    spans = record_agent(Recorder())
    export(server, experiment_id, list(spans.values()))
    trace_id = trace_id_of(spans["agent"])
    assert mlflow_client.delete_traces(experiment_id, trace_ids=[trace_id]) == 1
    with pytest.raises(MlflowException) as gone:
        mlflow_client.get_trace(trace_id)
    assert error_code(gone) == "RESOURCE_DOES_NOT_EXIST"

    # The same trace sent again starts afresh: none of its old spans come back.
    export(server, experiment_id, [spans["llm"]])
    assert [s.name for s in mlflow.get_trace(trace_id).data.spans] == ["llm"]


def test_the_web_ui_reads_stored_spans_in_the_layout_of_traces_json(server, mlflow_client, experiment_id):
    spans = record_agent(Recorder())
    export(server, experiment_id, list(spans.values()))
    trace_id = trace_id_of(spans["agent"])
    answer = httpx.get(f"{server.url}/api/tracklet/traces/spans", params={"trace_id": trace_id})
    assert answer.status_code == 200
    data = TraceData.from_dict(answer.json())  # what MLflow's client reads from a traces.json
    from_server = mlflow.get_trace(trace_id).data
    assert [_described(s) for s in data.spans] == [_described(s) for s in from_server.spans]

    missing = httpx.get(f"{server.url}/api/tracklet/traces/spans", params={"trace_id": "tr-" + "0" * 32})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def _described(span):  # type: ignore[no-untyped-def]
    return (
        span.span_id,
        span.parent_id,
        span.name,
        span.start_time_ns,
        span.end_time_ns,
        (span.status.status_code, span.status.description),
        span.attributes,
        [(event.name, event.timestamp, event.attributes) for event in span.events],
    )


def test_mlflows_own_sdk_exporting_over_otlp_lands_here_too(server, mlflow_client, experiment_id):
    """MLflow's docs send the SDK's spans to an OpenTelemetry collector by `OTEL_EXPORTER_OTLP_*`
    settings; pointed at tracklet's `/v1/traces`, the traces arrive without MLflow's own upload."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.compat.trace_over_otlp", server.url, experiment_id],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    trace_id = done.stdout.strip().splitlines()[-1]
    trace = mlflow.get_trace(trace_id)
    assert trace.info.state == TraceState.OK
    assert trace.info.tags["mlflow.traceName"] == "plan"
    assert trace.info.request_preview == '{"x": 3}' and trace.info.response_preview == "7"
    root, child = trace.data.spans
    assert (root.name, root.inputs, root.outputs) == ("plan", {"x": 3}, 7)
    assert (child.name, child.parent_id, child.inputs, child.outputs) == ("double", root.span_id, {"x": 3}, 6)
    assert child.span_type == "TOOL"
