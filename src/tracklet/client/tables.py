"""Tables of runs (`log_table`, `load_table`) in MLflow's layout, so MLflow's `load_table` and its UI read them.

A table is a JSON artifact as pandas writes it with `orient="split"`: `{"columns": [...], "data": [[...], ...]}`
(no index, dates in ISO 8601). The run's tag `mlflow.loggedArtifacts` lists it as `{"path": …, "type": "table"}`:
that is how MLflow's `load_table` and the UI's evaluation view find a run's tables. Logging to a file that
exists appends the rows, as MLflow does. pandas is imported here, on first use.
"""

from __future__ import annotations

import io
import json
import logging
import posixpath
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracklet import errors

if TYPE_CHECKING:
    import pandas as pd

    from tracklet.client.client import Run, TrackletClient

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
_log = logging.getLogger("tracklet")
_FORBIDDEN = ['"', "'", ",", ":", "[", "]", "{", "}"]  # MLflow's: they would break the tag's LIKE filter


def check_artifact_file(artifact_file: str) -> str:
    """The run-relative path, normalized; a clear error for what MLflow would refuse or tracklet cannot write."""
    if not isinstance(artifact_file, str) or not artifact_file.strip("/"):
        raise errors.InvalidParameterValue(
            f"artifact_file must be a file path such as 'eval/results.json', not {artifact_file!r}"
        )
    for char in _FORBIDDEN:
        if char in artifact_file:
            raise errors.InvalidParameterValue(
                f"artifact_file {artifact_file!r} contains the forbidden character {char!r}"
            )
    path = posixpath.normpath(artifact_file)
    if path.startswith(("/", "..")):
        raise errors.InvalidParameterValue(
            f"artifact_file must be relative to the run's artifacts, not {artifact_file!r}"
        )
    if not path.endswith(".json"):
        raise errors.InvalidParameterValue(
            f"artifact_file {artifact_file!r} must end in .json (tracklet writes tables as JSON; MLflow's .parquet is not offered)"
        )
    return path


def to_frame(data: Any) -> pd.DataFrame:
    """A DataFrame as is; a dict of columns as a DataFrame (a dict of scalars as one row, as MLflow)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except ValueError:  # all scalars, or columns of different lengths: one row, as MLflow's log_table
            return pd.DataFrame([dict(data)])
    raise errors.InvalidParameterValue(
        f"log_table: data must be a pandas DataFrame or a dict, not {type(data).__name__}"
    )


def _check_no_images(frame: pd.DataFrame) -> None:
    for column in frame.columns:
        if frame[column].dtype == object and any(
            hasattr(x, "save") and hasattr(x, "resize") and hasattr(x, "size") for x in frame[column]
        ):
            raise errors.InvalidParameterValue(
                f"log_table: column {column!r} holds images; tracklet's log_table does not store images (log them "
                "with log_image)"
            )


def read_frame(text: str) -> pd.DataFrame:
    import pandas as pd

    return pd.read_json(io.StringIO(text), orient="split")


def _read_artifact(client: TrackletClient, run_id: str, path: str) -> str | None:
    """The text of a run's artifact file, or None when there is no such file."""
    folder = posixpath.dirname(path) or None
    if not any(f.path == path and not f.is_dir for f in client.list_artifacts(run_id, folder)):
        return None
    with tempfile.TemporaryDirectory(prefix="tracklet-table-") as tmp:
        return Path(client.download_artifacts(run_id, path, tmp)).read_text(encoding="utf-8")


def log_table(client: TrackletClient, run_id: str, data: Any, artifact_file: str) -> None:
    import pandas as pd

    path = check_artifact_file(artifact_file)
    frame = to_frame(data)
    _check_no_images(frame)
    existing = _read_artifact(client, run_id, path)
    if existing is not None:
        frame = pd.concat([read_frame(existing), frame], ignore_index=True)
    try:
        text = frame.to_json(orient="split", index=False, date_format="iso")
    except (TypeError, ValueError, OverflowError) as exc:
        raise errors.InvalidParameterValue(f"log_table: the table cannot be written as JSON: {exc}") from None
    client.log_text(run_id, text, path)
    tables = _logged_artifacts(client.get_run(run_id))
    entry = {"path": path, "type": "table"}
    if entry not in tables:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*tables, entry]))


def _logged_artifacts(run: Run) -> list[dict[str, Any]]:
    try:
        found = json.loads(run.data.tags.get(LOGGED_ARTIFACTS_TAG) or "[]")
    except ValueError:
        return []
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def load_table(
    client: TrackletClient,
    experiment_id: str,
    artifact_file: str,
    run_ids: Sequence[str] | None = None,
    extra_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    import pandas as pd

    from tracklet.client.fluent import runs_to_frame

    path = check_artifact_file(artifact_file)
    for name, given in (("run_ids", run_ids), ("extra_columns", extra_columns)):
        if isinstance(given, str) or not all(isinstance(x, str) and "'" not in x for x in given or []):
            raise errors.InvalidParameterValue(f"load_table: {name} must be a list of strings, not {given!r}")
    # The tag's JSON narrows the search on the server (MLflow's own filter); its exact entries decide.
    pattern = f'"path"%:%"{path}",%"type"%:%"table"'
    filter_string = f"tags.`{LOGGED_ARTIFACTS_TAG}` LIKE '%{pattern}%'"
    if run_ids:
        filter_string += " AND attributes.run_id IN ({})".format(", ".join(f"'{r}'" for r in run_ids))
    runs = client.search_runs([experiment_id], filter_string, max_results=50_000)
    runs = [r for r in runs if {"path": path, "type": "table"} in _logged_artifacts(r)]
    if run_ids and len(runs) < len(set(run_ids)):
        _log.warning("load_table: not every run given has the table %r; those without it are skipped", path)
    if not runs:
        raise errors.ResourceDoesNotExist(f"No runs of experiment {experiment_id} have the table {path!r}")
    info = runs_to_frame(runs)
    frames = []
    for run, (_, row) in zip(runs, info.iterrows(), strict=True):
        text = _read_artifact(client, run.info.run_id, path)
        if text is None:
            raise errors.ResourceDoesNotExist(f"Artifact {path} not found for run {run.info.run_id}")
        frame = read_frame(text)
        for column in extra_columns or []:
            if column not in row.index:
                raise errors.InvalidParameterValue(
                    f"load_table: extra column {column!r} is not a column of search_runs (run_id, status, "
                    "start_time, params.<name>, tags.<name> …)"
                )
            frame[f"{column}_" if column in frame.columns else column] = row[column]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
