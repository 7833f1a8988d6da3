"""`Store`: the tracking store the HTTP layer talks to, assembled from one class per resource."""

from __future__ import annotations

from tracklet.store.database import Database
from tracklet.store.eval_datasets import EvalDatasetStore
from tracklet.store.experiments import ExperimentStore
from tracklet.store.issues import IssueStore
from tracklet.store.label_schemas import LabelSchemaStore
from tracklet.store.logged_models import LoggedModelStore
from tracklet.store.migrations import upgrade
from tracklet.store.purge import PurgeStore
from tracklet.store.registry import RegistryStore
from tracklet.store.review_queues import ReviewQueueStore
from tracklet.store.runs import RunStore
from tracklet.store.scorers import ScorerStore
from tracklet.store.spans import SpanStore
from tracklet.store.tokens import TokenStore
from tracklet.store.trace_metrics import TraceMetricsStore
from tracklet.store.traces import TraceStore
from tracklet.store.webhooks import WebhookStore
from tracklet.store.workspaces import WorkspaceStore

DEFAULT_ARTIFACT_ROOT = "mlflow-artifacts:"


class Store(
    SpanStore,
    TraceMetricsStore,
    TraceStore,
    ExperimentStore,
    RunStore,
    LoggedModelStore,
    RegistryStore,
    EvalDatasetStore,
    ScorerStore,
    LabelSchemaStore,
    ReviewQueueStore,
    IssueStore,
    PurgeStore,
    TokenStore,
    WebhookStore,
    WorkspaceStore,
):
    def __init__(self, uri: str, default_artifact_root: str = DEFAULT_ARTIFACT_ROOT, migrate: bool = True) -> None:
        self.db = Database(uri)
        self.default_artifact_root = default_artifact_root
        self._verified_passwords = {}
        if migrate:
            upgrade(self.db.engine)
        self.ensure_default_experiment()

    def close(self) -> None:
        self.db.dispose()
