"""`TrackletClient`: one explicit method per tracking operation, synchronous, no hidden state but caches.

Everything here builds requests and reads responses; bytes move in `transport.py`. Its `logger`
(`batching.BatchLogger`) is the non-blocking path that the module-level `tracklet.log_*` use.
"""

from __future__ import annotations

import json
import math
import mimetypes
import os
import posixpath
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

import msgspec

from tracklet import entities, errors
from tracklet.client import traces
from tracklet.client.paging import all_pages, filter_arg, logged_model_order_by, order_by_arg, page_body, view_type_name
from tracklet.client.traces import Trace
from tracklet.client.transport import ARTIFACTS_PREFIX, Transport

__all__ = ["TrackletClient", "Run", "RunData", "MetricPoint", "split_batch"]

API = "/api/2.0/mlflow"
T = TypeVar("T")
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


class _ArtifactLocation:
    """Where an artifact URI points: the server's proxy (`mlflow-artifacts:`) or a local folder."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        if uri.startswith("mlflow-artifacts:"):
            rest = uri[len("mlflow-artifacts:") :]
            if rest.startswith("//"):  # mlflow-artifacts://host:port/path: same protocol, we assume our server
                rest = "/" + rest[2:].partition("/")[2]
            self.proxy: str | None = rest.strip("/")
            self.local: Path | None = None
        elif uri.startswith(("http://", "https://")) and ARTIFACTS_PREFIX in uri:
            self.proxy = urlparse(uri).path.split(ARTIFACTS_PREFIX, 1)[1].strip("/")
            self.local = None
        elif uri.startswith("file:"):
            self.proxy, self.local = None, Path(unquote(urlparse(uri).path))
        elif "://" not in uri:
            self.proxy, self.local = None, Path(uri)
        else:
            raise errors.NotImplementedByServer(f"tracklet's client cannot reach artifact URI {uri!r}")

    def join(self, path: str | None) -> str:
        assert self.proxy is not None
        return posixpath.join(self.proxy, path.strip("/")) if path and path.strip("/") else self.proxy


class TrackletClient:
    """Explicit, synchronous access to a tracking server (or the embedded local store).

    `tracking_uri`: `http(s)://host:port` for a server; `None`, `sqlite:///…` or a folder for the
    local store (no server needed).
    """

    def __init__(self, tracking_uri: str | None = None, *, transport: Transport | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.transport = transport or Transport.for_uri(tracking_uri)
        self._artifact_uris: dict[str, str] = {}
        self._logger: Any = None
        self._logger_lock = threading.Lock()

    @property
    def logger(self) -> Any:
        """The background `BatchLogger` for this client (started on first use)."""
        if self._logger is None:
            with self._logger_lock:
                if self._logger is None:
                    from tracklet.client.batching import BatchLogger

                    self._logger = BatchLogger(self.transport)
        return self._logger

    def close(self) -> None:
        """Drain pending logs, then release connections."""
        if self._logger is not None:
            self._logger.close()
        self.transport.close()

    # -- experiments --------------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, str] | None = None
    ) -> str:
        body: dict[str, Any] = {"name": name}
        if artifact_location:
            body["artifact_location"] = artifact_location
        if tags:
            body["tags"] = _kv(tags)
        return str(self.transport.post(f"{API}/experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> entities.Experiment:
        body = self.transport.get(f"{API}/experiments/get", experiment_id=experiment_id)
        return msgspec.convert(body["experiment"], entities.Experiment)

    def get_experiment_by_name(self, name: str) -> entities.Experiment | None:
        try:
            body = self.transport.get(f"{API}/experiments/get-by-name", experiment_name=name)
        except errors.ResourceDoesNotExist:
            return None
        return msgspec.convert(body["experiment"], entities.Experiment)

    def get_or_create_experiment(self, name: str) -> str:
        """The id of the active experiment called `name`, creating it when needed (race-safe)."""
        exp = self.get_experiment_by_name(name)
        if exp is None:
            try:
                return self.create_experiment(name)
            except errors.ResourceAlreadyExists:
                exp = self.get_experiment_by_name(name)
                assert exp is not None
        if exp.lifecycle_stage == "deleted":
            raise errors.InvalidState(f"Experiment {name!r} is deleted; restore it or choose another name.")
        return exp.experiment_id

    def search_experiments(
        self,
        view_type: str | int = "ACTIVE_ONLY",
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[entities.Experiment]:
        """Experiments matching `filter_string` (MLflow's grammar: `name LIKE 'wine%'`, `tags.team = 'nlp'`),
        up to `max_results` (None: all of them), following the pages; most recently updated first unless
        `order_by` (e.g. `["name"]`, `["creation_time DESC"]`). `view_type`: "ACTIVE_ONLY", "DELETED_ONLY"
        or "ALL" (MLflow's `ViewType` numbers too)."""
        base: dict[str, Any] = {
            "view_type": view_type_name(view_type),
            "filter": filter_arg(filter_string),
            "order_by": order_by_arg(order_by),
        }

        def page(size: int, token: str | None) -> tuple[list[entities.Experiment], str | None]:
            body = self.transport.post(f"{API}/experiments/search", page_body(base, size, token))
            found = [msgspec.convert(e, entities.Experiment) for e in body.get("experiments", [])]
            return found, body.get("next_page_token")

        return all_pages(page, max_results)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment (and its runs) deleted; `restore_experiment` brings it back."""
        self.transport.post(f"{API}/experiments/delete", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self.transport.post(f"{API}/experiments/restore", {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.transport.post(f"{API}/experiments/update", {"experiment_id": str(experiment_id), "new_name": new_name})

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        body = {"experiment_id": str(experiment_id), "key": key, "value": str(value)}
        self.transport.post(f"{API}/experiments/set-experiment-tag", body)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.transport.post(
            f"{API}/experiments/delete-experiment-tag", {"experiment_id": str(experiment_id), "key": key}
        )

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
            "tags": _kv(tags or {}),
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
        for mm, pp, tt in split_batch(m, _kv(params or {}), _kv(tags or {})):
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

    # -- artifacts of runs ----------------------------------------------------------------------

    def _run_artifact_uri(self, run_id: str) -> str:
        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self.get_run(run_id).info.artifact_uri
        return uri

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Upload one file into the run's artifacts (under `artifact_path` when given)."""
        self.upload_artifacts_to(self._run_artifact_uri(run_id), os.fspath(local_path), artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Upload the contents of a folder (recursively) into the run's artifacts."""
        local_dir = Path(local_dir)
        if not local_dir.is_dir():
            raise errors.InvalidParameterValue(f"log_artifacts: {str(local_dir)!r} is not a folder")
        self.upload_artifacts_to(self._run_artifact_uri(run_id), os.fspath(local_dir), artifact_path)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        """Write `data` as the artifact file `artifact_file` (a path relative to the run's artifact root)."""
        loc = _ArtifactLocation(self._run_artifact_uri(run_id))
        if loc.proxy is not None:
            ctype = mimetypes.guess_type(artifact_file)[0] or "application/octet-stream"
            self.transport.put_bytes(loc.join(artifact_file), data, ctype)
        else:
            assert loc.local is not None
            dst = loc.local / artifact_file
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """JSON, or YAML when `artifact_file` ends in .yaml/.yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dict(dictionary), sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """A matplotlib or plotly figure; the format follows the file extension (.png, .svg, .html …)."""
        suffix = Path(artifact_file).suffix.lower()
        module = type(figure).__module__
        if module.startswith("matplotlib"):
            import io

            buf = io.BytesIO()
            figure.savefig(buf, format=suffix.lstrip(".") or "png")
            data = buf.getvalue()
        elif module.startswith("plotly"):
            if suffix == ".html":
                data = figure.to_html().encode()
            else:
                data = figure.to_image(format=suffix.lstrip(".") or "png")
        else:
            raise errors.InvalidParameterValue(
                f"log_figure expects a matplotlib or plotly figure, got {type(figure).__qualname__}"
            )
        self.log_bytes(run_id, data, artifact_file)

    def log_image(self, run_id: str, image: Any, artifact_file: str) -> None:
        """A PIL image or a numpy array (HxW, HxWx3 or HxWx4; floats in [0, 1] or integers in [0, 255])."""
        import io

        from PIL import Image

        if not isinstance(image, Image.Image):
            image = Image.fromarray(_to_uint8(image))
        buf = io.BytesIO()
        image.save(buf, format=Image.registered_extensions().get(Path(artifact_file).suffix.lower(), "PNG"))
        self.log_bytes(run_id, buf.getvalue(), artifact_file)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """A pandas DataFrame or a dict of columns as the JSON table `artifact_file` (e.g. "eval/results.json"),
        in MLflow's layout; rows are appended when the file exists. Listed in the run's `mlflow.loggedArtifacts`."""
        from tracklet.client import tables

        tables.log_table(self, run_id, data, artifact_file)

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: Sequence[str] | None = None,
        extra_columns: Sequence[str] | None = None,
    ) -> Any:
        """The table `artifact_file` of every run of the experiment that logged it (or of `run_ids`), as one
        DataFrame; `extra_columns` adds columns of `search_runs` (e.g. "run_id", "params.alpha") to each row."""
        from tracklet.client import tables

        return tables.load_table(self, experiment_id, artifact_file, run_ids, extra_columns)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[entities.FileInfo]:
        """Direct children of `path`, with paths relative to the run's artifact root (like MLflow)."""
        loc = _ArtifactLocation(self._run_artifact_uri(run_id))
        prefix = (path or "").strip("/")
        if loc.proxy is not None:
            files = self.transport.list_artifacts(loc.join(prefix))
            return [
                entities.FileInfo(
                    path=posixpath.join(prefix, f["path"]) if prefix else f["path"],
                    is_dir=bool(f.get("is_dir", False)),
                    file_size=f.get("file_size"),
                )
                for f in files
            ]
        assert loc.local is not None
        folder = loc.local / prefix
        if not folder.is_dir():
            return []
        return [
            entities.FileInfo(
                path=posixpath.join(prefix, p.name) if prefix else p.name,
                is_dir=p.is_dir(),
                file_size=None if p.is_dir() else p.stat().st_size,
            )
            for p in sorted(folder.iterdir())
        ]

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Download a file or folder of the run's artifacts; returns the local path."""
        return self.download_artifacts_from(self._run_artifact_uri(run_id), path, dst_path)

    # -- artifacts by URI (runs and logged models) ----------------------------------------------

    def upload_artifacts_to(self, artifact_uri: str, local_dir_or_file: str, artifact_path: str | None = None) -> None:
        """Upload a file, or a folder's contents recursively, under `artifact_uri[/artifact_path]`.

        `artifact_uri` is `mlflow-artifacts:/…` (through the server's proxy, one streamed PUT per file)
        or a local path / `file://` URI (copied directly).
        """
        src = Path(local_dir_or_file)
        if not src.exists():
            raise errors.InvalidParameterValue(f"No such file or folder: {str(src)!r}")
        if src.is_dir():
            files = [(p, p.relative_to(src).as_posix()) for p in sorted(src.rglob("*")) if p.is_file()]
        else:
            files = [(src, src.name)]
        base = (artifact_path or "").strip("/")
        loc = _ArtifactLocation(artifact_uri)
        for local, rel in files:
            dest = posixpath.join(base, rel) if base else rel
            if loc.proxy is not None:
                ctype = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
                self.transport.put_file(loc.join(dest), local, ctype)
            else:
                assert loc.local is not None
                (loc.local / dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local, loc.local / dest)

    def download_artifacts_from(self, artifact_uri: str, path: str, dst_path: str | None = None) -> str:
        """Download `path` (file or folder, relative to `artifact_uri`) into `dst_path`; returns the local path."""
        dst_root = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="tracklet-"))
        dst_root.mkdir(parents=True, exist_ok=True)
        rel = (path or "").strip("/")
        loc = _ArtifactLocation(artifact_uri)
        target = dst_root / rel if rel else dst_root
        if loc.local is not None:
            src = loc.local / rel
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            elif src.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
            else:
                raise errors.ResourceDoesNotExist(f"No such artifact: {rel!r} under {artifact_uri}")
            return str(target.resolve())
        self._download_proxy(loc, rel, dst_root)
        return str(target.resolve())

    def _download_proxy(self, loc: _ArtifactLocation, rel: str, dst_root: Path) -> None:
        children = self.transport.list_artifacts(loc.join(rel))
        if not children:
            if rel:  # a file (or missing: the GET answers 404 then)
                self.transport.download_file(loc.join(rel), dst_root / rel)
            return
        (dst_root / rel).mkdir(parents=True, exist_ok=True)
        for child in children:
            sub = posixpath.join(rel, child["path"]) if rel else child["path"]
            if child.get("is_dir"):
                self._download_proxy(loc, sub, dst_root)
            else:
                self.transport.download_file(loc.join(sub), dst_root / sub)

    # -- logged models (MLflow 3) ----------------------------------------------------------------

    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        model_type: str = "",
    ) -> dict[str, Any]:
        """Create a logged model (status LOGGED_MODEL_PENDING); returns the `model` JSON object."""
        body: dict[str, Any] = {"experiment_id": experiment_id, "name": name, "model_type": model_type}
        if source_run_id:
            body["source_run_id"] = source_run_id
        if params:
            body["params"] = _kv(params)
        if tags:
            body["tags"] = _kv(tags)
        model: dict[str, Any] = self.transport.post(f"{API}/logged-models", body)["model"]
        return model

    def get_logged_model(self, model_id: str) -> dict[str, Any]:
        model: dict[str, Any] = self.transport.get(f"{API}/logged-models/{model_id}")["model"]
        return model

    def finalize_logged_model(self, model_id: str, status: str = "LOGGED_MODEL_READY") -> dict[str, Any]:
        body = {"model_id": model_id, "status": status}
        model: dict[str, Any] = self.transport.request("PATCH", f"{API}/logged-models/{model_id}", json=body)["model"]
        return model

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = "",
        max_results: int | None = 100,
        order_by: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Logged models of the experiments matching `filter_string` (`name = 'model'`, `metrics.rmse < 1`,
        `params.alpha = '0.5'`), up to `max_results` (None: all), following the pages, as MLflow's JSON;
        `order_by` as MLflow's dicts: `[{"field_name": "metrics.rmse", "ascending": True}]`."""
        base: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_arg(filter_string),
            "order_by": logged_model_order_by(order_by),
        }

        def page(size: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            body = self.transport.post(f"{API}/logged-models/search", page_body(base, size, token))
            return list(body.get("models", [])), body.get("next_page_token")

        return all_pages(page, max_results)

    def log_outputs(self, run_id: str, model_ids: list[str]) -> None:
        """Record logged models as outputs of a run (`runs/outputs`)."""
        body = {"run_id": run_id, "models": [{"model_id": m, "step": 0} for m in model_ids]}
        self.transport.post(f"{API}/runs/outputs", body)

    # -- model registry ------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        model_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new version of the registered model `name` (created first if it does not exist) whose files
        are at `source`; `run_id` / `model_id` name the run or logged model owning them (the server
        checks that they do). `tracklet.register_model` works out these from a model URI."""
        try:
            self.transport.post(f"{API}/registered-models/create", {"name": name})
        except errors.ResourceAlreadyExists:
            pass
        body: dict[str, Any] = {"name": name, "source": source}
        if run_id:
            body["run_id"] = run_id
        if model_id:
            body["model_id"] = model_id
        if tags:
            body["tags"] = _kv(tags)
        version: dict[str, Any] = self.transport.post(f"{API}/model-versions/create", body)["model_version"]
        return version

    def get_model_version(self, name: str, version: str | int) -> dict[str, Any]:
        found: dict[str, Any] = self.transport.get(f"{API}/model-versions/get", name=name, version=str(version))
        return found["model_version"]  # type: ignore[no-any-return]

    def get_model_version_by_alias(self, name: str, alias: str) -> dict[str, Any]:
        found: dict[str, Any] = self.transport.get(f"{API}/registered-models/alias", name=name, alias=alias)
        return found["model_version"]  # type: ignore[no-any-return]

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        self.transport.post(f"{API}/registered-models/alias", body)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.transport.request("DELETE", f"{API}/registered-models/alias", json={"name": name, "alias": alias})

    def search_registered_models(
        self, max_results: int | None = None, filter_string: str | None = None, order_by: Sequence[str] | None = None
    ) -> list[entities.RegisteredModel]:
        """Registered models matching `filter_string` (`name LIKE 'wine%'`, `tags.team = 'nlp'`), up to
        `max_results` (None: all), following the pages; by name unless `order_by` (`["name DESC"]`,
        `["last_updated_timestamp DESC"]`)."""
        return self._search_registry(
            "registered-models", "registered_models", entities.RegisteredModel, max_results, filter_string, order_by
        )

    def search_model_versions(
        self, max_results: int | None = None, filter_string: str | None = None, order_by: Sequence[str] | None = None
    ) -> list[entities.ModelVersion]:
        """Model versions matching `filter_string` (`name = 'wine'`, `run_id = '…'`, `tags.validated = 'yes'`),
        up to `max_results` (None: all), following the pages; `order_by` e.g. `["version_number DESC"]`."""
        return self._search_registry(
            "model-versions", "model_versions", entities.ModelVersion, max_results, filter_string, order_by
        )

    def _search_registry(
        self,
        resource: str,
        field: str,
        entity: type[T],
        max_results: int | None,
        filter_string: str | None,
        order_by: Sequence[str] | None,
    ) -> list[T]:
        """The pages of `<resource>/search`, whose answers list `field`."""

        def page(size: int, token: str | None) -> tuple[list[T], str | None]:
            body = self.transport.get(
                f"{API}/{resource}/search", filter=filter_arg(filter_string) or None, max_results=size,
                order_by=order_by_arg(order_by) or None, page_token=token,
            )  # fmt: skip
            return [msgspec.convert(item, entity) for item in body.get(field, [])], body.get("next_page_token")

        return all_pages(page, max_results)

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The newest version in each of `stages` (every stage when empty), as MLflow answers it."""
        body = {"name": name, "stages": list(stages)}
        found: list[dict[str, Any]] = self.transport.post(f"{API}/registered-models/get-latest-versions", body).get(
            "model_versions", []
        )
        return found

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        found = self.transport.get(f"{API}/model-versions/get-download-uri", name=name, version=str(version))
        return str(found["artifact_uri"])


def _kv(mapping: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": str(k), "value": str(v)} for k, v in mapping.items()]


def _to_uint8(array: Any) -> Any:
    import numpy as np

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise errors.InvalidParameterValue(f"log_image: expected HxW, HxWx3 or HxWx4, got shape {a.shape}")
    if a.dtype.kind == "f":
        if a.size and (a.min() < 0 or a.max() > 1):
            raise errors.InvalidParameterValue("log_image: float images must have values in [0, 1]")
        a = (a * 255).round()
    elif a.dtype.kind in "iu" and a.size and (a.min() < 0 or a.max() > 255):
        raise errors.InvalidParameterValue("log_image: integer images must have values in [0, 255]")
    return a.astype(np.uint8)
