"""Who may call each endpoint with `--auth`: one rule per endpoint, all in `RULES`.

A rule names what the request touches (the experiments of its runs, traces, logged models or artifact
paths, or a registered model) and the level it needs there: READ to see, EDIT to change, MANAGE to
delete, restore and grant. The ids are read from where the endpoint itself reads them (a GET's query, any
other method's JSON body, the route's path), with the same precedence, so a rule always judges the
resource the endpoint will act on. An id that names nothing is let through: the endpoint answers 404.
An endpoint without a rule is for admins only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from tracklet.permissions import EDIT, EXPERIMENT, MANAGE, READ, REGISTERED_MODEL, Permission
from tracklet.server import monitoring
from tracklet.server import ui as ui_shell
from tracklet.server.api import (
    artifacts,
    assessments,
    eval_datasets,
    experiments,
    issues,
    label_schemas,
    logged_models,
    meta,
    model_versions,
    otlp,
    points,
    registered_models,
    review_queues,
    runs,
    scorers,
    tokens,
    trace_metrics,
    traces,
    traces_v2,
    users,
    webhooks,
    workspaces,
)
from tracklet.server.ui import api as ui
from tracklet.store import schema as s
from tracklet.store.users import Access
from tracklet.store.workspaces import WORKSPACES_FOLDER


@dataclass(frozen=True)
class Fields:
    """A request's arguments where its endpoint reads them: the route's path parameters, then a GET's
    query or another method's JSON body (None where the rule reads no body: then only the path counts)."""

    path: dict[str, Any]
    query: QueryParams | None
    body: dict[str, Any] | None
    headers: Mapping[str, str] = field(default_factory=dict)

    def one(self, name: str) -> Any:
        if name in self.path:
            return self.path[name]
        if self.query is not None:
            return self.query.get(name)
        return None if self.body is None else self.body.get(name)

    def many(self, name: str) -> list[Any]:
        if self.query is not None:
            return list(self.query.getlist(name))
        value = None if self.body is None else self.body.get(name)
        return value if isinstance(value, list) else []


def _experiment_id(value: Any) -> int | None:
    """As `validation.parse_experiment_id` reads it; None where the endpoint would refuse it."""
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _texts(values: Iterable[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]


# A locator finds the experiment ids (or registered model names) a request touches.
Locator = Callable[[Fields, Access], list[Any]]


@dataclass(frozen=True)
class Need:
    resource_type: str  # EXPERIMENT or REGISTERED_MODEL
    level: Permission
    locate: Locator
    reads_body: bool = True
    # Refuse non-admins when the locator finds nothing (an artifact path outside any experiment's folder).
    must_locate: bool = False
    # What the request names, for `--enable-workspaces` (`server/workspaces.py`): the kind of thing and its
    # ids as given (the locator answers with their experiments).
    what: str = "experiment"
    named: Callable[[Fields], list[str]] | None = None


@dataclass(frozen=True)
class Rule:
    needs: tuple[Need, ...] = ()
    public: bool = False  # no credentials asked
    admin: bool = False
    # After a 200: give the creator MANAGE on what it created, or drop from a list what the user may not see.
    grant_created: tuple[str, str, str] | None = None  # (resource type, object field, id field)
    filter_listed: tuple[str, str, str] | None = None  # (resource type, list field, id field)
    # Whether the endpoint may change anything: an access token of scope "read" calls only those that do not.
    writes: bool = True

    @property
    def reads_body(self) -> bool:
        return any(need.reads_body for need in self.needs)


def _rule(*needs: Need, writes: bool | None = None) -> Rule:
    """`writes` unless said: whether any need is above READ (reading others' grants needs MANAGE, say)."""
    return Rule(needs=needs, writes=any(need.level > READ for need in needs) if writes is None else writes)


def _listing(resource_type: str, list_field: str, key: str) -> Rule:
    """A search or list of everything: any user may ask; the answer drops what they may not read."""
    return Rule(filter_listed=(resource_type, list_field, key), writes=False)


PUBLIC = Rule(public=True, writes=False)
AUTHENTICATED = Rule()
AUTHENTICATED_READ = Rule(writes=False)  # any user; it changes nothing
ADMIN = Rule(admin=True)
ADMIN_READ = Rule(admin=True, writes=False)


# -- locators -----------------------------------------------------------------------------------------


def experiment(level: Permission, name: str = "experiment_id", default: str | None = None) -> Need:
    def locate(fields: Fields, access: Access) -> list[int]:
        value = fields.one(name)
        found = _experiment_id(default if value is None else value)
        return [] if found is None else [found]

    return Need(EXPERIMENT, level, locate)


def each_experiment(level: Permission, name: str = "experiment_ids") -> Need:
    def locate(fields: Fields, access: Access) -> list[int]:
        return [e for e in map(_experiment_id, fields.many(name)) if e is not None]

    return Need(EXPERIMENT, level, locate)


def dataset(level: Permission) -> Need:
    """An evaluation dataset belongs to the experiments it is linked to: the level is needed in each. As in
    MLflow, one linked to none (or that does not exist) is for admins only."""

    def locate(fields: Fields, access: Access) -> list[int]:
        return access.dataset_experiments(str(fields.one("dataset_id")))

    return Need(
        EXPERIMENT,
        level,
        locate,
        reads_body=False,
        must_locate=True,
        what="dataset",
        named=lambda f: _texts([f.one("dataset_id")]),
    )


def named_experiments(level: Permission) -> Need:
    """`experiment_ids` that must name at least one experiment (datasets: a non-admin cannot create or
    search datasets outside experiments, as in MLflow)."""
    each = each_experiment(level)
    return Need(EXPERIMENT, level, each.locate, must_locate=True)


def _owned(table: Any, key: str, ids: Callable[[Fields], list[str]]) -> Locator:
    """The experiments of the runs, traces or logged models the request names."""

    def locate(fields: Fields, access: Access) -> list[int]:
        return list(access.experiments_of(table, key, ids(fields)).values())

    return locate


def _owned_need(what: str, level: Permission, table: Any, key: str, ids: Callable[[Fields], list[str]]) -> Need:
    return Need(EXPERIMENT, level, _owned(table, key, ids), what=what, named=ids)


def run(level: Permission) -> Need:
    # `run_id or run_uuid`, as `RunRef.id()` reads it.
    return _owned_need("run", level, s.runs, "run_uuid", lambda f: _texts([f.one("run_id") or f.one("run_uuid")]))


def each_run(level: Permission, name: str = "run_ids") -> Need:
    return _owned_need("run", level, s.runs, "run_uuid", lambda f: _texts(f.many(name)))


def trace(level: Permission, name: str = "trace_id") -> Need:
    return _owned_need("trace", level, s.traces, "trace_id", lambda f: _texts([f.one(name)]))


def each_trace(level: Permission, name: str = "trace_ids") -> Need:
    return _owned_need("trace", level, s.traces, "trace_id", lambda f: _texts(f.many(name)))


def logged_model(level: Permission, name: str = "model_id") -> Need:
    return _owned_need("logged model", level, s.logged_models, "model_id", lambda f: _texts([f.one(name)]))


def label_schema(level: Permission) -> Need:
    return _owned_need("label schema", level, s.label_schemas, "schema_id", lambda f: _texts([f.one("schema_id")]))


def review_queue(level: Permission) -> Need:
    return _owned_need("review queue", level, s.review_queues, "queue_id", lambda f: _texts([f.one("queue_id")]))


def issue(level: Permission) -> Need:
    return _owned_need("issue", level, s.issues, "issue_id", lambda f: _texts([f.one("issue_id")]))


def experiment_named(level: Permission) -> Need:
    # (the name is looked up in the request's workspace: `Access.experiments_of`)
    return _owned_need("experiment name", level, s.experiments, "name", lambda f: _texts([f.one("experiment_name")]))


def registered_model(level: Permission, name: str = "name") -> Need:
    return Need(REGISTERED_MODEL, level, lambda fields, access: _texts([fields.one(name)]))


def artifact_path(level: Permission) -> Need:
    """Proxied artifacts live under `<experiment id>/…` (runs, logged models and traces alike), with
    workspaces under `workspaces/<name>/<experiment id>/…`: their path is scoped, not their experiment."""

    def locate(fields: Fields, access: Access) -> list[int]:
        path = fields.one("path")
        parts = path.lstrip("/").split("/", 3) if isinstance(path, str) else [""]
        head = parts[2] if parts[0] == WORKSPACES_FOLDER and len(parts) > 2 else parts[0]
        return [int(head)] if head.isdigit() else []

    return Need(EXPERIMENT, level, locate, reads_body=False, must_locate=True, what="artifact path")


def _nested(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def trace_locations(level: Permission) -> Need:
    """`traces/search`: `locations[].mlflow_experiment.experiment_id`."""

    def locate(fields: Fields, access: Access) -> list[int]:
        locations = fields.many("locations")
        ids = (_experiment_id(_nested(loc, "mlflow_experiment", "experiment_id")) for loc in locations)
        return [e for e in ids if e is not None]

    return Need(EXPERIMENT, level, locate)


def started_trace(level: Permission) -> Need:
    """`POST /api/3.0/mlflow/traces`: `trace.trace_info.trace_location.mlflow_experiment.experiment_id`."""

    def locate(fields: Fields, access: Access) -> list[int]:
        value = _nested(fields.one("trace"), "trace_info", "trace_location", "mlflow_experiment", "experiment_id")
        found = _experiment_id(value)
        return [] if found is None else [found]

    return Need(EXPERIMENT, level, locate)


def otlp_run(level: Permission) -> Need:
    """The run OTLP's traces are linked to (`x-mlflow-run-id`), which may be in another experiment."""
    run_of = _owned(s.runs, "run_uuid", lambda f: _texts([f.headers.get(otlp.RUN_HEADER)]))
    return Need(EXPERIMENT, level, run_of, reads_body=False)


def otlp_experiment(level: Permission) -> Need:
    def locate(fields: Fields, access: Access) -> list[int]:
        found = _experiment_id(fields.headers.get(otlp.EXPERIMENT_HEADER))
        return [] if found is None else [found]

    return Need(EXPERIMENT, level, locate, reads_body=False)


# -- the table ----------------------------------------------------------------------------------------

_CREATED_EXPERIMENT = (EXPERIMENT, "", "experiment_id")
_CREATED_MODEL = (REGISTERED_MODEL, "registered_model", "name")
_LISTED_SCORERS = (EXPERIMENT, "scorers", "experiment_id")
_LISTED_ISSUES = (EXPERIMENT, "issues", "experiment_id")

RULES: dict[Callable[..., Any], Rule] = {
    # Probes and metrics answer anyone (load balancers, Prometheus), as MLflow's server does.
    meta.health: PUBLIC,
    monitoring.metrics: PUBLIC,
    meta.version: AUTHENTICATED_READ,
    meta.server_info: AUTHENTICATED_READ,
    # Experiments
    experiments.create: Rule(grant_created=_CREATED_EXPERIMENT),
    experiments.search: _listing(EXPERIMENT, "experiments", "experiment_id"),
    experiments.get: _rule(experiment(READ)),
    experiments.get_by_name: _rule(experiment_named(READ)),
    experiments.update: _rule(experiment(EDIT)),
    experiments.set_tag: _rule(experiment(EDIT)),
    experiments.delete_tag: _rule(experiment(EDIT)),
    experiments.delete: _rule(experiment(MANAGE)),
    experiments.restore: _rule(experiment(MANAGE)),
    # Runs
    runs.create: _rule(experiment(EDIT, default="0")),  # no experiment_id: the default experiment
    runs.get: _rule(run(READ)),
    runs.get_history: _rule(run(READ)),
    runs.get_history_bulk_interval: _rule(each_run(READ)),
    runs.search: _rule(each_experiment(READ)),
    runs.update: _rule(run(EDIT)),
    runs.log_metric: _rule(run(EDIT)),
    runs.log_batch: _rule(run(EDIT)),
    runs.log_parameter: _rule(run(EDIT)),
    runs.set_tag: _rule(run(EDIT)),
    runs.delete_tag: _rule(run(EDIT)),
    runs.log_inputs: _rule(run(EDIT)),
    runs.log_outputs: _rule(run(EDIT)),
    runs.log_model: _rule(run(EDIT)),
    runs.delete: _rule(run(MANAGE)),
    runs.restore: _rule(run(MANAGE)),
    points.log_points: _rule(run(EDIT)),
    # Logged models
    logged_models.create: _rule(experiment(EDIT)),
    logged_models.search: _rule(each_experiment(READ)),
    logged_models.get: _rule(logged_model(READ)),
    logged_models.finalize: _rule(logged_model(EDIT)),
    logged_models.set_tags: _rule(logged_model(EDIT)),
    logged_models.delete_tag: _rule(logged_model(EDIT)),
    logged_models.log_params: _rule(logged_model(EDIT)),
    logged_models.delete: _rule(logged_model(MANAGE)),
    logged_models.list_artifacts: _rule(logged_model(READ)),
    # Artifacts: the proxy's paths start with the experiment id; the 2.0 listing names its run.
    artifacts.list_files: _rule(artifact_path(READ)),
    artifacts.download: _rule(artifact_path(READ)),
    artifacts.upload: _rule(artifact_path(EDIT)),
    artifacts.delete: _rule(artifact_path(MANAGE)),
    # A multipart upload is an upload (its file is the URL's folder and a name); a presigned URL reads the file.
    artifacts.create_multipart_upload: _rule(artifact_path(EDIT)),
    artifacts.complete_multipart_upload: _rule(artifact_path(EDIT)),
    artifacts.abort_multipart_upload: _rule(artifact_path(EDIT)),
    artifacts.presigned_download: _rule(artifact_path(READ)),
    artifacts.list_run_artifacts: _rule(run(READ)),
    # Traces and their assessments
    traces.start: _rule(started_trace(EDIT)),
    traces.search: _rule(trace_locations(READ)),
    traces.get_info: _rule(trace(READ)),
    traces.get_with_spans: _rule(trace(READ)),
    traces.batch_get_with_spans: _rule(each_trace(READ), each_experiment(READ)),
    traces.batch_get_infos: _rule(each_trace(READ), each_experiment(READ)),
    traces.set_tag: _rule(trace(EDIT)),
    traces.delete_tag: _rule(trace(EDIT)),
    traces.link_to_run: _rule(run(EDIT), each_trace(EDIT)),
    traces.link_prompts: _rule(trace(EDIT)),
    trace_metrics.query_metrics: _rule(each_experiment(READ)),  # a POST that only reads
    trace_metrics.filter_correlation: _rule(each_experiment(READ)),
    traces.delete_traces: _rule(experiment(MANAGE)),
    traces_v2.start_v2: _rule(experiment(EDIT)),
    traces_v2.end_v2: _rule(trace(EDIT, "request_id")),
    traces_v2.get_info_v2: _rule(trace(READ, "request_id")),
    traces_v2.search_v2: _rule(each_experiment(READ)),
    otlp.export_traces: _rule(otlp_experiment(EDIT), otlp_run(EDIT)),
    assessments.create: _rule(trace(EDIT)),
    assessments.get: _rule(trace(READ)),
    assessments.update: _rule(trace(EDIT)),
    assessments.delete: _rule(trace(MANAGE)),
    # Evaluation datasets: judged by the experiments they are linked to
    eval_datasets.create: _rule(named_experiments(EDIT)),
    eval_datasets.search: _rule(named_experiments(READ)),
    eval_datasets.get: _rule(dataset(READ)),
    eval_datasets.get_records: _rule(dataset(READ)),
    eval_datasets.experiment_ids: _rule(dataset(READ)),
    eval_datasets.set_tags: _rule(dataset(EDIT)),
    eval_datasets.delete_tag: _rule(dataset(EDIT)),
    eval_datasets.upsert_records: _rule(dataset(EDIT)),
    eval_datasets.delete_records: _rule(dataset(EDIT)),
    eval_datasets.remove_experiments: _rule(dataset(EDIT)),
    eval_datasets.add_experiments: _rule(dataset(EDIT), named_experiments(EDIT)),  # and those it joins
    eval_datasets.delete: _rule(dataset(MANAGE)),
    # Registered scorers: those of an experiment, seen and changed as the experiment is
    scorers.register: _rule(experiment(EDIT)),
    scorers.list_scorers: Rule(
        needs=(experiment(READ), each_experiment(READ)), filter_listed=_LISTED_SCORERS, writes=False
    ),
    scorers.list_versions: _rule(experiment(READ)),
    scorers.get: _rule(experiment(READ)),
    scorers.delete: _rule(experiment(MANAGE)),
    scorers.online_configs: AUTHENTICATED_READ,  # no scorer has any: the answer is always empty
    scorers.put_online_config: _rule(experiment(EDIT)),  # refused after its checks: no online scoring
    # Label schemas: an experiment's questions, read with READ on it; as in MLflow, made, changed and
    # deleted by its managers only. A listing makes the default question the first time: still a read.
    label_schemas.create: _rule(experiment(MANAGE)),
    label_schemas.get: _rule(label_schema(READ)),
    label_schemas.get_by_name: _rule(experiment(READ)),
    label_schemas.list_schemas: _rule(experiment(READ)),
    label_schemas.update: _rule(label_schema(MANAGE)),
    label_schemas.delete: _rule(label_schema(MANAGE)),
    # Review queues: judged by their experiment (MLflow also lets a queue's owner and users do more than
    # their level there; tracklet does not). Giving a queue another owner (`new_owner`) needs MANAGE:
    # `review_queues.update` checks it.
    review_queues.create: _rule(experiment(EDIT)),
    review_queues.get_or_create_user: _rule(experiment(EDIT)),
    review_queues.get: _rule(review_queue(READ)),
    review_queues.get_by_name: _rule(experiment(READ)),
    review_queues.list_queues: _rule(experiment(READ)),
    review_queues.update: _rule(review_queue(EDIT)),
    review_queues.delete: _rule(review_queue(MANAGE)),
    review_queues.add_items: _rule(review_queue(EDIT)),
    review_queues.remove_items: _rule(review_queue(MANAGE)),
    review_queues.list_items: _rule(review_queue(READ)),
    review_queues.set_status: _rule(review_queue(EDIT)),
    # Issues: an experiment's; a search of every experiment's keeps those the user may read.
    issues.create: _rule(experiment(EDIT)),
    issues.get: _rule(issue(READ)),
    issues.update: _rule(issue(EDIT)),
    issues.search: Rule(needs=(experiment(READ),), filter_listed=_LISTED_ISSUES, writes=False),
    # Registered models and their versions
    registered_models.create: Rule(grant_created=_CREATED_MODEL),
    registered_models.search: _listing(REGISTERED_MODEL, "registered_models", "name"),
    registered_models.get: _rule(registered_model(READ)),
    registered_models.get_latest_versions: _rule(registered_model(READ)),
    registered_models.get_by_alias: _rule(registered_model(READ)),
    registered_models.rename: _rule(registered_model(EDIT)),
    registered_models.update: _rule(registered_model(EDIT)),
    registered_models.set_tag: _rule(registered_model(EDIT)),
    registered_models.delete_tag: _rule(registered_model(EDIT)),
    registered_models.set_alias: _rule(registered_model(EDIT)),
    registered_models.delete_alias: _rule(registered_model(EDIT)),
    registered_models.delete: _rule(registered_model(MANAGE)),
    model_versions.search: _listing(REGISTERED_MODEL, "model_versions", "name"),
    model_versions.get: _rule(registered_model(READ)),
    model_versions.get_download_uri: _rule(registered_model(READ)),
    model_versions.create: _rule(registered_model(EDIT), run(READ)),  # and the run it is made from
    model_versions.update: _rule(registered_model(EDIT)),
    model_versions.set_tag: _rule(registered_model(EDIT)),
    model_versions.delete_tag: _rule(registered_model(EDIT)),
    model_versions.transition_stage: _rule(registered_model(EDIT)),
    model_versions.delete: _rule(registered_model(MANAGE)),
    # The web UI: its page for any user, its own API with the same rules as MLflow's
    ui_shell.index: AUTHENTICATED_READ,
    ui.experiments_list: _listing(EXPERIMENT, "experiments", "experiment_id"),
    ui.runs_table: _rule(each_experiment(READ)),
    ui.runs_csv: _rule(each_experiment(READ)),
    ui.runs_keys: _rule(each_experiment(READ)),
    ui.runs_bulk_get: _rule(each_run(READ)),
    ui.runs_delete: _rule(each_run(MANAGE), each_experiment(MANAGE)),
    ui.runs_restore: _rule(each_run(MANAGE), each_experiment(MANAGE)),
    ui.metric_history: _rule(each_run(READ)),
    ui.artifact_list: _rule(run(READ), logged_model(READ)),
    ui.artifact_preview: _rule(run(READ), logged_model(READ)),
    ui.trace_runs: _rule(trace(READ)),
    ui.trace_spans: _rule(trace(READ)),
    ui.webhook_events: AUTHENTICATED_READ,  # the names MLflow documents: nothing about any webhook
    # Users and permissions: who may manage users is checked by the endpoints (admins; a user itself)
    **dict.fromkeys(
        (
            users.create_user,
            users.update_password,
            users.update_admin,
            users.delete_user,
            # These name the resource type in the request, and check MANAGE on it themselves.
            users.grant_permission,
            users.revoke_permission,
            # A user's own access tokens (admins: anyone's)
            tokens.create_token,
            tokens.revoke_token,
        ),
        AUTHENTICATED,
    ),
    **dict.fromkeys(
        (
            users.get_user,
            users.get_current_user,
            users.list_users,
            users.get_permission,
            users.list_permissions,
            users.my_permission,  # the caller's own, on a resource that exists
            users.my_permissions,  # the caller's own, everywhere
            tokens.list_tokens,
        ),
        AUTHENTICATED_READ,
    ),
    # Webhooks send the registry's events anywhere their URL says, signed with secrets: for admins, as in
    # MLflow's basic-auth app (`sender_is_admin` on every webhook endpoint).
    **dict.fromkeys((webhooks.create, webhooks.update, webhooks.delete, webhooks.test), ADMIN),
    **dict.fromkeys((webhooks.list_webhooks, webhooks.get), ADMIN_READ),
    # Workspaces: any user sees them; creating, changing and deleting one is for admins, as in MLflow.
    **dict.fromkeys((workspaces.list_workspaces, workspaces.get_workspace), AUTHENTICATED_READ),
    **dict.fromkeys(workspaces.ADMIN_ENDPOINTS, ADMIN),
    **{e: _rule(experiment(MANAGE), writes=m != "GET") for e, m in users.EXPERIMENT_PERMISSIONS.values()},
    **{e: _rule(registered_model(MANAGE), writes=m != "GET") for e, m in users.REGISTERED_MODEL_PERMISSIONS.values()},
}
