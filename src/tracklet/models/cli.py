"""`tracklet models serve` and `tracklet models predict`: thin shells around plain functions.

The main CLI adds this group with `cli.add_command(models_group, "models")`;
`python -m tracklet.models.cli` runs it alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tracklet.errors import TrackletError
from tracklet.models.loading import load_model, predictions_to_json
from tracklet.models.scoring import parse_input, serve

__all__ = ["models_group", "predict_file", "serve_model"]


def serve_model(model_uri: str, host: str = "127.0.0.1", port: int = 5001) -> None:
    """Load the model at `model_uri` and serve it until interrupted."""
    serve(load_model(model_uri), host=host, port=port)


def predict_file(model_uri: str, input_path: Path, output_path: Path | None, content_type: str) -> Any:
    """Score the CSV or JSON file at `input_path` (JSON in the scoring server's request format);
    write `{"predictions": ...}` to `output_path` (stdout when None)."""
    model = load_model(model_uri)
    media_type = "text/csv" if content_type == "csv" else "application/json"
    data, params = parse_input(input_path.read_bytes(), media_type, model)
    result = {"predictions": predictions_to_json(model.predict(data, params=params))}
    text = json.dumps(result)
    if output_path is None:
        click.echo(text)
    else:
        output_path.write_text(text)
    return result


@click.group("models")
def models_group() -> None:
    """Serve and score logged models."""


@models_group.command("serve")
@click.option("-m", "--model-uri", required=True, help="runs:/<run_id>/<name>, models:/<model_id> or a folder.")
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("-p", "--port", default=5001, show_default=True, type=int, help="Port to listen on.")
def serve_command(model_uri: str, host: str, port: int) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol (POST /invocations)."""
    try:
        serve_model(model_uri, host, port)
    except TrackletError as exc:
        raise click.ClickException(exc.message) from None


@models_group.command("predict")
@click.option("-m", "--model-uri", required=True, help="runs:/<run_id>/<name>, models:/<model_id> or a folder.")
@click.option("-i", "--input-path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output-path", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@click.option(
    "-t",
    "--content-type",
    type=click.Choice(["csv", "json"]),
    default=None,
    help="Input format. Default: from the file extension (.csv or .json).",
)
def predict_command(model_uri: str, input_path: Path, output_path: Path | None, content_type: str | None) -> None:
    """Score a CSV or JSON file with a model and write {"predictions": ...} as JSON."""
    kind = content_type or ("json" if input_path.suffix.lower() == ".json" else "csv")
    try:
        predict_file(model_uri, input_path, output_path, kind)
    except TrackletError as exc:
        raise click.ClickException(exc.message) from None


if __name__ == "__main__":
    models_group()
