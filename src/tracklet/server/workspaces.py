"""The workspace of each request (`--enable-workspaces`): read from the `X-MLflow-Workspace` header,
checked, and kept to for the whole request.

- No header: `default`. A name breaking MLflow's rules: INVALID_PARAMETER_VALUE; one that does not exist:
  RESOURCE_DOES_NOT_EXIST (`server-info` answers whatever the header says, as MLflow's).
- What the store finds by name or lists (experiments, registered models, datasets, webhooks) is scoped
  there (`store/workspaces.py`). What a request names by id (an experiment, or the run, trace, logged
  model or dataset of one) is located by the endpoint's `--auth` rule (`server/auth/rules.py`), which
  already knows where every endpoint reads its ids; one found in another workspace is answered as if it
  did not exist, in the store's own words. Searches over experiment ids drop those of other workspaces
  instead (`workspace_scope.within_workspace`), as MLflow's do.
- Proxied artifacts of a workspace other than `default` live under `workspaces/<name>/`
  (`workspace_scope.artifact_path`).

Without the option a request carrying the header is refused (FEATURE_DISABLED), as MLflow's server does.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import msgspec
from starlette.requests import Request

from tracklet.errors import FeatureDisabled, ResourceDoesNotExist
from tracklet.permissions import EXPERIMENT
from tracklet.server.api import artifacts, eval_datasets, logged_models, runs, traces, traces_v2
from tracklet.server.auth.rules import Fields, Need, Rule
from tracklet.server.protocol import run_read
from tracklet.server.state import store_of
from tracklet.store.store import Store
from tracklet.store.workspaces import (
    DEFAULT_WORKSPACE,
    in_workspace,
    validate_workspace_name,
)

HEADER = b"x-mlflow-workspace"
_SERVER_INFO = "/mlflow/server-info"

# Their paths are scoped (`workspace_scope.artifact_path`), not the experiments in them: a workspace may write
# `workspaces/<it>/<any id>/…`, as in MLflow.
_PATH_SCOPED = frozenset(
    {
        artifacts.list_files,
        artifacts.download,
        artifacts.upload,
        artifacts.delete,
        artifacts.create_multipart_upload,
        artifacts.complete_multipart_upload,
        artifacts.abort_multipart_upload,
        artifacts.presigned_download,
    }
)
# Searches keep to the workspace's experiments themselves (`workspace_scope.within_workspace`).
_SEARCHES = frozenset({runs.search, logged_models.search, traces.search, traces_v2.search_v2, eval_datasets.search})

_NOT_FOUND = {
    "experiment": "No Experiment with id={} exists",
    "run": "Run with id={} not found",
    "trace": "Trace with ID '{}' not found.",
    "logged model": "Logged model with ID '{}' not found.",
}


def requested_workspace(scope: MutableMapping[str, Any]) -> str | None:
    """The header's workspace (None: no header, or a blank one)."""
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("latin-1").strip() or None
    return None


def refuse_header(scope: MutableMapping[str, Any]) -> None:
    """Without `--enable-workspaces`: a request naming a workspace is refused, as by MLflow's server."""
    if requested_workspace(scope) and not scope["path"].rstrip("/").endswith(_SERVER_INFO):
        raise FeatureDisabled("Workspace APIs are not available: workspaces are not enabled on this server")


def workspace_of(scope: MutableMapping[str, Any]) -> str | None:
    """The request's workspace, checked against MLflow's naming rules (None for `server-info`, which must
    answer whatever the header says)."""
    if scope["path"].rstrip("/").endswith(_SERVER_INFO):
        return None
    name = requested_workspace(scope) or DEFAULT_WORKSPACE
    if name != DEFAULT_WORKSPACE:
        validate_workspace_name(name)
    return name


def needs_to_check(endpoint: Any, rule: Rule) -> list[Need]:
    """The needs whose experiments must be the request's workspace's."""
    if endpoint in _PATH_SCOPED or endpoint in _SEARCHES:
        return []
    return [
        need
        for need in rule.needs
        if need.resource_type == EXPERIMENT and (need.what in _NOT_FOUND or need.what == "dataset")
    ]


async def admit(request: Request, workspace: str, needs: list[Need], fields: Fields) -> None:
    """Raise RESOURCE_DOES_NOT_EXIST if the workspace does not exist, or the request names something of
    another workspace."""
    await run_read(request, _check, store_of(request), workspace, needs, fields)


def _check(store: Store, workspace: str, needs: list[Need], fields: Fields) -> None:
    with in_workspace(workspace), store.access() as access:  # all on one connection
        if not access.workspace_exists(workspace):
            raise ResourceDoesNotExist(f"Workspace '{workspace}' not found")
        for need in needs:
            named = need.named(fields) if need.named else []
            if need.what == "dataset":
                if access.outside_workspace(workspace, "evaluation_datasets", "dataset_id", named):
                    raise ResourceDoesNotExist(f"Evaluation dataset with id '{named[0]}' not found")
                continue
            outside = access.outside_workspace(workspace, "experiments", "experiment_id", need.locate(fields, access))
            if outside:
                shown = named[0] if named else outside[0]
                raise ResourceDoesNotExist(_NOT_FOUND[need.what].format(shown))


def decoded_body(body: bytes) -> dict[str, Any]:
    try:
        decoded = msgspec.json.decode(body) if body else {}
    except msgspec.DecodeError:  # the endpoint refuses it
        return {}
    return decoded if isinstance(decoded, dict) else {}
