"""MLflow's own tracing SDK exporting over OTLP, as MLflow documents for OpenTelemetry collectors:
`python -m tests.compat.trace_over_otlp <server url> <experiment id>`.

Runs in its own process: the SDK reads the OTLP settings when it first sets up its tracer, and exports
what is left when the process exits. Prints the trace id of one traced call.
"""

from __future__ import annotations

import os
import sys


def main(url: str, experiment_id: str) -> str:
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"{url}/v1/traces"
    os.environ["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = f"x-mlflow-experiment-id={experiment_id}"
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow

    @mlflow.trace(span_type="TOOL")
    def double(x: int) -> int:
        return x * 2

    trace_ids = []

    @mlflow.trace(name="plan")
    def plan(x: int) -> int:
        trace_ids.append(mlflow.get_active_trace_id())  # exporting elsewhere, the SDK keeps no last trace
        return double(x) + 1

    plan(3)
    return trace_ids[0]  # type: ignore[return-value]


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2]))
