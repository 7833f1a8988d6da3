"""MLflow 3's workspace API (`/api/3.0/mlflow/workspaces*`), answered with `--enable-workspaces`.

Without the option every endpoint answers 503 in MLflow's words (a plain-text body, as its server's).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlparse

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.entities import TraceArchivalConfig, Workspace
from tracklet.errors import InvalidParameterValue, WorkspacesDisabled
from tracklet.server.protocol import json_response, read_json, run_sync
from tracklet.server.state import store_of
from tracklet.store.workspaces import DEFAULT_WORKSPACE, DeletionMode, validate_workspace_name
from tracklet.validation import missing

_RETENTION = re.compile(r"^[1-9][0-9]*[mhd]$")
_MAX_RETENTION_LENGTH = 32
_URI_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+:")  # two letters or more: `C:` is a drive


class ArchivalFields(msgspec.Struct):
    location: str | None = None
    retention: str | None = None


class WorkspaceFields(msgspec.Struct):
    name: str | None = None
    description: str | None = None
    default_artifact_root: str | None = None
    trace_archival_config: ArchivalFields | None = None


def _enabled(request: Request, flask_rule: str) -> None:
    if not request.app.state.settings.enable_workspaces:
        prefix = "/ajax-api" if request.url.path.startswith("/ajax-api/") else "/api"
        raise WorkspacesDisabled(
            f"Endpoint: {prefix}/3.0/mlflow/workspaces{flask_rule} disabled because the server is running without "
            "workspaces support. To enable workspace, run `mlflow server` with `--enable-workspaces`"
        )


def _path_name(request: Request) -> str:
    name: str = request.path_params["workspace_name"]
    if name != DEFAULT_WORKSPACE:
        validate_workspace_name(name)
    return name


def _artifact_root(value: str | None) -> str | None:
    """MLflow's checks: a URI (or an absolute path) without fragment or params; blank clears it."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.fragment or parsed.params:
        raise InvalidParameterValue("'default_artifact_root' URL can't include fragments or params.")
    if not _URI_SCHEME.match(value) and not os.path.isabs(value):
        raise InvalidParameterValue(
            "Invalid value for 'default_artifact_root'. Expected a URI (for example 's3://bucket/prefix' or "
            f"'mlflow-artifacts:/prefix') or an absolute path, got '{value}'."
        )
    return value


def _retention(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value and (len(value) > _MAX_RETENTION_LENGTH or not _RETENTION.fullmatch(value)):
        raise InvalidParameterValue(
            "Invalid value for 'trace_archival_config.retention'. Expected a duration in the form `<int><unit>`, "
            "where unit is one of 'm', 'h', or 'd' (for example '30d' or '12h')."
        )
    return value


def _location(value: str | None) -> str | None:
    return None if value is None else value.strip()


async def list_workspaces(request: Request) -> Response:
    _enabled(request, "")
    found = await run_sync(store_of(request).list_workspaces)
    return json_response({"workspaces": found})


async def create_workspace(request: Request) -> Response:
    _enabled(request, "")
    body = await read_json(request, WorkspaceFields)
    if body.name is None:
        raise missing("name")
    if body.name == DEFAULT_WORKSPACE:
        raise InvalidParameterValue(f"The '{DEFAULT_WORKSPACE}' workspace is reserved and cannot be created")
    validate_workspace_name(body.name)
    archival = body.trace_archival_config or ArchivalFields()
    workspace = Workspace(
        name=body.name,
        description=body.description,
        default_artifact_root=_artifact_root(body.default_artifact_root),
        trace_archival_config=TraceArchivalConfig(
            location=_location(archival.location), retention=_retention(archival.retention)
        ),
    )
    created = await run_sync(store_of(request).create_workspace, workspace)
    request.app.state.workspaces.forget()
    return json_response({"workspace": created}, status_code=201)


async def get_workspace(request: Request) -> Response:
    _enabled(request, "/<workspace_name>")
    found = await run_sync(store_of(request).get_workspace, _path_name(request))
    return json_response({"workspace": found})


async def update_workspace(request: Request) -> Response:
    _enabled(request, "/<workspace_name>")
    name = _path_name(request)
    body = await read_json(request, WorkspaceFields)
    archival = body.trace_archival_config or ArchivalFields()
    changes = {
        "description": body.description,
        "default_artifact_root": _artifact_root(body.default_artifact_root),
        "trace_archival_location": _location(archival.location),
        "trace_archival_retention": _retention(archival.retention),
    }
    if all(value is None for value in changes.values()):
        raise InvalidParameterValue("Workspace update must have at least one key")
    updated = await run_sync(store_of(request).update_workspace, name, changes)
    request.app.state.workspaces.forget()
    return json_response({"workspace": updated})


async def delete_workspace(request: Request) -> Response:
    _enabled(request, "/<workspace_name>")
    name: str = request.path_params["workspace_name"]
    if name == DEFAULT_WORKSPACE:
        raise InvalidParameterValue(f"The '{DEFAULT_WORKSPACE}' workspace is reserved and cannot be deleted")
    validate_workspace_name(name)
    raw_mode = request.query_params.get("mode", DeletionMode.RESTRICT.value)
    try:
        mode = DeletionMode(raw_mode)
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid deletion mode '{raw_mode}'. Must be one of: {', '.join(m.value for m in DeletionMode)}"
        ) from None
    try:
        await run_sync(store_of(request).delete_workspace, name, mode)
    finally:
        request.app.state.workspaces.forget()
    return Response(status_code=204)


routes = [
    route
    for prefix in ("/api", "/ajax-api")
    for route in (
        Route(f"{prefix}/3.0/mlflow/workspaces", list_workspaces, methods=["GET"]),
        Route(f"{prefix}/3.0/mlflow/workspaces", create_workspace, methods=["POST"]),
        Route(f"{prefix}/3.0/mlflow/workspaces/{{workspace_name}}", get_workspace, methods=["GET"]),
        Route(f"{prefix}/3.0/mlflow/workspaces/{{workspace_name}}", update_workspace, methods=["PATCH"]),
        Route(f"{prefix}/3.0/mlflow/workspaces/{{workspace_name}}", delete_workspace, methods=["DELETE"]),
    )
]
# For admins only with `--auth`, as in MLflow's basic-auth app (`sender_is_admin`).
ADMIN_ENDPOINTS = (create_workspace, update_workspace, delete_workspace)
