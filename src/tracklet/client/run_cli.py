"""`tracklet run script.py -P name=value …`: run a training script as one tracked run.

The command creates the run, hands its id, the tracking URI and the `-P` values to the script through
environment variables (`TRACKLET_RUN_ID`, `TRACKLET_TRACKING_URI`, `TRACKLET_PARAMS`), runs the
script with the same Python, and ends the run FINISHED or FAILED by the script's exit code. Inside
the script, `tracklet.param()` returns the given values (converted to the declared type) and logs
them, and `tracklet.start_run()` attaches to the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

__all__ = ["run_command", "run_script"]


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="-P")
        params[name.strip()] = value
    return params


def run_script(
    script: str,
    params: dict[str, str],
    script_args: list[str] | tuple[str, ...] = (),
    tracking_uri: str | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
) -> tuple[str, int]:
    """Run `script` as one tracked run; returns (run_id, the script's exit code)."""
    from tracklet.client import fluent
    from tracklet.client.client import TrackletClient

    uri = tracking_uri or fluent._env(fluent.ENV_TRACKING_URI)
    client = TrackletClient(uri)
    try:
        if experiment_id is None:
            name = experiment_name or fluent._env(fluent.ENV_EXPERIMENT_NAME)
            experiment_id = (
                client.get_or_create_experiment(name) if name else fluent._env(fluent.ENV_EXPERIMENT_ID) or "0"
            )
        source = str(Path(script).resolve())
        tags = {"mlflow.source.name": source, "mlflow.source.type": "LOCAL", "tracklet.run.command": "tracklet run"}
        tags.update({k: v for k, v in fluent._default_tags().items() if k in ("mlflow.user",)})
        commit = fluent._git_commit(str(Path(source).parent))
        if commit:
            tags["mlflow.source.git.commit"] = commit
        run = client.create_run(experiment_id, tags=tags, run_name=run_name or Path(script).stem)
        run_id = run.info.run_id
        env = dict(os.environ)
        env["TRACKLET_RUN_ID"] = run_id
        env["TRACKLET_PARAMS"] = json.dumps(params)
        env["TRACKLET_EXPERIMENT_ID"] = experiment_id
        env.pop("TRACKLET_EXPERIMENT_NAME", None)
        if uri:
            env["TRACKLET_TRACKING_URI"] = uri
        code = subprocess.call([sys.executable, script, *script_args], env=env)
        # Params given with -P that the script never declared with param() are still part of the run.
        logged = client.get_run(run_id).data.params
        missing = {k: v for k, v in params.items() if k not in logged}
        if missing:
            client.log_batch(run_id, params=missing)
        client.set_terminated(run_id, "FINISHED" if code == 0 else "FAILED")
        return run_id, code
    finally:
        client.close()


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("-P", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter for tracklet.param().")
@click.option("--tracking-uri", envvar="TRACKLET_TRACKING_URI", help="Server URL, sqlite:/// URI or folder.")
@click.option("--experiment-name", help="Experiment of the run (created if needed).")
@click.option("--experiment-id", help="Experiment id of the run.")
@click.option("--run-name", help="Name of the run (default: the script's name).")
def run_command(
    script: str,
    script_args: tuple[str, ...],
    params: tuple[str, ...],
    tracking_uri: str | None,
    experiment_name: str | None,
    experiment_id: str | None,
    run_name: str | None,
) -> None:
    """Run SCRIPT as a tracked run, passing -P NAME=VALUE parameters to tracklet.param()."""
    run_id, code = run_script(
        script, _parse_params(params), script_args, tracking_uri, experiment_name, experiment_id, run_name
    )
    status = "FINISHED" if code == 0 else f"FAILED (exit code {code})"
    click.echo(f"tracklet run: run {run_id} {status}", err=True)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    run_command()
