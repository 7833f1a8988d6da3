"""The `tracklet` command: a thin shell around plain functions."""

from __future__ import annotations

import importlib

import click

from tracklet._version import __version__
from tracklet.settings import SETTINGS, Settings

# The help of each option that mirrors a setting (also used by the subcommands defined elsewhere).
OPTION_HELP = {s.name: f"{s.help} [env {s.env}]" for s in SETTINGS}


class LazyGroup(click.Group):
    """Subcommands whose modules are imported only when used (`tracklet server` must start fast,
    without importing pandas for `tracklet models`). Each comes with its one-line help, so that
    `tracklet --help` imports none of them either (a test keeps the lines equal to the commands' own)."""

    lazy: dict[str, tuple[str, str]] = {
        "artifacts": ("tracklet.client.browse_cli:artifacts_group", "List, download and upload a run's artifacts."),
        "experiments": (
            "tracklet.client.browse_cli:experiments_group",
            "List, create, rename, delete and restore experiments.",
        ),
        "gc": (
            "tracklet.admin.cli:gc_command",
            "Permanently delete deleted runs, logged models and experiments: their rows and their artifacts.",
        ),
        "import-mlflow": (
            "tracklet.migrate.cli:import_mlflow_command",
            "Copy an MLflow server's history (SOURCE_URL, e.g. http://old-mlflow:5000) into tracklet's store.",
        ),
        "models": ("tracklet.models.cli:models_group", "Serve and score logged models."),
        "run": (
            "tracklet.client.run_cli:run_command",
            "Run SCRIPT as a tracked run, passing -P NAME=VALUE parameters to tracklet.param().",
        ),
        "runs": ("tracklet.client.browse_cli:runs_group", "List, describe, delete and restore runs."),
        "users": (
            "tracklet.admin.users:users_group",
            "Users of `tracklet server --auth`, in the store itself (the server's user API does the same over HTTP).",
        ),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, _, attr = self.lazy[name][0].partition(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in self.lazy:
                rows.append((name, click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)))
            elif (command := super().get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="tracklet")
def cli() -> None:
    """Tracklet: experiment tracking that speaks MLflow's protocol."""


@cli.command()
@click.option("--host", default=None, help=OPTION_HELP["host"])
@click.option("--port", type=int, default=None, help=OPTION_HELP["port"])
@click.option("--backend-store-uri", default=None, help=OPTION_HELP["backend_store_uri"])
@click.option("--artifacts-destination", default=None, help=OPTION_HELP["artifacts_destination"])
@click.option("--s3-presigned-endpoint-url", default=None, metavar="URL", help=OPTION_HELP["s3_presigned_endpoint_url"])
@click.option("--s3-direct-transfers", is_flag=True, default=None, help=OPTION_HELP["s3_direct_transfers"])
@click.option("--workers", type=int, default=None, help=OPTION_HELP["workers"])
@click.option("--data-dir", default=None, help=OPTION_HELP["data_dir"])
@click.option("--expose-prometheus", default=None, metavar="DIR", help=OPTION_HELP["expose_prometheus"])
@click.option("--auth", is_flag=True, default=None, help=OPTION_HELP["auth"])
@click.option(
    "--auth-default-permission",
    type=click.Choice(["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]),
    default=None,
    help=OPTION_HELP["auth_default_permission"],
)
@click.option("--enable-workspaces", is_flag=True, default=None, help=OPTION_HELP["enable_workspaces"])
@click.option(
    "--webhook-destinations",
    type=click.Choice(["private", "public", "loopback"]),
    default=None,
    help=OPTION_HELP["webhook_destinations"],
)
@click.option("--webhook-timeout", type=float, default=None, metavar="SECONDS", help=OPTION_HELP["webhook_timeout"])
def server(**options: object) -> None:
    """Start the tracking server (default: 127.0.0.1:5000, embedded store in ./tracklet-data)."""
    from tracklet.server.runner import serve

    serve(Settings.from_env(**options))


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@click.option("--backend-store-uri", default=None, help=OPTION_HELP["backend_store_uri"])
def upgrade(backend_store_uri: str | None) -> None:
    """Apply all schema migrations to the store."""
    from tracklet.store.migrations import current_revision
    from tracklet.store.store import Store

    settings = Settings.from_env(backend_store_uri=backend_store_uri)
    store = Store(settings.store_uri)
    click.echo(f"{settings.store_uri}: schema at revision {current_revision(store.db.engine)}")
    store.close()


def main() -> None:
    from tracklet.errors import TrackletError

    try:
        cli()
    except TrackletError as err:  # a bad option or URI: say what, without a traceback
        raise SystemExit(f"Error: {err.message}") from None
