"""Tracing with tracklet's client (`@tracklet.trace`, `tracklet.start_span`) against a real server and
the local store: the traces are read back through the server's MLflow 3 trace API."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

import pytest

import tracklet
from tests.client.conftest import free_port
from tracklet.client import fluent, tracing


def read_trace(trace_id: str) -> dict[str, Any]:
    tracklet.flush()
    return fluent._state.client().transport.get("/api/3.0/mlflow/traces/get", trace_id=trace_id)["trace"]  # type: ignore[no-any-return]


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    """A span's attributes as plain values (the server sends OpenTelemetry `AnyValue`s)."""
    return {item["key"]: plain(item["value"]) for item in span.get("attributes", [])}


def plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "kvlist_value":
        return {kv["key"]: plain(kv["value"]) for kv in inner.get("values", [])}
    if kind == "array_value":
        return [plain(v) for v in inner.get("values", [])]
    return int(inner) if kind == "int_value" else inner


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

    trace = read_trace(trace_id)
    info = trace["trace_info"]
    assert info["state"] == "OK"
    assert info["tags"]["mlflow.traceName"] == "assistant" and info["tags"]["team"] == "weather"
    assert info["request_preview"] == '{"question":"weather in Oslo?"}'
    assert info["response_preview"] == '"It is 21 degrees"'
    assert info["trace_location"]["mlflow_experiment"]["experiment_id"] == fluent._current_experiment_id(
        fluent._state.client()
    )
    assert datetime.fromisoformat(info["request_time"].replace("Z", "+00:00")).timestamp() * 1000 >= before_ms - 1

    spans = {span["name"]: span for span in trace["spans"]}
    assert set(spans) == {"assistant", "plan", "lookup"}
    assert "parent_span_id" not in spans["assistant"]
    assert spans["plan"]["parent_span_id"] == spans["lookup"]["parent_span_id"] == spans["assistant"]["span_id"]
    root, plan, tool = (attributes(spans[n]) for n in ("assistant", "plan", "lookup"))
    assert root["mlflow.spanInputs"] == {"question": "weather in Oslo?"}
    assert root["mlflow.spanOutputs"] == "It is 21 degrees"
    assert plan["mlflow.spanType"] == "CHAIN" and plan["steps"] == 1
    assert plan["mlflow.spanOutputs"] == ["lookup"]
    assert tool["mlflow.spanType"] == "TOOL"
    assert tool["mlflow.spanInputs"] == {"city": "Oslo"} and tool["mlflow.spanOutputs"]["temp"] == 21


def test_an_exception_fails_the_span_and_the_trace_and_is_raised_on(tracking_uri: str) -> None:
    @tracklet.trace
    def divide(a: float, b: float) -> float:
        return a / b

    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    trace = read_trace(tracklet.get_last_active_trace_id() or "")
    assert trace["trace_info"]["state"] == "ERROR"
    (span,) = trace["spans"]
    assert span["status"]["code"] == "STATUS_CODE_ERROR"
    (event,) = span["events"]
    values = {a["key"]: plain(a["value"]) for a in event["attributes"]}
    assert event["name"] == "exception" and values["exception.type"] == "ZeroDivisionError"
    assert "Traceback" in values["exception.stacktrace"]


def test_traces_inside_a_run_go_to_its_experiment_and_are_found_by_it(tracking_uri: str) -> None:
    experiment_id = tracklet.create_experiment(f"traced-{time.time_ns()}")
    with tracklet.start_run(experiment_id=experiment_id) as run:
        lookup("Bergen", units="F")
    tracklet.flush()
    body = {
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}],
        "filter": f"trace.run_id = '{run.info.run_id}'",
    }
    found = fluent._state.client().transport.post("/api/3.0/mlflow/traces/search", body)["traces"]
    assert [t["trace_id"] for t in found] == [tracklet.get_last_active_trace_id()]


def test_async_functions_are_traced(tracking_uri: str) -> None:
    @tracklet.trace(name="fetch-all")
    async def fetch_all(n: int) -> list[int]:
        return list(await asyncio.gather(*(fetch(i) for i in range(n))))

    @tracklet.trace
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.001)
        return i * i

    assert asyncio.run(fetch_all(3)) == [0, 1, 4]
    trace = read_trace(tracklet.get_last_active_trace_id() or "")
    names = sorted(span["name"] for span in trace["spans"])
    assert names == ["fetch", "fetch", "fetch", "fetch-all"]
    root = next(s for s in trace["spans"] if s["name"] == "fetch-all")
    assert {s.get("parent_span_id") for s in trace["spans"] if s["name"] == "fetch"} == {root["span_id"]}


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
    tracklet.flush()
    trace = MlflowClient(remote).get_trace(tracklet.get_last_active_trace_id() or "")
    spans = {span.name: span for span in trace.data.spans}
    assert spans["assistant"].inputs == {"question": "and in Tromsø?"}
    assert spans["lookup"].span_type == "TOOL" and spans["lookup"].outputs == {"city": "Oslo", "temp": 21, "units": "C"}
    assert spans["plan"].attributes["steps"] == 1
    assert trace.info.tags["team"] == "weather"
