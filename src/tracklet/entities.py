"""Tracklet's entities, shaped exactly like MLflow's JSON so they encode straight onto the wire.

`omit_defaults=True` drops empty lists and unset fields, as MLflow does. Metric values that are NaN
travel as the string "NaN" (JSON has no NaN); ±inf are stored as ±1.7976931348623157e308 like MLflow's
SQL store.
"""

from __future__ import annotations

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


class Experiment(Entity):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int = 0
    last_update_time: int = 0
    tags: list[KeyValue] = []


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


class LoggedModel(Entity):
    info: LoggedModelInfo
    data: LoggedModelData = msgspec.field(default_factory=LoggedModelData)


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
    tags: list[KeyValue] = []
    aliases: list[str] = []


class RegisteredModelAlias(msgspec.Struct):
    alias: str
    version: str


class RegisteredModel(Entity):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None  # omitted when empty, as MLflow does
    latest_versions: list[ModelVersion] = []
    tags: list[KeyValue] = []
    aliases: list[RegisteredModelAlias] = []


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


class TraceInfoV2(Entity):
    """MLflow 2's TraceInfo, of the v2 trace API (`/api/2.0/mlflow/traces`) that MLflow 2.14–2.22 clients use."""

    request_id: str
    experiment_id: str
    timestamp_ms: int
    status: str
    execution_time_ms: int | None = None
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []
