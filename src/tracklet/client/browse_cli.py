"""`tracklet experiments|runs|artifacts …`: look at and tidy tracked work from a terminal (on a training
machine over SSH, in a script), through the same client as `import tracklet`: a server
(`--tracking-uri http://…`, or TRACKLET_TRACKING_URI / MLFLOW_TRACKING_URI) or the local store.

Lists print an aligned table, or JSON with `--json` for scripts; `runs describe` prints the run as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
import msgspec

from tracklet import errors

URI_HELP = (
    "Server (http://host:port) or local store; default TRACKLET_TRACKING_URI, MLFLOW_TRACKING_URI or ./tracklet-data."
)
VIEWS = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}

tracking_uri_option = click.option("--tracking-uri", default=None, help=URI_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
view_option = click.option("--view", type=click.Choice(list(VIEWS)), default="active", show_default=True)


@contextmanager
def _client(tracking_uri: str | None) -> Iterator[Any]:
    """A client on the URI in force; a refusal of the server or store is one line, exit code 1."""
    from tracklet.client.client import TrackletClient
    from tracklet.client.fluent import get_tracking_uri, set_tracking_uri

    if tracking_uri:
        set_tracking_uri(tracking_uri)
    client = TrackletClient(get_tracking_uri())
    try:
        yield client
    except errors.TrackletError as err:
        raise click.ClickException(str(err)) from None
    finally:
        client.close()


def _time(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S") if ms else ""


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in headers], *([("" if c is None else str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _emit(as_json: bool, items: Sequence[Any], headers: Sequence[str], row: Callable[[Any], Sequence[Any]]) -> None:
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(items), indent=2))
    elif items:
        _print_table(headers, [row(item) for item in items])


# -- experiments -------------------------------------------------------------------------------------


@click.group("experiments")
def experiments_group() -> None:
    """List, create, rename, delete and restore experiments."""


@experiments_group.command("list")
@tracking_uri_option
@view_option
@click.option("--filter", "filter_string", default=None, help="MLflow's grammar, e.g. \"name LIKE 'wine%'\".")
@json_option
def list_experiments(tracking_uri: str | None, view: str, filter_string: str | None, as_json: bool) -> None:
    """The experiments, most recently updated first."""
    with _client(tracking_uri) as client:
        found = client.search_experiments(VIEWS[view], filter_string=filter_string)
    _emit(as_json, found, ["ID", "NAME", "CREATED", "LAST UPDATE", "STAGE"],
          lambda e: [e.experiment_id, e.name, _time(e.creation_time), _time(e.last_update_time), e.lifecycle_stage])  # fmt: skip


@experiments_group.command("create")
@tracking_uri_option
@click.argument("name")
@click.option("--artifact-location", default=None, help="Where its runs' artifacts go (default: the server's).")
def create_experiment(tracking_uri: str | None, name: str, artifact_location: str | None) -> None:
    """Create an experiment; prints its id."""
    with _client(tracking_uri) as client:
        click.echo(client.create_experiment(name, artifact_location=artifact_location))


@experiments_group.command("rename")
@tracking_uri_option
@click.argument("experiment_id")
@click.argument("new_name")
def rename_experiment(tracking_uri: str | None, experiment_id: str, new_name: str) -> None:
    """Give an experiment a new name."""
    with _client(tracking_uri) as client:
        client.rename_experiment(experiment_id, new_name)


@experiments_group.command("delete")
@tracking_uri_option
@click.argument("experiment_id")
def delete_experiment(tracking_uri: str | None, experiment_id: str) -> None:
    """Mark an experiment and its runs deleted (`restore` undoes it; `tracklet gc` purges it)."""
    with _client(tracking_uri) as client:
        client.delete_experiment(experiment_id)


@experiments_group.command("restore")
@tracking_uri_option
@click.argument("experiment_id")
def restore_experiment(tracking_uri: str | None, experiment_id: str) -> None:
    """Restore a deleted experiment."""
    with _client(tracking_uri) as client:
        client.restore_experiment(experiment_id)


# -- runs ------------------------------------------------------------------------------------------


@click.group("runs")
def runs_group() -> None:
    """List, describe, delete and restore runs."""


@runs_group.command("list")
@tracking_uri_option
@click.option("--experiment-id", "experiment_ids", multiple=True, required=True, help="Repeatable.")
@click.option("--filter", "filter_string", default="", help='MLflow\'s grammar, e.g. "metrics.rmse < 0.8".')
@click.option("--order-by", multiple=True, help='e.g. "metrics.rmse ASC" (repeatable).')
@click.option("--max-results", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--column", "columns", multiple=True, help="Also show params.X, metrics.Y or tags.Z (repeatable).")
@view_option
@json_option
def list_runs(
    tracking_uri: str | None,
    experiment_ids: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    columns: tuple[str, ...],
    view: str,
    as_json: bool,
) -> None:
    """The runs of experiments, newest first unless --order-by."""
    picked = [_column(c) for c in columns]
    with _client(tracking_uri) as client:
        found = client.search_runs(list(experiment_ids), filter_string, VIEWS[view], max_results, list(order_by))
    headers = ["RUN ID", "NAME", "STATUS", "STARTED", *columns]
    _emit(as_json, found, headers, lambda r: [
        r.info.run_id, r.info.run_name, r.info.status, _time(r.info.start_time),
        *(getattr(r.data, kind).get(key, "") for kind, key in picked),
    ])  # fmt: skip


def _column(text: str) -> tuple[str, str]:
    kind, _, key = text.partition(".")
    kinds = {
        "params": "params",
        "param": "params",
        "metrics": "metrics",
        "metric": "metrics",
        "tags": "tags",
        "tag": "tags",
    }
    if kind not in kinds or not key:
        raise click.BadParameter(f"expected params.X, metrics.Y or tags.Z, got {text!r}", param_hint="--column")
    return kinds[kind], key


@runs_group.command("describe")
@tracking_uri_option
@click.argument("run_id")
def describe_run(tracking_uri: str | None, run_id: str) -> None:
    """A run as JSON: info, params, latest metrics, tags, inputs and outputs."""
    with _client(tracking_uri) as client:
        run = client.get_run(run_id)
    described = {
        "info": msgspec.to_builtins(run.info),
        "data": {"params": run.data.params, "metrics": run.data.metrics, "tags": run.data.tags},
        "inputs": msgspec.to_builtins(run.inputs),
        "outputs": msgspec.to_builtins(run.outputs),
    }
    click.echo(json.dumps(described, indent=2))


@runs_group.command("delete")
@tracking_uri_option
@click.argument("run_ids", nargs=-1, required=True)
def delete_runs(tracking_uri: str | None, run_ids: tuple[str, ...]) -> None:
    """Mark runs deleted (`restore` undoes it; `tracklet gc` purges them)."""
    with _client(tracking_uri) as client:
        for run_id in run_ids:
            client.delete_run(run_id)


@runs_group.command("restore")
@tracking_uri_option
@click.argument("run_ids", nargs=-1, required=True)
def restore_runs(tracking_uri: str | None, run_ids: tuple[str, ...]) -> None:
    """Restore deleted runs."""
    with _client(tracking_uri) as client:
        for run_id in run_ids:
            client.restore_run(run_id)


# -- artifacts -------------------------------------------------------------------------------------


@click.group("artifacts")
def artifacts_group() -> None:
    """List, download and upload a run's artifacts."""


@artifacts_group.command("list")
@tracking_uri_option
@click.option("--run-id", required=True)
@click.option("--path", default=None, help="A folder of the run's artifacts (default: the top).")
@json_option
def list_artifacts(tracking_uri: str | None, run_id: str, path: str | None, as_json: bool) -> None:
    """One folder of a run's artifacts."""
    with _client(tracking_uri) as client:
        files = client.list_artifacts(run_id, path)
    _emit(as_json, files, ["PATH", "SIZE"], lambda f: [f.path + ("/" if f.is_dir else ""), f.file_size])


@artifacts_group.command("download")
@tracking_uri_option
@click.option("--run-id", required=True)
@click.option("--path", default="", help="A file or folder of the run's artifacts (default: all of them).")
@click.option("--dst-path", default=None, help="Where to put it (default: a new temporary folder).")
def download_artifacts(tracking_uri: str | None, run_id: str, path: str, dst_path: str | None) -> None:
    """Download a run's artifact file or folder; prints the local path."""
    with _client(tracking_uri) as client:
        click.echo(client.download_artifacts(run_id, path, dst_path))


@artifacts_group.command("log")
@tracking_uri_option
@click.option("--run-id", required=True)
@click.option("--artifact-path", default=None, help="The folder of the run's artifacts to put it in.")
@click.argument("local_path", type=click.Path(exists=True))
def log_artifacts(tracking_uri: str | None, run_id: str, artifact_path: str | None, local_path: str) -> None:
    """Upload a local file or folder to a run's artifacts."""
    from pathlib import Path

    with _client(tracking_uri) as client:
        if Path(local_path).is_dir():
            client.log_artifacts(run_id, local_path, artifact_path)
        else:
            client.log_artifact(run_id, local_path, artifact_path)
