"""`/api/3.0/mlflow/issues*`: MLflow 3's issues (what `mlflow.genai.discover_issues` finds in an
experiment's traces): made, read (`GET issues/{issue_id}`), updated (`PATCH issues/{issue_id}`) and
searched. Every route also answers under `/ajax-api/`, as in MLflow.

A status is `pending`, `rejected` or `resolved`; a severity `not_an_issue`, `low`, `medium` or `high`.
MLflow's server fails with a 500 on any other value, and with a raw database error on a `source_run_id`
that names no run: tracklet refuses both as invalid parameters.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.permissions import READ, Permission
from tracklet.server.api.label_schemas import experiment, required
from tracklet.server.auth.identity import USER_SCOPE_KEY
from tracklet.server.protocol import Int64, json_response, read_json, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.store import schema as s
from tracklet.store.issues import SEVERITIES, STATUSES, Issue, IssueChanges
from tracklet.store.store import Store
from tracklet.store.users import User
from tracklet.validation import MAX_SEARCH_RESULTS, check_length

NAME_MAX_LENGTH = 250
CREATED_BY_MAX_LENGTH = 255
DEFAULT_PAGE = 100


class CreateIssue(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    description: str | None = None
    status: str | None = None
    severity: str | None = None
    root_causes: list[str] = []
    source_run_id: str | None = None
    created_by: str | None = None
    categories: list[str] = []


class UpdateIssue(msgspec.Struct):
    issue_id: str | None = None  # asked for, as MLflow does; the path's is the one updated
    name: str | None = None
    description: str | None = None
    status: str | None = None
    severity: str | None = None


class SearchIssues(msgspec.Struct):
    experiment_id: str | None = None
    filter_string: str | None = None
    max_results: Int64 | None = None
    page_token: str | None = None
    include_trace_count: bool = False


def _one_of(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InvalidParameterValue(f"Invalid {field} '{value}'. It must be one of: {', '.join(allowed)}.")
    return value


def _name(name: str | None) -> str | None:
    check_length(name, NAME_MAX_LENGTH, "name")
    return name


def issue_json(issue: Issue) -> dict[str, Any]:
    """MLflow's `Issue` message (what is unset or empty left out)."""
    out: dict[str, Any] = {
        "issue_id": issue.issue_id,
        "experiment_id": str(issue.experiment_id),
        "name": issue.name,
        "description": issue.description,
        "status": issue.status,
    }
    if issue.severity:
        out["severity"] = issue.severity
    if issue.root_causes:
        out["root_causes"] = issue.root_causes
    if issue.source_run_id:
        out["source_run_id"] = issue.source_run_id
    out["created_timestamp"] = issue.created_timestamp
    out["last_updated_timestamp"] = issue.last_updated_timestamp
    if issue.created_by:
        out["created_by"] = issue.created_by
    if issue.categories:
        out["categories"] = issue.categories
    if issue.trace_count is not None:
        out["trace_count"] = issue.trace_count
    return out


def _runs_hidden_from(store: Store, user: User, default: Permission, issues: list[Issue]) -> list[Issue]:
    """The issues as `user` may see them: the run an issue came from left out where the user may not read
    that run's experiment (it may be another than the issue's), as MLflow's auth app withholds it."""
    run_ids = {i.source_run_id for i in issues if i.source_run_id}
    if not run_ids:
        return issues
    with store.access() as access:
        experiments = access.experiments_of(s.runs, "run_uuid", run_ids)
    grants = store.experiment_grants(user.user_id, experiments.values())
    hidden = {run for run, e in experiments.items() if grants.get(e, default) < READ}
    return [msgspec.structs.replace(i, source_run_id=None) if i.source_run_id in hidden else i for i in issues]


async def _as_seen(request: Request, issues: list[Issue]) -> list[Issue]:
    user: User | None = request.scope.get(USER_SCOPE_KEY)
    if user is None or user.is_admin:
        return issues
    found: list[Issue] = await run_sync(
        _runs_hidden_from, store_of(request), user, request.app.state.default_permission, issues
    )
    return found


async def create(request: Request) -> Response:
    body = await read_json(request, CreateIssue)
    name = _name(required(body.name, "name"))
    description = required(body.description, "description")
    experiment_id = experiment(body.experiment_id)
    status = _one_of(body.status or None, STATUSES, "status") or "pending"
    check_length(body.created_by, CREATED_BY_MAX_LENGTH, "created_by")
    made = await run_sync(
        store_of(request).create_issue,
        experiment_id,
        name,
        description,
        status,
        _one_of(body.severity or None, SEVERITIES, "severity"),
        body.root_causes,
        body.source_run_id or None,
        body.categories,
        body.created_by or None,
    )
    return json_response({"issue": issue_json(made)})


async def get(request: Request) -> Response:
    found = await run_read(request, store_of(request).get_issue, request.path_params["issue_id"])
    (seen,) = await _as_seen(request, [found])
    return json_response({"issue": issue_json(seen)})


async def update(request: Request) -> Response:
    body = await read_json(request, UpdateIssue)
    required(body.issue_id, "issue_id")
    changes = IssueChanges(
        name=_name(body.name or None),
        description=body.description or None,
        status=_one_of(body.status or None, STATUSES, "status"),
        severity=_one_of(body.severity or None, SEVERITIES, "severity"),
    )
    updated = await run_sync(store_of(request).update_issue, request.path_params["issue_id"], changes)
    (seen,) = await _as_seen(request, [updated])
    return json_response({"issue": issue_json(seen)})


async def search(request: Request) -> Response:
    body = await read_json(request, SearchIssues)
    experiment_id = experiment(body.experiment_id) if body.experiment_id else None
    size = DEFAULT_PAGE if body.max_results is None else body.max_results
    if size < 1:
        raise InvalidParameterValue(
            f"Invalid value {size} for parameter 'max_results' supplied. It must be a positive integer"
        )
    if size > MAX_SEARCH_RESULTS:
        raise InvalidParameterValue(
            f"Invalid value {size} for parameter 'max_results' supplied. It must be at most {MAX_SEARCH_RESULTS}"
        )
    found, token = await run_sync(
        store_of(request).search_issues,
        experiment_id,
        body.filter_string or None,
        size,
        body.page_token or None,
        body.include_trace_count,
    )
    seen = await _as_seen(request, found)
    return json_response({"issues": [issue_json(i) for i in seen], "next_page_token": token or ""})


routes = [
    route
    for prefix in ("/api", "/ajax-api")
    for route in (
        Route(f"{prefix}/3.0/mlflow/issues", create, methods=["POST"]),
        Route(f"{prefix}/3.0/mlflow/issues/search", search, methods=["POST"]),
        Route(f"{prefix}/3.0/mlflow/issues/{{issue_id}}", get, methods=["GET"]),
        Route(f"{prefix}/3.0/mlflow/issues/{{issue_id}}", update, methods=["PATCH"]),
    )
]
