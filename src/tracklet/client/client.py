"""`TrackletClient`: one explicit method per tracking operation, synchronous, no hidden state but caches.

Everything here builds requests and reads responses; bytes move in `transport.py`. Its `logger`
(`batching.BatchLogger`) is the non-blocking path that the module-level `tracklet.log_*` use.
The operations live by resource: experiments.py, runs.py (and their params, metrics, tags, traces),
artifacts.py, logged_models.py (logged models and the model registry), webhooks.py (the registry's
webhooks); this class puts them together.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from tracklet.client.artifacts import ArtifactsMixin
from tracklet.client.experiments import ExperimentsMixin
from tracklet.client.logged_models import LoggedModelsMixin
from tracklet.client.runs import MetricPoint, Run, RunData, RunsMixin, split_batch
from tracklet.client.transport import Transport
from tracklet.client.webhooks import WebhooksMixin

__all__ = ["TrackletClient", "Run", "RunData", "MetricPoint", "split_batch"]


class TrackletClient(ExperimentsMixin, RunsMixin, ArtifactsMixin, LoggedModelsMixin, WebhooksMixin):
    """Explicit, synchronous access to a tracking server (or the embedded local store).

    `tracking_uri`: `http(s)://host:port` for a server; `None`, `sqlite:///…` or a folder for the
    local store (no server needed).
    """

    def __init__(self, tracking_uri: str | None = None, *, transport: Transport | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.transport = transport or Transport.for_uri(tracking_uri)
        self._artifact_uris: dict[str, str] = {}
        self._logger: Any = None
        self._logger_lock = threading.Lock()

    @property
    def logger(self) -> Any:
        """The background `BatchLogger` for this client (started on first use)."""
        if self._logger is None:
            with self._logger_lock:
                if self._logger is None:
                    from tracklet.client.batching import BatchLogger

                    self._logger = BatchLogger(self.transport)
        return self._logger

    def close(self) -> None:
        """Drain pending logs, then release connections."""
        if self._logger is not None:
            self._logger.close()
        self.transport.close()

    # -- tables: JSON artifacts of runs, found by the runs' tags ------------------------------------

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """A pandas DataFrame or a dict of columns as the JSON table `artifact_file` (e.g. "eval/results.json"),
        in MLflow's layout; rows are appended when the file exists. Listed in the run's `mlflow.loggedArtifacts`."""
        from tracklet.client import tables

        tables.log_table(self, run_id, data, artifact_file)

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: Sequence[str] | None = None,
        extra_columns: Sequence[str] | None = None,
    ) -> Any:
        """The table `artifact_file` of every run of the experiment that logged it (or of `run_ids`), as one
        DataFrame; `extra_columns` adds columns of `search_runs` (e.g. "run_id", "params.alpha") to each row."""
        from tracklet.client import tables

        return tables.load_table(self, experiment_id, artifact_file, run_ids, extra_columns)
