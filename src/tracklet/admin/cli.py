"""`tracklet gc`: the command around `tracklet.admin.gc`."""

from __future__ import annotations

import sys

import click

from tracklet.cli import OPTION_HELP
from tracklet.settings import Settings

_SHOWN = 5  # ids listed per kind before "and N more"


@click.command("gc")
@click.option(
    "--older-than",
    default=None,
    help="Only what was deleted at least this long ago: days, hours, minutes, seconds, as in 30d or 1d12h.",
)
@click.option(
    "--run-ids", default="", help="Comma-separated ids of deleted runs to purge (default: every deleted run)."
)
@click.option(
    "--experiment-ids",
    default="",
    help="Comma-separated ids of deleted experiments to purge with all their runs (default: every deleted experiment).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be purged, and purge nothing.")
@click.option("--backend-store-uri", default=None, help=OPTION_HELP["backend_store_uri"])
@click.option("--artifacts-destination", default=None, help=OPTION_HELP["artifacts_destination"])
@click.option("--data-dir", default=None, help=OPTION_HELP["data_dir"])
def gc_command(older_than: str | None, run_ids: str, experiment_ids: str, dry_run: bool, **options: str | None) -> None:
    """Permanently delete deleted runs and experiments: their rows and their artifacts.

    Deleting a run or an experiment (in the web UI, or with MLflow's client) only marks it: it can be
    restored until gc purges it. A run or experiment that a live registered model version was registered
    from is kept (and named). Safe to run while the server runs; run it again if it stops half-way."""
    from tracklet.admin.gc import collect_garbage, find_garbage
    from tracklet.artifacts import artifact_store_for
    from tracklet.store.store import Store

    settings = Settings.from_env(**options)
    store = Store(settings.store_uri)
    try:
        garbage = find_garbage(store, older_than, _ids(run_ids), _ids(experiment_ids))
        for reason in garbage.kept:
            click.echo(reason, err=True)
        if dry_run:
            click.echo(f"Would purge {_count(garbage.experiments, 'experiment')} and {_count(garbage.runs, 'run')}:")
            click.echo(_listing("experiments", [str(e.experiment_id) for e in garbage.experiments]))
            click.echo(_listing("runs", [r.run_id for r in garbage.runs]))
            return
        total = len(garbage.experiments) + len(garbage.runs)
        with click.progressbar(length=total, label="Purging", file=sys.stderr) as bar:
            report = collect_garbage(store, artifact_store_for(settings.artifact_root), garbage, bar.update)
    finally:
        store.close()
    click.echo(
        f"Purged {_count(report.experiments, 'experiment')} and {_count(report.runs, 'run')}; "
        f"removed {_count(range(report.folders_removed), 'artifact folder')}."
    )
    if report.left_in_place:
        click.echo(
            f"{_count(report.left_in_place, 'artifact location')} outside tracklet's artifact store "
            f"left in place: {_listing('', report.left_in_place).strip()}",
            err=True,
        )


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _count(items: object, noun: str) -> str:
    n = len(items)  # type: ignore[arg-type]
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _listing(kind: str, ids: list[str]) -> str:
    more = f", and {len(ids) - _SHOWN:,} more" if len(ids) > _SHOWN else ""
    return f"  {kind}: {', '.join(ids[:_SHOWN]) or '-'}{more}"
