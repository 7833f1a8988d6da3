"""`tracklet gc`: the command around `tracklet.admin.gc`."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sized
from functools import partial

import anyio
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
@click.option(
    "--logged-model-ids",
    default="",
    help="Comma-separated ids of deleted logged models to purge (default: every deleted logged model).",
)
@click.option(
    "--traces-older-than",
    default=None,
    help="Also delete the traces (MLflow 3 tracing) of every experiment that started at least this long ago, "
    "with their spans and assessments, as in 90d: traces are never marked deleted, they only go by age.",
)
@click.option(
    "--uploads-older-than",
    default="1d",
    show_default=True,
    help="Also remove what uploads cut short by a killed server left behind (temporary files, S3 multipart "
    "uploads) begun at least this long ago.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be purged, and purge nothing.")
@click.option("--backend-store-uri", default=None, help=OPTION_HELP["backend_store_uri"])
@click.option("--artifacts-destination", default=None, help=OPTION_HELP["artifacts_destination"])
@click.option("--data-dir", default=None, help=OPTION_HELP["data_dir"])
def gc_command(
    older_than: str | None,
    run_ids: str,
    experiment_ids: str,
    logged_model_ids: str,
    traces_older_than: str | None,
    uploads_older_than: str,
    dry_run: bool,
    **options: str | None,
) -> None:
    """Permanently delete deleted runs, logged models and experiments: their rows and their artifacts.

    Deleting one (in the web UI, or with MLflow's client) only marks it: it can be restored until gc
    purges it. What a live registered model version was registered from is kept (and named). Access
    tokens that expired (as long ago as --older-than) go too, unless ids are named. Safe to run while
    the server runs; run it again if it stops half-way."""
    from tracklet.admin.gc import collect_garbage, find_garbage, parse_age, purge_old_traces
    from tracklet.artifacts import artifact_store_for
    from tracklet.store._util import now_ms
    from tracklet.store.database import AlreadyRunning
    from tracklet.store.store import Store

    settings = Settings.from_env(**options)
    artifacts = artifact_store_for(settings.artifact_root)
    traces_before = now_ms() - parse_age(traces_older_than) if traces_older_than else None  # a bad age: nothing done
    uploads_before = (now_ms() - parse_age(uploads_older_than)) / 1000
    # An expired token is as good as deleted (at its expiry); naming ids asks for those alone.
    expired_before = None if run_ids or experiment_ids or logged_model_ids else now_ms() - parse_age(older_than or "0s")
    store = Store(settings.store_uri)
    try:
        garbage = find_garbage(store, older_than, _ids(run_ids), _ids(experiment_ids), _ids(logged_model_ids))
        for reason in garbage.kept:
            click.echo(reason, err=True)
        found = {
            "experiment": [str(e.experiment_id) for e in garbage.experiments],
            "run": [run.id for run in garbage.runs],
            "logged model": [model.id for model in garbage.models],
        }
        if dry_run:
            click.echo(f"Would purge {_counts(found)}:")
            for noun, ids in found.items():
                click.echo(f"  {noun}s: {_listing(ids)}")
            if traces_before is not None:
                click.echo(f"Would delete {_count(store.count_old_traces(traces_before), 'trace')}.")
            unfinished = anyio.run(partial(artifacts.remove_unfinished_uploads, uploads_before, dry_run=True))
            click.echo(f"Would remove {_count(unfinished, 'unfinished upload')}.")
            if expired_before is not None:
                expired = [f"{t.username}/{t.name}" for t in store.expired_tokens(expired_before)]
                click.echo(f"Would purge {_count(len(expired), 'expired access token')}: {_listing(expired)}")
            return
        # A second gc at once would find the same garbage and trip over the first one's deletions.
        with store.db.one_at_a_time("gc"):
            with click.progressbar(length=sum(map(len, found.values())), label="Purging", file=sys.stderr) as bar:
                report = collect_garbage(store, artifacts, garbage, bar.update)
            traces = None
            if traces_before is not None:
                length = store.count_old_traces(traces_before)
                with click.progressbar(length=length, label="Deleting old traces", file=sys.stderr) as bar:
                    traces = purge_old_traces(store, artifacts, traces_before, report, bar.update)
            unfinished = anyio.run(artifacts.remove_unfinished_uploads, uploads_before)
            tokens = None if expired_before is None else store.purge_expired_tokens(expired_before)
    except AlreadyRunning as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.close()
    purged: dict[str, Sized] = {"experiment": report.experiments, "run": report.runs, "logged model": report.models}
    deleted_traces = "" if traces is None else f", deleted {_count(traces, 'trace')}"
    expired_tokens = "" if tokens is None else f", {_count(tokens, 'expired access token')}"
    click.echo(
        f"Purged {_counts(purged)}{expired_tokens}{deleted_traces}; removed {_count(report.folders_removed, 'artifact folder')} "
        f"and {_count(unfinished, 'unfinished upload')}."
    )
    if report.left_in_place:
        click.echo(
            f"{_count(len(report.left_in_place), 'artifact location')} outside tracklet's artifact store left "
            f"in place: {_listing(report.left_in_place)}",
            err=True,
        )


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _counts(found: Mapping[str, Sized]) -> str:
    return ", ".join(_count(len(items), noun) for noun, items in found.items())


def _listing(ids: list[str]) -> str:
    more = f", and {len(ids) - _SHOWN:,} more" if len(ids) > _SHOWN else ""
    return f"{', '.join(ids[:_SHOWN]) or '-'}{more}"
