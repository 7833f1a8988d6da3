"""Seed MLflow 3 traces with the official client: `python -m tests.ui.seed_traces <server url>`.

Runs in its own process (the client keeps its tracing state in module globals and threads) and prints
one JSON object: {"experiment_id", "run_id", "traces": {label: trace id}}. Traces are logged
synchronously (MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false), so they are all on the server when it exits.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

EXPERIMENT = "ui-traces"


def seed(url: str) -> dict[str, Any]:
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow
    from mlflow.entities import AssessmentSource, SpanEvent, SpanType

    mlflow.set_tracking_uri(url)
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    traces: dict[str, str] = {}

    @mlflow.trace(span_type=SpanType.TOOL)
    def add_one(x: int) -> int:
        return x + 1

    @mlflow.trace(span_type=SpanType.LLM, attributes={"model": "tiny-llm", "temperature": 0.2})
    def generate(prompt: str) -> str:
        with mlflow.start_span("retrieve", span_type=SpanType.RETRIEVER) as span:
            span.set_inputs({"query": prompt})
            span.set_outputs([{"doc": "tracklet speaks MLflow's protocol", "score": 0.93}])
            span.add_event(SpanEvent("cache_miss", attributes={"key": prompt}))
        # What an LLM integration records; the client sums it into the trace's metadata.
        usage = {"input_tokens": 12, "output_tokens": 30, "total_tokens": 42}
        mlflow.get_current_active_span().set_attribute("mlflow.chat.tokenUsage", usage)
        return f"An answer to: {prompt}"

    @mlflow.trace
    def validate(answer: str) -> None:
        raise ValueError(f"answer too short: {answer!r}")

    @mlflow.trace(name="chat")
    def chat(question: str, user: str) -> dict[str, Any]:
        mlflow.update_current_trace(tags={"team": "nlp"})
        add_one(41)
        answer = generate(question)
        try:
            validate("no")
        except ValueError:
            pass  # a failed step in a trace that still succeeds
        return {"answer": answer, "user": user}

    @mlflow.trace(name="summarize", span_type=SpanType.CHAIN)
    def summarize(text: str) -> str:
        time.sleep(0.15)  # the slow one: execution_time_ms > 100
        mlflow.update_current_trace(tags={"team": "vision"})
        return text[:10]

    @mlflow.trace(name="failing")
    def failing() -> None:
        raise RuntimeError("the model server is down")

    def record(label: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except RuntimeError:
            pass
        traces[label] = mlflow.get_last_active_trace_id()
        time.sleep(0.02)  # distinct request times: sorting by time is deterministic

    record("chat", chat, "What is tracklet?", "ada")
    human = AssessmentSource(source_type="HUMAN", source_id="ada")
    first = mlflow.log_feedback(trace_id=traces["chat"], name="helpful", value="no", source=human)
    mlflow.override_feedback(
        trace_id=traces["chat"], assessment_id=first.assessment_id, value="yes", rationale="read it again"
    )
    mlflow.log_expectation(trace_id=traces["chat"], name="expected_answer", value={"answer": "a tracking server"})
    record("summarize", summarize, "A long text about experiment tracking.")
    record("failing", failing)
    with mlflow.start_run(run_name="traced-run") as run:
        record("in_run", chat, "Asked inside a run", "grace")
    record("to_delete", summarize, "Delete me.")
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "traces": traces}


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1])))
