"""The module-level API (`tracklet.start_run`, `tracklet.log_metric`, …), named like MLflow's.

State (tracking URI, current experiment, the stack of active runs) lives in one `_FluentState` object;
each active run keeps a reference to the client that created it, so `log_metric` is a list lookup and
an enqueue. `log_param`/`log_metric`/`set_tag` and their plural forms never wait for the server; reads
(`get_run`, `search_runs`, `get_metric_history`) flush first, so they see your own writes.
"""

from __future__ import annotations

import atexit
import builtins
import functools
import getpass
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from tracklet import entities, errors
from tracklet.client import system_metrics
from tracklet.client.batching import LIVE_LOGGERS, METRIC, PARAM, TAG
from tracklet.client.client import MetricPoint, Run, TrackletClient
from tracklet.client.runs import now_ms

__all__ = [
    "ActiveRun",
    "set_tracking_uri",
    "get_tracking_uri",
    "set_experiment",
    "create_experiment",
    "get_experiment",
    "get_experiment_by_name",
    "search_experiments",
    "delete_experiment",
    "restore_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "delete_experiment_tag",
    "start_run",
    "end_run",
    "active_run",
    "last_active_run",
    "delete_run",
    "restore_run",
    "get_parent_run",
    "log_param",
    "log_params",
    "log_metric",
    "log_metrics",
    "set_tag",
    "set_tags",
    "delete_tag",
    "log_artifact",
    "log_artifacts",
    "log_text",
    "log_dict",
    "log_figure",
    "log_image",
    "log_table",
    "load_table",
    "get_run",
    "search_runs",
    "get_metric_history",
    "list_artifacts",
    "download_artifacts",
    "param",
    "flush",
]

# Environment read by the fluent API (TRACKLET_* first, then MLflow's names for drop-in use).
ENV_TRACKING_URI = ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI")
ENV_EXPERIMENT_NAME = ("TRACKLET_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME")
ENV_EXPERIMENT_ID = ("TRACKLET_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID")
ENV_RUN_ID = ("TRACKLET_RUN_ID", "MLFLOW_RUN_ID")  # set by `tracklet run`: start_run() attaches to it
ENV_PARAMS = "TRACKLET_PARAMS"  # JSON object of `-P name=value` given to `tracklet run`


def _env(names: Sequence[str]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True)
class ActiveRun(Run):
    """The run returned by `start_run`; as a context manager it ends the run (FAILED on an exception)."""

    client: TrackletClient | None = field(default=None, repr=False, compare=False)
    monitor: system_metrics.SystemMetricsMonitor | None = field(default=None, repr=False, compare=False)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        if any(r.info.run_id == self.info.run_id for r in _state.runs):
            while _state.runs and _state.runs[-1].info.run_id != self.info.run_id:
                end_run(status)  # nested runs left open inside the block end with it
            end_run(status)


class _FluentState:
    def __init__(self) -> None:
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self._main_runs: list[ActiveRun] = []
        self._main_ident = threading.main_thread().ident
        self._thread = threading.local()
        self.last_run_id: str | None = None
        self.declared_params: dict[str, Any] = {}
        self._clients: dict[str | None, TrackletClient] = {}
        self._lock = threading.Lock()

    @property
    def runs(self) -> list[ActiveRun]:
        """The runs this thread started and has not ended, innermost last. Each thread has its own, so
        trials run in parallel threads each start and log to their own run."""
        if threading.get_ident() == self._main_ident:
            return self._main_runs
        runs: list[ActiveRun] | None = getattr(self._thread, "runs", None)
        if runs is None:
            runs = self._thread.runs = []
        return runs

    def visible(self) -> list[ActiveRun]:
        """This thread's runs, else the main thread's: a callback or loader thread logs to the run the
        script started."""
        return self.runs or self._main_runs

    def current(self) -> ActiveRun | None:
        """Where this thread logs: the innermost visible run. (On every `log_metric`: kept to a C call
        and a lookup on the main thread.)"""
        if threading.get_ident() == self._main_ident or not (runs := getattr(self._thread, "runs", None)):
            runs = self._main_runs
        return runs[-1] if runs else None

    def uri(self) -> str | None:
        return self.tracking_uri or _env(ENV_TRACKING_URI)

    def client(self) -> TrackletClient:
        uri = self.uri()
        client = self._clients.get(uri)
        if client is None:
            with self._lock:
                client = self._clients.get(uri)
                if client is None:
                    client = self._clients[uri] = TrackletClient(uri)
        return client

    def all_clients(self) -> list[TrackletClient]:
        return list(self._clients.values())


_state = _FluentState()


# -- where to log -------------------------------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Log to `uri`: `http(s)://host:port` (a server), `sqlite:///…` or a folder (local, no server).

    `None` goes back to the environment (TRACKLET_TRACKING_URI, then MLFLOW_TRACKING_URI), and without
    those to the local store that `tracklet server` serves by default (`./tracklet-data`).
    """
    _state.tracking_uri = os.fspath(uri) if uri is not None else None
    _state.experiment_id = None


def get_tracking_uri() -> str:
    """The URI in force; for the default local store, its `sqlite:///…` URI."""
    uri = _state.uri()
    if uri:
        return uri
    from tracklet.settings import Settings

    return Settings.from_env().store_uri


# -- experiments --------------------------------------------------------------------------------


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> entities.Experiment:
    """Make an experiment current for new runs, creating it (by name) when it does not exist."""
    client = _state.client()
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    elif experiment_name:
        exp = client.get_experiment(client.get_or_create_experiment(experiment_name))
    else:
        raise errors.InvalidParameterValue("set_experiment needs experiment_name or experiment_id")
    if exp.lifecycle_stage == "deleted":
        raise errors.InvalidState(f"Experiment {exp.name!r} (id {exp.experiment_id}) is deleted")
    _state.experiment_id = exp.experiment_id
    return exp


def create_experiment(name: str, artifact_location: str | None = None, tags: Mapping[str, str] | None = None) -> str:
    """Create an experiment; returns its id."""
    return _state.client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> entities.Experiment:
    """The experiment with this id (raises ResourceDoesNotExist)."""
    return _state.client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> entities.Experiment | None:
    """The experiment called `name`, or None."""
    return _state.client().get_experiment_by_name(name)


def search_experiments(
    view_type: str | int = "ACTIVE_ONLY",
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[entities.Experiment]:
    """Experiments matching `filter_string` (MLflow's grammar: `"name LIKE 'wine%'"`, `"tags.team = 'nlp'"`,
    `"creation_time > 1700000000000"`), every page of them unless `max_results`.

    Most recently updated first unless `order_by` (`["name"]`, `["creation_time DESC"]`); `view_type`
    "ACTIVE_ONLY" (default), "DELETED_ONLY" or "ALL" (MLflow's `ViewType` works too).
    """
    return _state.client().search_experiments(view_type, max_results, filter_string, order_by)


def delete_experiment(experiment_id: str) -> None:
    """Mark an experiment and its runs deleted (`restore_experiment` undoes it; `tracklet gc` purges)."""
    _state.client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    """Bring back a deleted experiment and its runs."""
    _state.client().restore_experiment(experiment_id)


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag (its value as a string) on the current experiment: the one `set_experiment` chose, else
    the environment's, else the Default experiment. Sent at once."""
    client = _state.client()
    client.set_experiment_tag(_current_experiment_id(client), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags on the current experiment."""
    if not isinstance(tags, Mapping):
        raise errors.InvalidParameterValue(f"set_experiment_tags takes a dict of tags, not {type(tags).__name__}")
    client = _state.client()
    experiment_id = _current_experiment_id(client)
    for key, value in tags.items():
        client.set_experiment_tag(experiment_id, key, value)


def delete_experiment_tag(key: str) -> None:
    """Remove a tag from the current experiment."""
    client = _state.client()
    client.delete_experiment_tag(_current_experiment_id(client), key)


def _current_experiment_id(client: TrackletClient) -> str:
    if _state.experiment_id is None:
        name = _env(ENV_EXPERIMENT_NAME)
        if name:
            _state.experiment_id = client.get_or_create_experiment(name)
        else:
            return _env(ENV_EXPERIMENT_ID) or "0"
    return _state.experiment_id


# -- runs ---------------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run (or resume `run_id`) and make it active; use it as a context manager.

    Inside `tracklet run`, `start_run()` attaches to the run the command created. A nested run
    records its parent in the tag `mlflow.parentRunId`: the run this thread logs to (in a worker
    thread that started none, the main thread's run). Each thread has its own active runs.
    `log_system_metrics=True` samples CPU, memory, disk and network while the run is active (`system/…`
    metrics; default: `enable_system_metrics_logging()` or `MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING`).
    """
    if _state.runs and not nested:
        raise errors.InvalidState(
            f"Run with id={_state.runs[-1].info.run_id} is already active. "
            "To start a nested run, call start_run(nested=True); or end_run() first."
        )
    client = _state.client()
    user_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if description:
        user_tags["mlflow.note.content"] = description
    if run_id is None and not _state.runs:
        run_id = _env(ENV_RUN_ID)
    if run_id:
        run = client.get_run(run_id)
        if run.info.lifecycle_stage == "deleted":
            raise errors.InvalidState(f"Run {run_id} is deleted and cannot be resumed")
        client.update_run(run_id, status="RUNNING", run_name=run_name)
        if user_tags:
            client.log_batch(run_id, tags=user_tags)
        run = client.get_run(run_id)
    else:
        run_tags = _default_tags()
        parent = _state.current() if nested else None
        if parent is not None:
            run_tags["mlflow.parentRunId"] = parent.info.run_id
        run_tags.update(user_tags)
        exp_id = str(experiment_id) if experiment_id is not None else _current_experiment_id(client)
        run = client.create_run(exp_id, tags=run_tags, run_name=run_name)
    monitor = None
    if system_metrics.settings.wanted(log_system_metrics):
        monitor = system_metrics.start_monitor(_system_metrics_logger(client, run.info.run_id))
    active = ActiveRun(
        info=run.info, data=run.data, inputs=run.inputs, outputs=run.outputs, client=client, monitor=monitor
    )
    _state.runs.append(active)
    if not nested and _state.declared_params:
        client.logger.log_many([(PARAM, run.info.run_id, k, str(v)) for k, v in _state.declared_params.items()])
    return active


def end_run(status: str = "FINISHED") -> None:
    """End the active run: drain its queued logs, then set `status` and the end time.

    A write the server rejected is raised here (after the run is ended), naming the key.
    """
    if not _state.runs:
        return
    run = _state.runs[-1]
    client = run.client or _state.client()
    if run.monitor is not None:
        run.monitor.stop()  # its last samples are queued before the flush
    pending: errors.TrackletError | None = None
    try:
        client.logger.flush()
    except errors.TrackletError as exc:
        pending = exc
    try:
        client.set_terminated(run.info.run_id, status=status, end_time=now_ms())
    finally:
        _state.runs.pop()
        _state.last_run_id = run.info.run_id
    if pending is not None:
        raise pending


def _system_metrics_logger(client: TrackletClient, run_id: str) -> Callable[[dict[str, float], int], None]:
    def log(metrics: dict[str, float], step: int) -> None:
        now = now_ms()
        client.logger.log_many([(METRIC, run_id, key, value, now, step) for key, value in metrics.items()])

    return log


def active_run() -> ActiveRun | None:
    """The run this thread logs to: the innermost it started, else the main thread's; or None."""
    return _state.current()


def last_active_run() -> Run | None:
    """The active run, else the run most recently ended in this process (fetched fresh)."""
    current = _state.current()
    if current is not None:
        return current
    if _state.last_run_id is None:
        return None
    return get_run(_state.last_run_id)


def delete_run(run_id: str) -> None:
    """Mark a run deleted (searches leave it out; `restore_run` undoes it). Its queued logs are sent first."""
    flush()
    _state.client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Bring back a deleted run."""
    _state.client().restore_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run (its `mlflow.parentRunId` tag), or None for a run without one."""
    flush()
    return _state.client().get_parent_run(run_id)


def _active_or_new() -> ActiveRun:
    return _state.current() or start_run()


@functools.cache
def _git_commit(folder: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _default_tags() -> dict[str, str]:
    script = sys.argv[0] if sys.argv and sys.argv[0] else ""
    source = str(Path(script).resolve()) if script and Path(script).is_file() else (script or "<console>")
    tags = {"mlflow.source.name": source, "mlflow.source.type": "LOCAL"}
    try:
        tags["mlflow.user"] = getpass.getuser()
    except (KeyError, OSError):
        pass
    folder = str(Path(source).parent) if Path(source).is_file() else os.getcwd()
    commit = _git_commit(folder)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


# -- logging (non-blocking) ------------------------------------------------------------------------


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    *,
    run_id: str | None = None,
    synchronous: bool = False,
) -> None:
    """Queue one metric point and return at once (timestamp: ms since the epoch, default now).

    `synchronous=True` sends it before returning.
    """
    run = _state.current() or start_run()  # `_active_or_new()` inlined: the hottest call of the API
    rid = run_id or run.info.run_id
    ts = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
    client = run.client or _state.client()
    if synchronous:
        client.log_metric(rid, key, float(value), ts, step or 0)
    else:
        client.logger.log_metric(rid, key, float(value), ts, step or 0)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None, *, run_id: str | None = None
) -> None:
    """Queue several metrics with one step and timestamp."""
    run = _active_or_new()
    rid = run_id or run.info.run_id
    ts = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
    s = step or 0
    (run.client or _state.client()).logger.log_many([(METRIC, rid, k, float(v), ts, s) for k, v in metrics.items()])


def log_param(key: str, value: Any, *, run_id: str | None = None) -> Any:
    """Queue a param (stored as a string; immutable once logged). Returns `value`."""
    run = _active_or_new()
    (run.client or _state.client()).logger.log_param(run_id or run.info.run_id, key, str(value))
    return value


def log_params(params: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Queue several params."""
    run = _active_or_new()
    rid = run_id or run.info.run_id
    (run.client or _state.client()).logger.log_many([(PARAM, rid, k, str(v)) for k, v in params.items()])


def set_tag(key: str, value: Any, *, run_id: str | None = None) -> None:
    """Queue a tag (a string; setting it again replaces the value)."""
    run = _active_or_new()
    (run.client or _state.client()).logger.set_tag(run_id or run.info.run_id, key, str(value))


def set_tags(tags: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Queue several tags."""
    run = _active_or_new()
    rid = run_id or run.info.run_id
    (run.client or _state.client()).logger.log_many([(TAG, rid, k, str(v)) for k, v in tags.items()])


def delete_tag(key: str) -> None:
    """Remove a tag from the active run (started if there is none, as MLflow does); tags still queued
    are sent first, so a `set_tag` just before is deleted too. Raises ResourceDoesNotExist if it has no such tag."""
    run_id, client = _run_and_client()
    flush()
    client.delete_tag(run_id, key)


def log_input(
    data: Any,
    *,
    name: str | None = None,
    context: str | None = None,
    source: str | os.PathLike[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> entities.Dataset:
    """Record a dataset the run used: a DataFrame, a dict of columns, a list of records or a numpy array.

    What is stored is its description, not the data: a name, a digest of the content, its schema and
    size, and where it came from (`source`: a path or URL; by default the script that logged it).
    `context` says what for ("training", "eval" …). Sent at once (a rare call). Returns the dataset.
    """
    from tracklet.client import datasets  # pandas is imported only by those who log datasets

    dataset = datasets.describe(data, name, source)
    input_tags = {**({datasets.CONTEXT_TAG: context} if context else {}), **(tags or {})}
    run = _active_or_new()
    entry = entities.DatasetInput(dataset=dataset, tags=[entities.KeyValue(k, str(v)) for k, v in input_tags.items()])
    (run.client or _state.client()).log_inputs(run_id or run.info.run_id, [entry])
    return dataset


def flush(timeout: float | None = None) -> None:
    """Wait until every queued param/metric/tag is stored and every finished trace sent; raise what the
    server rejected (of params, metrics and tags: a trace that could not be sent is logged)."""
    from tracklet.client import tracing

    tracing.flush_traces(timeout)
    for client in _state.all_clients():
        if client._logger is not None:
            client._logger.flush(timeout)


# -- artifacts (synchronous uploads) ---------------------------------------------------------------


def _run_and_client() -> tuple[str, TrackletClient]:
    run = _active_or_new()
    return run.info.run_id, run.client or _state.client()


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Upload a file into the active run's artifacts."""
    run_id, client = _run_and_client()
    client.log_artifact(run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Upload a folder's contents (recursively) into the active run's artifacts."""
    run_id, client = _run_and_client()
    client.log_artifacts(run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Save `text` as the artifact file `artifact_file` (e.g. "notes/summary.md") of the active run."""
    run_id, client = _run_and_client()
    client.log_text(run_id, text, artifact_file)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> None:
    """Save a dict as JSON (or YAML for .yaml/.yml) in the active run's artifacts."""
    run_id, client = _run_and_client()
    client.log_dict(run_id, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Save a matplotlib or plotly figure (format from the extension: .png, .svg, .pdf, .html …)."""
    run_id, client = _run_and_client()
    client.log_figure(run_id, figure, artifact_file)


def log_image(image: Any, artifact_file: str) -> None:
    """Save a numpy array or PIL image as an image file (format from the extension, PNG by default)."""
    run_id, client = _run_and_client()
    client.log_image(run_id, image, artifact_file)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a pandas DataFrame or a dict of columns as a table: the JSON file `artifact_file` (".json") in
    MLflow's layout (`{"columns": [...], "data": [[...], ...]}`), in the active run or `run_id`.

    Logging again to the same file appends the rows. The run's `mlflow.loggedArtifacts` tag lists the
    table, so `load_table` (MLflow's too) and the UI find it. Images in cells are not offered.
    """
    rid, client = (run_id, _state.client()) if run_id else _run_and_client()
    flush()
    client.log_table(rid, data, artifact_file)


def load_table(
    artifact_file: str, run_ids: Sequence[str] | None = None, extra_columns: Sequence[str] | None = None
) -> Any:
    """One pandas DataFrame of the table `artifact_file` of every run of the current experiment that
    logged it (or of those in `run_ids`), newest run first.

    `extra_columns` adds columns of `search_runs` to each row, e.g. `["run_id", "params.alpha"]`. Raises
    ResourceDoesNotExist when no run has the table.
    """
    flush()
    client = _state.client()
    return client.load_table(_current_experiment_id(client), artifact_file, run_ids, extra_columns)


# -- reading --------------------------------------------------------------------------------------


def get_run(run_id: str) -> Run:
    """A run with `info` and `data` (`data.params`, `data.metrics`, `data.tags` as dicts)."""
    flush()
    return _state.client().get_run(run_id)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: str = "ACTIVE_ONLY",
    max_results: int = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching `filter_string` (MLflow's search grammar), as a pandas DataFrame or a list.

    Without experiment ids or names, searches the current experiment. DataFrame columns follow
    MLflow: run_id, experiment_id, status, artifact_uri, start_time, end_time, metrics.<k>,
    params.<k>, tags.<k>.
    """
    flush()
    client = _state.client()
    ids = [str(i) for i in experiment_ids or []]
    for name in experiment_names or []:
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            ids.append(exp.experiment_id)
    if not ids and not experiment_names:
        ids = [_current_experiment_id(client)]
    runs = client.search_runs(ids, filter_string, run_view_type, max_results, order_by) if ids else []
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise errors.InvalidParameterValue(f"output_format must be 'pandas' or 'list', not {output_format!r}")
    return runs_to_frame(runs)


def runs_to_frame(runs: list[Run]) -> Any:
    import pandas as pd

    base = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    rows: list[dict[str, Any]] = []
    for r in runs:
        row: dict[str, Any] = {
            "run_id": r.info.run_id,
            "experiment_id": r.info.experiment_id,
            "status": r.info.status,
            "artifact_uri": r.info.artifact_uri,
            "start_time": r.info.start_time,
            "end_time": r.info.end_time,
        }
        row.update({f"metrics.{k}": v for k, v in r.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in r.data.params.items()})
        row.update({f"tags.{k}": v for k, v in r.data.tags.items()})
        rows.append(row)
    extra: dict[str, list[str]] = {"metrics.": [], "params.": [], "tags.": []}
    for row in rows:
        for col in row:
            for prefix, cols in extra.items():
                if col.startswith(prefix) and col not in cols:
                    cols.append(col)
    columns = base + sorted(extra["metrics."]) + sorted(extra["params."]) + sorted(extra["tags."])
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    return frame


def get_metric_history(run_id: str, key: str) -> list[MetricPoint]:
    """Every logged point of one metric (key, value, timestamp, step)."""
    flush()
    return _state.client().get_metric_history(run_id, key)


def list_artifacts(run_id: str, path: str | None = None) -> list[entities.FileInfo]:
    """Files and folders directly under `path` in the run's artifacts (paths relative to the run)."""
    return _state.client().list_artifacts(run_id, path)


def download_artifacts(run_id: str, path: str = "", dst_path: str | None = None) -> str:
    """Download an artifact file or folder; returns its local path."""
    return _state.client().download_artifacts(run_id, path, dst_path)


# -- parameters of scripts ------------------------------------------------------------------------

_TYPES: dict[str, type] = {
    "numeric": float,
    "float": float,
    "double": float,
    "integer": int,
    "int": int,
    "string": str,
    "str": str,
    "boolean": bool,
    "bool": bool,
}
_TRUE, _FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}


def _convert(name: str, raw: Any, typ: type, origin: str) -> Any:
    try:
        if typ is bool and not isinstance(raw, bool):
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(text)
        if typ is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError(raw)
        return typ(raw)
    except (TypeError, ValueError):
        raise errors.InvalidParameterValue(
            f"param {name!r}: {origin} value {raw!r} is not a valid {typ.__name__}"
        ) from None


def param(name: str, default: Any, type: str | type | None = None) -> Any:
    """Declare a run parameter; returns the value in force.

    That is `default`, unless the script runs under `tracklet run script.py -P name=value`, whose
    value is converted to `type` ("numeric"/float, "integer"/int, "string"/str, "boolean"/bool; by
    default the type of `default`). A value that does not convert raises `InvalidParameterValue`
    at once, before any training. The value is logged as a param of the run.
    """
    if type is None:
        typ: builtins.type = default.__class__ if default is not None else str
    elif isinstance(type, str):
        if type.lower() not in _TYPES:
            raise errors.InvalidParameterValue(f"param {name!r}: unknown type {type!r}; use one of {sorted(_TYPES)}")
        typ = _TYPES[type.lower()]
    else:
        typ = type
    given = json.loads(os.environ.get(ENV_PARAMS) or "{}")
    if name in given:
        value = _convert(name, given[name], typ, "command-line")
    else:
        value = _convert(name, default, typ, "default") if default is not None else None
    _state.declared_params[name] = value
    if runs := _state.visible():
        top = runs[0]
        (top.client or _state.client()).logger.log_param(top.info.run_id, name, str(value))
    elif _env(ENV_RUN_ID):  # under `tracklet run`: the run exists even before the script starts one
        _state.client().logger.log_param(_env(ENV_RUN_ID) or "", name, str(value))
    return value


# -- interpreter exit ---------------------------------------------------------------------------


def _at_exit() -> None:
    """End runs left open (FAILED after an uncaught exception), drain queues, close local stores."""
    from tracklet.client import tracing

    if not tracing.flush_traces(timeout=30):
        print("tracklet: some traces were still unsent after 30 s at exit", file=sys.stderr)
    status = "FAILED" if getattr(sys, "last_type", None) is not None else "FINISHED"
    while _state.runs:
        try:
            end_run(status)
        except Exception as exc:  # at exit there is nobody left to raise to
            print(f"tracklet: while ending run at exit: {exc}", file=sys.stderr)
    for client in _state.all_clients():
        try:
            client.close()
        except Exception as exc:
            print(f"tracklet: while flushing logs at exit: {exc}", file=sys.stderr)
    for logger in list(LIVE_LOGGERS):  # those of TrackletClient objects made by the user
        try:
            logger.close()
        except Exception as exc:
            print(f"tracklet: while flushing logs at exit: {exc}", file=sys.stderr)


atexit.register(_at_exit)
