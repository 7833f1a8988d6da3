"""`tracklet import-mlflow`: copy an MLflow server's experiments, runs and registry into tracklet."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

import click

from tracklet.cli import OPTION_HELP
from tracklet.settings import Settings

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@contextmanager
def _progressbar(label: str, length: int) -> Iterator[Callable[[int], None]]:
    bar: ProgressBar[int] = click.progressbar(length=length, label=label, show_pos=True, file=sys.stderr)
    with bar:
        yield bar.update


@click.command("import-mlflow")
@click.argument("source_url")
@click.option("--backend-store-uri", default=None, help=OPTION_HELP["backend_store_uri"])
@click.option("--artifacts-destination", default=None, help=OPTION_HELP["artifacts_destination"])
@click.option("--data-dir", default=None, help=OPTION_HELP["data_dir"])
@click.option(
    "--experiment", "experiments", multiple=True, metavar="NAME", help="Copy only this experiment (repeatable)."
)
@click.option("--no-artifacts", is_flag=True, help="Leave run artifacts in the source.")
@click.option("--no-registry", is_flag=True, help="Leave the model registry in the source.")
@click.option("--dry-run", is_flag=True, help="Say what would be copied (listing the source only) and write nothing.")
def import_mlflow_command(
    source_url: str,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    data_dir: str | None,
    experiments: tuple[str, ...],
    no_artifacts: bool,
    no_registry: bool,
    dry_run: bool,
) -> None:
    """Copy an MLflow server's history (SOURCE_URL, e.g. http://old-mlflow:5000) into tracklet's store.

    Runs keep their ids; runs already in tracklet are skipped, so running it again after an
    interruption copies only what is missing. The source is read through its REST API
    (MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD authenticate)."""
    from tracklet.artifacts import artifact_store_for
    from tracklet.migrate.copy import import_mlflow, plan_import
    from tracklet.migrate.mlflow_source import MlflowSource
    from tracklet.store.database import AlreadyRunning
    from tracklet.store.store import Store

    settings = Settings.from_env(
        backend_store_uri=backend_store_uri, artifacts_destination=artifacts_destination, data_dir=data_dir
    )
    store = Store(settings.store_uri)

    async def run() -> None:
        async with MlflowSource(source_url) as source:
            if dry_run:
                plan = await plan_import(source, store, experiment_names=experiments, copy_registry=not no_registry)
                click.echo(plan.line())
                return
            summary = await import_mlflow(
                source,
                store,
                artifact_store_for(settings.artifact_root),  # the artifact store `tracklet server` serves
                experiment_names=experiments,
                copy_artifacts=not no_artifacts,
                copy_registry=not no_registry,
                progress=_progressbar,
                warn=lambda message: click.echo(f"Warning: {message}", err=True),
            )
        click.echo(summary.line())

    # Two imports at once would both copy what is missing; a dry run writes nothing.
    one_at_a_time = nullcontext() if dry_run else store.db.one_at_a_time("import-mlflow")
    try:
        with one_at_a_time:
            asyncio.run(run())
    except KeyboardInterrupt:
        # Complete runs are stored; the one being copied is discarded and copied again next time.
        raise SystemExit("Interrupted: run the same command again to copy what is missing.") from None
    except AlreadyRunning as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.close()
