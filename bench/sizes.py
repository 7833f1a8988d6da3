"""How big each workload is in each mode: full (the issue's sizes), quick and smoke."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# The workloads of issue 6, in the order they run and are reported.
WORKLOADS = (
    "log_metric",
    "log_batch",
    "create_runs",
    "search",
    "history",
    "artifacts",
    "concurrency",
    "ui",
    "tracklet_client",
    "traces",
    "otlp",
    "eval_datasets",
)


@dataclass(frozen=True)
class Sizes:
    mode: str
    log_metric_calls: int = 2_000
    batches: int = 200
    batch_points: int = 1_000
    runs: int = 10_000
    driver_runs: int = 10_000  # runs the server-only driver creates (a rate; fewer suffice in quick mode)
    search_max: int = 1_000  # max_results of the unfiltered and tag queries
    search_top: int = 100  # max_results of the filtered, ordered query
    page_size: int = 1_000  # page size when paging through every run
    search_reps: int = 5
    history_points: tuple[int, ...] = (100_000, 1_000_000)
    history_reps: int = 3
    big_artifact_mb: int = 100
    small_files: int = 1_000
    small_file_bytes: int = 1_024
    procs: int = 8
    runs_per_proc: int = 50
    points_per_run: int = 100
    ui_rows: int = 100
    ui_chart_points: int = 320
    ui_reps: int = 5
    tracklet_client_points: int = 100_000
    traces: int = 1_000  # MLflow 3 traced calls (not in the list; see docs/benchmarks.md)
    trace_search_max: int = 100
    otlp_traces: int = 1_000  # OpenTelemetry SDK exports to /v1/traces, one trace each (not in the issue)
    otlp_batch_traces: int = 5_000  # ... and in exports of 512 spans
    eval_records: int = 10_000  # MLflow 3 evaluation dataset records, merged in batches (not in the issue)
    eval_batch: int = 500
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Sizes("full")
QUICK = Sizes(
    "quick",
    log_metric_calls=500,
    batches=40,
    runs=2_000,
    driver_runs=500,
    search_reps=3,
    history_points=(100_000,),
    history_reps=2,
    big_artifact_mb=20,
    small_files=200,
    runs_per_proc=20,
    ui_reps=3,
    tracklet_client_points=20_000,
    traces=300,
    otlp_traces=300,
    otlp_batch_traces=1_500,
    eval_records=2_000,
)
SMOKE = Sizes(
    "smoke",
    log_metric_calls=20,
    batches=3,
    batch_points=100,
    runs=30,
    driver_runs=30,
    search_max=20,
    search_top=5,
    page_size=10,
    search_reps=1,
    history_points=(500, 3_000),
    history_reps=1,
    big_artifact_mb=1,
    small_files=10,
    procs=8,
    runs_per_proc=2,
    points_per_run=10,
    ui_rows=10,
    ui_chart_points=50,
    ui_reps=1,
    tracklet_client_points=200,
    traces=12,
    trace_search_max=5,
    otlp_traces=10,
    otlp_batch_traces=200,
    eval_records=30,
    eval_batch=10,
)
MODES = {"full": FULL, "quick": QUICK, "smoke": SMOKE}
