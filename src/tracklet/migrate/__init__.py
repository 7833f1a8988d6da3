"""Copying another tracking server's history into tracklet (`tracklet import-mlflow`).

`mlflow_source.py` reads any MLflow-protocol server over REST (paging, auth, errors); `copy.py` writes
what it reads into a tracklet store and artifact store in-process; `cli.py` is the command.
"""

from __future__ import annotations

from tracklet.migrate.copy import ImportSummary, import_mlflow
from tracklet.migrate.mlflow_source import MlflowSource, SourceError

__all__ = ["ImportSummary", "MlflowSource", "SourceError", "import_mlflow"]
