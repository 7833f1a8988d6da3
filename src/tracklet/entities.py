"""Tracklet's entities, shaped exactly like MLflow's JSON so they encode straight onto the wire.

`omit_defaults=True` drops empty lists and unset fields, as MLflow does. Metric values that are NaN
travel as the string "NaN" (JSON has no NaN); ±inf are stored as ±1.7976931348623157e308 like MLflow's
SQL store.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Entity(msgspec.Struct, omit_defaults=True):
    pass


class KeyValue(msgspec.Struct):
    # Always sent, even when "": MLflow emits every field that is set (the R client builds data frames from them).
    key: str
    value: str = ""


class Metric(msgspec.Struct, gc=False):
    # Step 0 and timestamp 0 are sent too, as MLflow does. Only scalars, so untracked by the garbage
    # collector: a history page builds tens of thousands of them.
    key: str
    value: float | str
    timestamp: int = 0
    step: int = 0


class MetricWithRunId(Metric):
    """A point of `metrics/get-history-bulk-interval`, which samples several runs in one answer."""

    run_id: str = ""


def _as_dict(pairs: list[KeyValue]) -> dict[str, str]:
    return {pair.key: pair.value for pair in pairs}


# Experiments, registered models and versions read as MLflow's Python entities do: `tags` (and a registered
# model's `aliases`) are dicts. Their JSON, a list of key/value objects, is `tag_list` (`alias_list`).
_TAGS = "tags"


class Experiment(Entity):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int = 0
    last_update_time: int = 0
    tag_list: list[KeyValue] = msgspec.field(default=[], name=_TAGS)
    workspace: str = ""  # MLflow sends it always ("default" without workspaces)

    @property
    def tags(self) -> dict[str, str]:
        return _as_dict(self.tag_list)


class RunInfo(Entity):
    run_id: str
    run_uuid: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    artifact_uri: str
    lifecycle_stage: str
    end_time: int | None = None


class RunData(Entity):
    metrics: list[Metric] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class Dataset(Entity):
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


class DatasetInput(Entity):
    dataset: Dataset
    tags: list[KeyValue] = []


class ModelInput(Entity):
    model_id: str


class ModelOutput(msgspec.Struct):
    model_id: str
    step: int = 0


class RunInputs(Entity):
    dataset_inputs: list[DatasetInput] = []
    model_inputs: list[ModelInput] = []


class RunOutputs(Entity):
    model_outputs: list[ModelOutput] = []


class Run(Entity):
    info: RunInfo
    data: RunData = msgspec.field(default_factory=RunData)
    inputs: RunInputs = msgspec.field(default_factory=RunInputs)
    outputs: RunOutputs = msgspec.field(default_factory=RunOutputs)


class EncodedRunData(Entity):
    """RunData whose params and tags arrive as JSON arrays built by the database (search pages)."""

    metrics: list[Metric] = []
    params: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    tags: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class EncodedRun(Entity):
    """A Run on its way to the wire: it encodes to the same JSON as `Run`."""

    info: RunInfo
    data: EncodedRunData = msgspec.field(default_factory=EncodedRunData)
    inputs: RunInputs = msgspec.field(default_factory=RunInputs)
    outputs: RunOutputs = msgspec.field(default_factory=RunOutputs)


class ModelMetric(Entity):
    key: str
    value: float | str
    timestamp: int
    step: int
    model_id: str | None = None
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LoggedModelInfo(Entity):
    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    status: str
    model_type: str  # sent even when "", as MLflow does
    creation_timestamp_ms: int
    last_updated_timestamp_ms: int
    source_run_id: str | None = None
    tags: list[KeyValue] = []


class LoggedModelData(Entity):
    params: list[KeyValue] = []
    metrics: list[ModelMetric] = []


# MLflow's LoggedModelStatus for the status names of its JSON (`LoggedModelStatus.from_proto`).
_LOGGED_MODEL_STATUS = {
    "LOGGED_MODEL_STATUS_UNSPECIFIED": "UNSPECIFIED", "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY", "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
}  # fmt: skip


class LoggedModel(Entity):
    """A logged model as MLflow's JSON (`info`, `data`), which also reads as MLflow's `LoggedModel`:
    `model_id`, `name`, `artifact_location`, `status` ("READY" where `info.status` is "LOGGED_MODEL_READY"),
    `tags` and `params` as dicts, `metrics`, `model_uri` …"""

    info: LoggedModelInfo
    data: LoggedModelData = msgspec.field(default_factory=LoggedModelData)

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def experiment_id(self) -> str:
        return self.info.experiment_id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def artifact_location(self) -> str:
        return self.info.artifact_uri

    @property
    def creation_timestamp(self) -> int:
        return self.info.creation_timestamp_ms

    @property
    def last_updated_timestamp(self) -> int:
        return self.info.last_updated_timestamp_ms

    @property
    def model_type(self) -> str:
        return self.info.model_type

    @property
    def source_run_id(self) -> str | None:
        return self.info.source_run_id

    @property
    def status(self) -> str:
        """MLflow's `LoggedModelStatus` name: "PENDING", "READY" or "FAILED"."""
        return _LOGGED_MODEL_STATUS.get(self.info.status, self.info.status)

    @property
    def tags(self) -> dict[str, str]:
        return _as_dict(self.info.tags)

    @property
    def params(self) -> dict[str, str]:
        return {p.key: p.value for p in self.data.params}

    @property
    def metrics(self) -> list[ModelMetric]:
        return self.data.metrics

    @property
    def model_uri(self) -> str:
        return f"models:/{self.info.model_id}"


class FileInfo(Entity):
    path: str
    is_dir: bool
    file_size: int | None = None


class ModelVersion(Entity):
    """A registered model's version. `description` and `run_link` are sent even when "", as MLflow does;
    a version deleted from the registry is never returned."""

    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    status: str
    description: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    tag_list: list[KeyValue] = msgspec.field(default=[], name=_TAGS)
    aliases: list[str] = []

    @property
    def tags(self) -> dict[str, str]:
        return _as_dict(self.tag_list)


class RegisteredModelAlias(msgspec.Struct):
    alias: str
    version: str


class RegisteredModel(Entity):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None  # omitted when empty, as MLflow does
    latest_versions: list[ModelVersion] = []
    tag_list: list[KeyValue] = msgspec.field(default=[], name=_TAGS)
    alias_list: list[RegisteredModelAlias] = msgspec.field(default=[], name="aliases")

    @property
    def tags(self) -> dict[str, str]:
        return _as_dict(self.tag_list)

    @property
    def aliases(self) -> dict[str, str]:
        """Alias -> version, as MLflow's `RegisteredModel.aliases`."""
        return {a.alias: a.version for a in self.alias_list}


class MlflowExperimentLocation(msgspec.Struct):
    experiment_id: str


class TraceLocation(msgspec.Struct):
    mlflow_experiment: MlflowExperimentLocation
    type: str = "MLFLOW_EXPERIMENT"


class TraceInfo(Entity):
    """MLflow 3's TraceInfoV3. Times are protobuf JSON: `request_time` an RFC 3339 timestamp
    (`2026-11-27T13:37:27.147Z`), `execution_duration` a duration in seconds (`0.058s`)."""

    trace_id: str
    trace_location: TraceLocation
    request_time: str
    state: str
    execution_duration: str | None = None
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    trace_metadata: dict[str, str] = {}
    tags: dict[str, str] = {}
    assessments: list[dict[str, Any]] = []  # MLflow's Assessment messages as JSON (`store/assessments.py`)


class TraceInfoV2(Entity):
    """MLflow 2's TraceInfo, of the v2 trace API (`/api/2.0/mlflow/traces`) that MLflow 2.14–2.22 clients use."""

    request_id: str
    experiment_id: str
    timestamp_ms: int
    status: str
    execution_time_ms: int | None = None
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []


class WebhookEvent(msgspec.Struct):
    """What a webhook is subscribed to, in MLflow's protobuf enum names: `MODEL_VERSION`, `CREATED`."""

    entity: str
    action: str


class Webhook(Entity, kw_only=True):
    """A webhook of the model registry, as MLflow answers it: never with its secret."""

    webhook_id: str
    name: str
    description: str | None = None  # omitted when empty, as MLflow does
    url: str
    events: list[WebhookEvent]
    status: str  # ACTIVE or DISABLED
    creation_timestamp: int
    last_updated_timestamp: int


class WebhookTestResult(Entity):
    """What `webhooks/{id}/test` found: the receiver's status and body, or why nothing was received."""

    success: bool
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None


class TraceArchivalConfig(Entity):
    location: str | None = None
    retention: str | None = None


class Workspace(Entity):
    """A workspace of a server started with `--enable-workspaces`, as MLflow's `Workspace` message."""

    name: str
    description: str | None = None
    default_artifact_root: str | None = None
    trace_archival_config: TraceArchivalConfig | None = None
