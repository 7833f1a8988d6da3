"""Runs for `TrackletClient`: create, read, update, search; their params, metrics and tags, written
synchronously; their traces. Also the wire helpers the client's other modules share (`API`, `kv`,
`json_float`, `split_batch`) and `Run`, the run as users read it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tracklet import entities
from tracklet.client import traces
from tracklet.client.traces import Trace
from tracklet.client.transport import Transport

__all__ = ["API", "MetricPoint", "Run", "RunData", "RunsMixin", "json_float", "kv", "now_ms", "split_batch"]

API = "/api/2.0/mlflow"
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTITIES = 1000, 100, 100, 1000

PARENT_RUN_ID_TAG = "mlflow.parentRunId"

_BULK_INTERVAL_MAX = 1000  # points asked for per run in one bulk-interval read (MLflow and tracklet allow 2,500)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def json_float(value: float) -> float | str:
    """JSON has no NaN/Infinity: MLflow sends them as strings."""
    if math.isfinite(value):
        return value
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _float(value: float | str) -> float:
    return float(value)  # float("NaN") and float("Infinity") parse


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class RunData:
    """A run's data the way users read it: latest metric values, params and tags as dicts."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """A run: `info` as the server sent it (run_id, status, times, artifact_uri …) and `data` as dicts."""

    info: entities.RunInfo
    data: RunData
    inputs: entities.RunInputs = field(default_factory=entities.RunInputs)
    outputs: entities.RunOutputs = field(default_factory=entities.RunOutputs)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Run:
        run = msgspec.convert(obj, entities.Run)
        data = RunData(
            metrics={m.key: _float(m.value) for m in run.data.metrics},
            params={p.key: p.value for p in run.data.params},
            tags={t.key: t.value for t in run.data.tags},
        )
        return cls(info=run.info, data=data, inputs=run.inputs, outputs=run.outputs)


def split_batch(
    metrics: Sequence[dict[str, Any]], params: Sequence[dict[str, Any]], tags: Sequence[dict[str, Any]]
) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Cut one logical batch into log-batch requests within the server limits, keeping order.

    A param key repeated inside one request is rejected by the server, so a repeat starts a new request.
    """
    out: list[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]] = []
    m: list[dict[str, Any]] = []
    p: list[dict[str, Any]] = []
    t: list[dict[str, Any]] = []
    seen: set[str] = set()

    def cut() -> None:
        nonlocal m, p, t, seen
        if m or p or t:
            out.append((m, p, t))
        m, p, t, seen = [], [], [], set()

    for item in params:
        if len(p) == MAX_PARAMS or item["key"] in seen:
            cut()
        p.append(item)
        seen.add(item["key"])
    for item in tags:
        if len(t) == MAX_TAGS or len(p) + len(t) == MAX_ENTITIES:
            cut()
        t.append(item)
    for item in metrics:
        if len(m) == MAX_METRICS or len(m) + len(p) + len(t) == MAX_ENTITIES:
            cut()
        m.append(item)
    cut()
    return out


def kv(mapping: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": str(k), "value": str(v)} for k, v in mapping.items()]


class RunsMixin:
    """`TrackletClient`'s runs, their params, metrics and tags, and their traces."""

    transport: Transport
    _artifact_uris: dict[str, str]  # run id -> artifact URI, remembered from every run read

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        run_name: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "start_time": start_time if start_time is not None else now_ms(),
            "tags": kv(tags or {}),
        }
        if run_name:
            body["run_name"] = run_name
        if user_id:
            body["user_id"] = user_id
        run = Run.from_json(self.transport.post(f"{API}/runs/create", body)["run"])
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri
        return run

    def get_run(self, run_id: str) -> Run:
        run = Run.from_json(self.transport.get(f"{API}/runs/get", run_id=run_id)["run"])
        self._artifact_uris[run_id] = run.info.artifact_uri
        return run

    def update_run(
        self, run_id: str, status: str | None = None, end_time: int | None = None, run_name: str | None = None
    ) -> entities.RunInfo:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if status:
            body["status"] = status
        if end_time is not None:
            body["end_time"] = end_time
        if run_name:
            body["run_name"] = run_name
        return msgspec.convert(self.transport.post(f"{API}/runs/update", body)["run_info"], entities.RunInfo)

    def set_terminated(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> None:
        self.update_run(run_id, status=status, end_time=end_time if end_time is not None else now_ms())

    def delete_run(self, run_id: str) -> None:
        self.transport.post(f"{API}/runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self.transport.post(f"{API}/runs/restore", {"run_id": run_id})

    def get_parent_run(self, run_id: str) -> Run | None:
        """The run named by the run's `mlflow.parentRunId` tag (set by `start_run(nested=True)`), or None."""
        parent_id = self.get_run(run_id).data.tags.get(PARENT_RUN_ID_TAG)
        return self.get_run(parent_id) if parent_id else None

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: str = "ACTIVE_ONLY",
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
    ) -> list[Run]:
        """All matching runs up to `max_results`, following pages."""
        out: list[Run] = []
        token = None
        while len(out) < max_results:
            body: dict[str, Any] = {
                "experiment_ids": list(experiment_ids),
                "filter": filter_string,
                "run_view_type": run_view_type,
                "max_results": min(max_results - len(out), 50000),
                "order_by": list(order_by or []),
            }
            if token:
                body["page_token"] = token
            page = self.transport.post(f"{API}/runs/search", body)
            out += [Run.from_json(r) for r in page.get("runs", [])]
            token = page.get("next_page_token")
            if not token:
                break
        return out

    # -- traces ----------------------------------------------------------------------------------

    def get_trace(self, trace_id: str) -> Trace:
        return traces.get_trace(self.transport, trace_id)

    def search_traces(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = "",
        max_results: int | None = 100,
        order_by: Sequence[str] | None = None,
        include_spans: bool = True,
    ) -> list[Trace]:
        """Matching traces up to `max_results` (None: all), following pages, with their spans unless asked
        not to: a list of `Trace`, as `MlflowClient.search_traces` returns (its PagedList is a list with
        a page token; this one follows the pages itself). `tracklet.search_traces` gives a DataFrame."""
        return traces.search_traces(
            self.transport, experiment_ids, filter_string or "", order_by, max_results, include_spans
        )

    # -- params, metrics, tags (synchronous) ---------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[MetricPoint | entities.Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Log any number of entities, split into requests within the server limits."""
        m = [
            {"key": x.key, "value": json_float(float(x.value)), "timestamp": x.timestamp, "step": x.step}
            for x in metrics
        ]
        for mm, pp, tt in split_batch(m, kv(params or {}), kv(tags or {})):
            self.transport.post(f"{API}/runs/log-batch", {"run_id": run_id, "metrics": mm, "params": pp, "tags": tt})

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.transport.post(
            f"{API}/runs/log-parameter", {"run_id": run_id, "run_uuid": run_id, "key": key, "value": str(value)}
        )

    def log_metric(
        self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int | None = None
    ) -> None:
        body = {
            "run_id": run_id,
            "run_uuid": run_id,
            "key": key,
            "value": json_float(float(value)),
            "timestamp": timestamp if timestamp is not None else now_ms(),
            "step": step or 0,
        }
        self.transport.post(f"{API}/runs/log-metric", body)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.transport.post(
            f"{API}/runs/set-tag", {"run_id": run_id, "run_uuid": run_id, "key": key, "value": str(value)}
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        self.transport.post(f"{API}/runs/delete-tag", {"run_id": run_id, "key": key})

    def log_inputs(self, run_id: str, datasets: Sequence[entities.DatasetInput]) -> None:
        """Record datasets the run used (a dataset logged again with the same name and digest is kept once)."""
        body = {"run_id": run_id, "datasets": msgspec.to_builtins(list(datasets))}
        self.transport.post(f"{API}/runs/log-inputs", body)

    def get_metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every point of one metric, in the server's order (timestamp, then step, then value)."""
        out: list[MetricPoint] = []
        token = None
        while True:
            page = self.transport.get(
                f"{API}/metrics/get-history", run_id=run_id, metric_key=key, max_results=25000, page_token=token
            )
            out += [
                MetricPoint(m["key"], _float(m["value"]), int(m.get("timestamp", 0)), int(m.get("step", 0)))
                for m in page.get("metrics", [])
            ]
            token = page.get("next_page_token")
            if not token:
                return out

    def points_at_step(self, run_id: str, key: str, step: int) -> list[MetricPoint]:
        """The points of one metric logged at `step`: one bounded request (MLflow's bulk-interval read)
        unless the step holds more points than it returns, then the whole history."""
        page = self.transport.get(
            f"{API}/metrics/get-history-bulk-interval", run_ids=run_id, metric_key=key, start_step=step,
            end_step=step, max_results=_BULK_INTERVAL_MAX,
        )  # fmt: skip
        found = page.get("metrics", [])
        if len(found) < _BULK_INTERVAL_MAX:
            return [MetricPoint(m["key"], _float(m["value"]), int(m.get("timestamp", 0)), step) for m in found]
        return [p for p in self.get_metric_history(run_id, key) if p.step == step]

    def log_model_metrics(self, run_id: str, model_id: str, step: int = 0) -> None:
        """Link the run's metric points at `step` to a logged model, as MLflow's `log_model` does: the
        model's page then shows the scores it was logged with."""
        points = [p for key in self.get_run(run_id).data.metrics for p in self.points_at_step(run_id, key, step)]
        m = [
            {"key": p.key, "value": json_float(p.value), "timestamp": p.timestamp, "step": p.step, "model_id": model_id}
            for p in points
        ]
        for mm, _, _ in split_batch(m, [], []):
            self.transport.post(f"{API}/runs/log-batch", {"run_id": run_id, "metrics": mm})
