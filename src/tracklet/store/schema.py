"""The tables, in SQLAlchemy Core. Migrations in `migrations/versions` create exactly these.

Design notes:
- A run's params, tags and latest metrics are found by (run_uuid, key); there is no index by (key,
  value): searches test each candidate run by its key (measured: such indexes did not speed up any
  search on SQLite or PostgreSQL, and each cost a B-tree leaf write per key of every new run).
- `latest_metrics` holds one row per history (run, key): the point with the largest (step, timestamp,
  value), and the history's integer id. Searches filter and sort on it with plain joins instead of
  aggregating the history.
- `metrics` holds every point under its history's id; its primary key is the history order (timestamp,
  step, value) so a history read is one ordered index range scan, and exact duplicates are ignored by
  the key. The integer id instead of (run_uuid, key) halves the width of the key that every point
  inserts into the B-tree (the hottest write of the server).
- NaN cannot be stored in SQLite's REAL column (it becomes NULL), so NaN is a flag (`is_nan`) with value 0.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    literal_column,
    text,
)

metadata = MetaData()

PARENT_RUN_TAG = "mlflow.parentRunId"
PARENT_RUN_KEY: ColumnElement[str] = literal_column(
    f"'{PARENT_RUN_TAG}'"
)  # inline, so that `ix_tags_parent_run` applies

# Workspaces (`--enable-workspaces`, migration 0020): `default` always exists and holds everything made
# without workspaces. Experiments, registered models, evaluation datasets and webhooks name theirs; runs,
# traces, logged models and scorers belong to their experiment's.
DEFAULT_WORKSPACE = "default"

workspaces = Table(
    "workspaces",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("description", Text, nullable=True),
    Column("default_artifact_root", Text, nullable=True),
    Column("trace_archival_location", Text, nullable=True),
    Column("trace_archival_retention", String(32), nullable=True),
)


def _workspace_column() -> Column[str]:
    return Column("workspace", String(63), nullable=False, server_default=DEFAULT_WORKSPACE)


experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    _workspace_column(),
    Index("ux_experiments_workspace_name", "workspace", "name", unique=True),
)

# Experiments purged by `tracklet gc`, and when: an id is never given to another experiment (SQLite would
# give the highest id again once its row is gone; PostgreSQL's sequence never does).
purged_experiments = Table(
    "purged_experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(500), nullable=False),
    Column("purged_time", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("artifact_uri", Text, nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Index("ix_runs_experiment_stage_start", "experiment_id", "lifecycle_stage", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    sqlite_with_rowid=False,  # clustered by run: one B-tree to write, one range to read a run's params
)

tags = Table(
    "tags",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    # The children of a run (the web UI's nested view); only parent tags are indexed. Queries compare
    # the key with the literal `PARENT_RUN_KEY`: a bound value would not let PostgreSQL's generic
    # plans (prepared statements) prove the index's condition.
    Index(
        "ix_tags_parent_run",
        "value",
        sqlite_where=text(f"key = '{PARENT_RUN_TAG}'"),
        postgresql_where=text(f"key = '{PARENT_RUN_TAG}'"),
    ),
    sqlite_with_rowid=False,
)

metrics = Table(
    "metrics",
    metadata,
    Column("history_id", BigInteger, nullable=False),  # latest_metrics.history_id
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    PrimaryKeyConstraint("history_id", "timestamp", "step", "value", "is_nan"),
    sqlite_with_rowid=False,
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", String(32), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    # points logged to this history (exact duplicates included): decides when it gets chart tiles
    Column("n_points", BigInteger, nullable=False, server_default="0"),
    # Given when the history's first point is written (`metrics._upsert_latest_sql`); reused only after an interrupted import deleted that history with its points.
    Column("history_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    Index("ix_latest_metrics_history_id", "history_id", unique=True),
    sqlite_with_rowid=False,
)

dataset_inputs = Table(
    "dataset_inputs",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    Column("tags_json", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "name", "digest"),
)

run_model_links = Table(
    "run_model_links",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("model_id", String(40), nullable=False),
    Column("direction", String(8), nullable=False),  # "input" or "output"
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "model_id", "direction"),
)

logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(40), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("status", String(40), nullable=False),
    Column("model_type", Text, nullable=False),
    Column("source_run_id", String(32), nullable=True),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Index("ix_logged_models_experiment_name", "experiment_id", "name"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_id", String(40), ForeignKey("logged_models.model_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_id", String(40), ForeignKey("logged_models.model_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("model_id", String(40), ForeignKey("logged_models.model_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("dataset_name", String(500), nullable=False),
    Column("dataset_digest", String(36), nullable=False),
    PrimaryKeyConstraint("model_id", "key", "timestamp", "step", "run_id", "dataset_name", "dataset_digest"),
)

# Per-pixel summaries of metric histories for the web UI's charts (`tracklet.server.ui.history`).
# A derived cache: each tile covers a power-of-two range of x (step, or timestamp in ms) at one of a
# few levels and keeps what a chart needs to never lose a spike: min, max and the last value.
# Kept up to date as points are written (`tracklet.store.tiles`); a cache, rebuilt from `metrics` if lost.
metric_tiles = Table(
    "metric_tiles",
    metadata,
    Column("run_uuid", String(32), nullable=False),
    Column("key", String(250), nullable=False),
    Column("axis", Integer, nullable=False),  # 0 = step, 1 = timestamp
    Column("level", Integer, nullable=False),
    Column("bucket", BigInteger, nullable=False),  # x >> shift(axis, level)
    Column("first_x", BigInteger, nullable=False),
    Column("last_x", BigInteger, nullable=False),
    Column("last_value", Float(precision=53), nullable=False),
    Column("min_value", Float(precision=53), nullable=False),
    Column("max_value", Float(precision=53), nullable=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
    Column("n_points", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", "axis", "level", "bucket"),
    sqlite_with_rowid=False,
)

# Histories logged before tiles were kept at ingestion: their first chart read builds their tiles.
metric_tile_rebuilds = Table(
    "metric_tile_rebuilds",
    metadata,
    Column("run_uuid", String(32), nullable=False),
    Column("key", String(250), nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
)

# The model registry. Versions, tags and aliases point at a registered model by its integer id, so a
# rename is one row; versions are numbered 1, 2, 3 ... per model and a deleted version keeps its row
# (stage `Deleted_Internal`, fields redacted, as MLflow does) so that its number is never reused.
registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    _workspace_column(),
    Index("ux_registered_models_workspace_name", "workspace", "name", unique=True),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("registered_model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "key"),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("registered_model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "alias"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("registered_model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("storage_location", Text, nullable=False),  # what get-download-uri answers
    Column("run_id", String(32), nullable=True),
    Column("run_link", Text, nullable=True),
    Column("model_id", String(40), nullable=True),
    Column("status", String(20), nullable=False),
    PrimaryKeyConstraint("registered_model_id", "version"),
    Index("ix_model_versions_run_id", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("registered_model_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "version", "key"),
)

# MLflow 3 traces. The rows hold what searches filter and sort on. Their spans are either the client's
# `traces.json` in the trace's artifact location (tag `mlflow.artifactLocation`; what MLflow's client
# uploads) or, for spans received over OTLP, rows of `trace_spans` (tag `mlflow.trace.spansLocation`
# says which).
traces = Table(
    "traces",
    metadata,
    Column("trace_id", String(50), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("request_time", BigInteger, nullable=False),  # ms since the epoch
    Column("execution_duration", BigInteger, nullable=True),  # ms
    Column("state", String(20), nullable=False),
    Column("client_request_id", String(250), nullable=True),
    Column("request_preview", Text, nullable=True),
    Column("response_preview", Text, nullable=True),
    Index("ix_traces_experiment_time", "experiment_id", "request_time"),
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("trace_id", String(50), ForeignKey("traces.trace_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("trace_id", "key"),
)

SOURCE_RUN_METADATA = "mlflow.sourceRun"
TRACE_NAME_TAG = "mlflow.traceName"  # the root span's name, kept as a trace tag (as MLflow does)
SOURCE_RUN_KEY: ColumnElement[str] = literal_column(f"'{SOURCE_RUN_METADATA}'")  # inline, for the partial index

trace_metadata = Table(
    "trace_metadata",
    metadata,
    Column("trace_id", String(50), ForeignKey("traces.trace_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("trace_id", "key"),
    # A run's traces (the run page, `search_traces(run_id=…)`): found by run, not by testing every trace.
    Index(
        "ix_trace_metadata_source_run",
        "value",
        sqlite_where=text(f"key = '{SOURCE_RUN_METADATA}'"),
        postgresql_where=text(f"key = '{SOURCE_RUN_METADATA}'"),
    ),
)

# Spans in the database. Those received over OTLP (`/v1/traces`) live here: one trace's spans may arrive
# over several exports (an OpenTelemetry SDK exports spans as they end, children before their parent), so
# they are rows, merged by span id, rather than one file. Those MLflow's client uploads as `traces.json`
# are copied here for span filters (`span_search.py`), and still served from the file. `content` is the
# span as MLflow's client writes it in `traces.json`; name, type and status are what filters compare
# (no status: a row from before migration 0013, filled in when a span filter first needs it).
trace_spans = Table(
    "trace_spans",
    metadata,
    Column("trace_id", String(50), ForeignKey("traces.trace_id"), nullable=False),
    Column("span_id", String(16), nullable=False),  # hex
    Column("start_time", BigInteger, nullable=False),  # ns since the epoch: spans are read in this order
    Column("content", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("type", Text, nullable=True),  # MLflow's span type (`mlflow.spanType`), when the span has one
    Column("status", String(20), nullable=True),  # OK, ERROR or UNSET
    PrimaryKeyConstraint("trace_id", "span_id"),
    Index(
        "ix_trace_spans_unindexed",
        "trace_id",
        sqlite_where=text("status IS NULL"),
        postgresql_where=text("status IS NULL"),
    ),
)

# Each span's attributes for `span.attributes.<key>` filters: the value decoded from the JSON text the
# span keeps (a string as itself, anything else as compact JSON).
trace_span_attributes = Table(
    "trace_span_attributes",
    metadata,
    Column("trace_id", String(50), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("trace_id", "span_id", "key"),
    ForeignKeyConstraint(["trace_id", "span_id"], ["trace_spans.trace_id", "trace_spans.span_id"]),
)

# Feedback, expectations and issue references on traces (MLflow 3's assessments). What the server
# acts on or searches is in columns (an override turns the overridden assessment invalid); the whole
# rest of the assessment (source, value, rationale, metadata, error, span) is the client's JSON in `body`.
trace_assessments = Table(
    "trace_assessments",
    metadata,
    Column("assessment_id", String(50), primary_key=True),
    Column("trace_id", String(50), ForeignKey("traces.trace_id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("kind", String(16), nullable=False),  # "feedback", "expectation" or "issue"
    Column("valid", Boolean, nullable=False),
    Column("overrides", String(50), nullable=True),
    # What `feedback.<name>` / `expectation.<name>` filters compare: the value as text (a string as it
    # is, anything else as JSON), and as a number when it is one (for <, <=, >, >=).
    Column("value", Text, nullable=True),
    Column("number", Float(precision=53), nullable=True),
    Column("create_time", BigInteger, nullable=False),  # ms since the epoch
    Column("last_update_time", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_trace_assessments_trace", "trace_id", "create_time"),
    # The traces tied to each issue (`issues/search` counts them): issue references only, few of the rows.
    Index(
        "ix_trace_assessments_issue",
        "name",
        "trace_id",
        sqlite_where=text("kind = 'issue'"),
        postgresql_where=text("kind = 'issue'"),
    ),
)

# Traces linked to runs after the fact (`MlflowClient.link_traces_to_run`; `mlflow.genai.evaluate` links
# the traces it evaluates to its run), beside the run a trace was recorded in (`mlflow.sourceRun`).
trace_run_links = Table(
    "trace_run_links",
    metadata,
    Column("trace_id", String(50), ForeignKey("traces.trace_id"), nullable=False),
    Column("run_id", String(32), nullable=False),
    PrimaryKeyConstraint("trace_id", "run_id"),
    Index("ix_trace_run_links_run", "run_id"),
)

# Prompt versions a trace used (`traces/link-prompts`: MLflow's client links the prompts a traced call
# loaded when it exports the trace), as MLflow keeps them (its entity associations): `prompt = "name/3"`
# in a traces/search filter finds the traces of that version. The trace's `mlflow.linkedPrompts` tag,
# which the client sets as well, is what `get_trace` shows.
trace_prompt_links = Table(
    "trace_prompt_links",
    metadata,
    Column("trace_id", String(50), ForeignKey("traces.trace_id"), nullable=False),
    Column("prompt_version", String(300), nullable=False),  # "<name>/<version>", as MLflow writes it
    Column("created_time", BigInteger, nullable=False),  # ms since the epoch
    PrimaryKeyConstraint("trace_id", "prompt_version"),
    Index("ix_trace_prompt_links_prompt", "prompt_version"),
)

# Users and their permissions, used when the server runs with `--auth`. A permission row grants one user
# READ, EDIT, MANAGE or NO_PERMISSIONS on one experiment or registered model; without a row the server's
# default permission applies. An experiment's rows go when `tracklet gc` purges it; a registered model's
# rows follow its renames and go with it.
users = Table(
    "users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False),
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column("experiment_id", Integer, nullable=False),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("permission", String(20), nullable=False),
    PrimaryKeyConstraint("user_id", "experiment_id"),
)

registered_model_permissions = Table(
    "registered_model_permissions",
    metadata,
    Column("name", String(256), nullable=False),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("permission", String(20), nullable=False),
    _workspace_column(),
    PrimaryKeyConstraint("user_id", "workspace", "name"),
)

# Personal access tokens (`--auth`): a user's secret for jobs that should not hold their password, sent as
# `Authorization: Bearer <secret>` (MLflow's clients: MLFLOW_TRACKING_TOKEN). Only the secret's SHA-256
# is kept, found through its unique index; times are milliseconds since the epoch (no expiry: NULL). A
# token is revoked by deleting its row, and a user's tokens go with the user.
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("expiration_time", BigInteger, nullable=True),
    Column("last_used_time", BigInteger, nullable=True),  # noted at most every `tokens.USE_NOTED_EVERY_MS`
    Column("scope", String(16), nullable=False, server_default="all"),  # `users.TOKEN_SCOPES`
    Index("ix_access_tokens_user", "user_id"),
)

# Webhooks of the model registry (MLflow's `webhooks/*` API): the server POSTs an event to each ACTIVE
# webhook subscribed to it. `secret` is the HMAC key of the signature in its stored form
# (`webhooks/secrets.py`: encrypted when the server has a key, else plain); it is never sent back to a
# client. A webhook's rows are deleted with it (MLflow keeps them, marked deleted: nothing reads them).
webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(36), primary_key=True),
    Column("name", String(63), nullable=False),
    Column("description", String(1000), nullable=True),
    Column("url", String(500), nullable=False),
    Column("status", String(20), nullable=False),  # ACTIVE or DISABLED
    Column("secret", Text, nullable=True),
    Column("creation_timestamp", BigInteger, nullable=False),  # ms since the epoch
    Column("last_updated_timestamp", BigInteger, nullable=False),
    _workspace_column(),
    Index("ix_webhooks_created", "creation_timestamp"),
    Index("ix_webhooks_workspace", "workspace"),
)

# The events a webhook is subscribed to, as MLflow names them ("model_version", "created"). Found by
# (entity, action) when such an event happens.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("webhook_id", String(36), ForeignKey("webhooks.webhook_id"), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("action", String(50), nullable=False),
    PrimaryKeyConstraint("webhook_id", "entity", "action"),
    Index("ix_webhook_events_event", "entity", "action"),
)

# MLflow 3's evaluation datasets (`mlflow.genai.datasets`): a dataset's records are examples to evaluate a
# GenAI app on. A record is found again by the SHA-256 of its inputs (`input_hash`, as MLflow computes it):
# merging a record with the same inputs updates it. Inputs, outputs, expectations, tags and source are JSON
# text, written and read whole; reads page by (created_time, dataset_record_id). Datasets belong to the
# experiments they are linked to (`--auth` judges them by those); a dataset's tags, records and links go
# with it, and an experiment's links go when `tracklet gc` purges it.
evaluation_datasets = Table(
    "evaluation_datasets",
    metadata,
    Column("dataset_id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("schema", Text, nullable=True),  # JSON: the type of each field of inputs, outputs, expectations
    Column("profile", Text, nullable=True),  # JSON: {"num_records": n}
    Column("digest", String(64), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    _workspace_column(),
    Index("ix_evaluation_datasets_name", "name"),
    Index("ix_evaluation_datasets_created_time", "created_time"),
    Index("ix_evaluation_datasets_workspace", "workspace"),
)

evaluation_dataset_tags = Table(
    "evaluation_dataset_tags",
    metadata,
    Column("dataset_id", String(36), ForeignKey("evaluation_datasets.dataset_id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", String(5000), nullable=False),
    PrimaryKeyConstraint("dataset_id", "key"),
)

evaluation_dataset_records = Table(
    "evaluation_dataset_records",
    metadata,
    Column("dataset_record_id", String(36), primary_key=True),
    Column("dataset_id", String(36), ForeignKey("evaluation_datasets.dataset_id"), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("inputs", Text, nullable=False),
    Column("outputs", Text, nullable=True),  # NULL: none; otherwise any JSON value
    Column("expectations", Text, nullable=True),
    Column("tags", Text, nullable=True),
    Column("source", Text, nullable=True),
    Column("source_id", String(255), nullable=True),
    Column("source_type", String(32), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    Index("ix_evaluation_dataset_records_inputs", "dataset_id", "input_hash", unique=True),
    Index("ix_evaluation_dataset_records_page", "dataset_id", "created_time", "dataset_record_id"),
)

evaluation_dataset_experiments = Table(
    "evaluation_dataset_experiments",
    metadata,
    Column("dataset_id", String(36), ForeignKey("evaluation_datasets.dataset_id"), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    PrimaryKeyConstraint("dataset_id", "experiment_id"),
    Index("ix_evaluation_dataset_experiments_experiment", "experiment_id"),
)

# MLflow 3's registered scorers (`Scorer.register`, `mlflow.genai.scorers.list_scorers`): a scorer is a
# name in an experiment; each registration adds a version holding the client's serialized scorer (JSON
# text, stored as sent: tracklet never runs it). Versions number from 1 past the highest there; deleting
# the last version deletes the scorer. An experiment's scorers go when `tracklet gc` purges it.
scorers = Table(
    "scorers",
    metadata,
    Column("scorer_id", String(36), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("scorer_name", String(256), nullable=False),
    Index("ix_scorers_experiment_name", "experiment_id", "scorer_name", unique=True),
)

scorer_versions = Table(
    "scorer_versions",
    metadata,
    Column("scorer_id", String(36), ForeignKey("scorers.scorer_id"), nullable=False),
    Column("scorer_version", Integer, nullable=False),
    Column("serialized_scorer", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("scorer_id", "scorer_version"),
)

# MLflow 3's label schemas (`mlflow.genai.label_schemas`): the questions reviewers answer about traces,
# one per (experiment, name). `input_type` names the widget (pass_fail, categorical, numeric, text) and
# `input_config` holds its settings as the JSON of MLflow's message. The experiment's default question
# ("Feedback", `is_default`) is made by the first listing, as MLflow does; it cannot be changed or deleted.
label_schemas = Table(
    "label_schemas",
    metadata,
    Column("schema_id", String(36), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("type", String(16), nullable=False),
    Column("instruction", Text, nullable=True),
    Column("enable_comment", Boolean, nullable=False),
    Column("input_type", String(32), nullable=False),
    Column("input_config", Text, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Index("ix_label_schemas_experiment_name", "experiment_id", "name", unique=True),
)

# MLflow 3's review queues (`mlflow.genai.review_queues`): traces waiting for review in an experiment.
# Names are unique per experiment without regard to case (`name_key`, the name lowercased). A queue's
# users, label schemas and items are rows of their own; deleting the queue deletes them.
review_queues = Table(
    "review_queues",
    metadata,
    Column("queue_id", String(36), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("name_key", String(250), nullable=False),
    Column("queue_type", String(16), nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("creation_time_ms", BigInteger, nullable=False),
    Column("last_update_time_ms", BigInteger, nullable=False),
    Index("ix_review_queues_experiment_name_key", "experiment_id", "name_key", unique=True),
)

review_queue_users = Table(
    "review_queue_users",
    metadata,
    Column("queue_id", String(36), ForeignKey("review_queues.queue_id"), nullable=False),
    Column("user_id", String(250), nullable=False),
    PrimaryKeyConstraint("queue_id", "user_id"),
    Index("ix_review_queue_users_user", "user_id"),
)

review_queue_label_schemas = Table(
    "review_queue_label_schemas",
    metadata,
    Column("queue_id", String(36), ForeignKey("review_queues.queue_id"), nullable=False),
    Column("schema_id", String(36), nullable=False),  # no foreign key, as in MLflow: a deleted schema stays named
    PrimaryKeyConstraint("queue_id", "schema_id"),
)

# An item is a trace (the only kind MLflow has yet) in a queue; deleting the trace removes it from its queues.
review_queue_items = Table(
    "review_queue_items",
    metadata,
    Column("queue_id", String(36), ForeignKey("review_queues.queue_id"), nullable=False),
    Column("item_id", String(50), nullable=False),
    Column("item_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("completed_by", String(250), nullable=True),
    Column("completed_time_ms", BigInteger, nullable=True),
    Column("creation_time_ms", BigInteger, nullable=False),
    Column("last_update_time_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("queue_id", "item_id"),
    Index("ix_review_queue_items_item", "item_id"),
)

# MLflow 3's issues: problems found in an experiment's traces (by `mlflow.genai.discover_issues` or a
# person), each with a status and a severity. Traces are tied to an issue by assessments of kind "issue"
# named with its id. A run it came from (`source_run_id`) may be purged: the issue then forgets it.
issues = Table(
    "issues",
    metadata,
    Column("issue_id", String(36), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(50), nullable=False),
    Column("severity", String(50), nullable=True),
    Column("root_causes", Text, nullable=True),  # JSON list
    Column("source_run_id", String(32), ForeignKey("runs.run_uuid"), nullable=True),
    Column("categories", Text, nullable=True),  # JSON list
    Column("created_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=True),
    Index("ix_issues_experiment", "experiment_id", "created_timestamp"),
    Index("ix_issues_source_run", "source_run_id"),
)
