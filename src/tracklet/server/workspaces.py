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

import time
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
from tracklet.store.users import Access
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

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NOT_FOUND = {
    "experiment": "No Experiment with id={} exists",
    "run": "Run with id={} not found",
    "trace": "Trace with ID '{}' not found.",
    "logged model": "Logged model with ID '{}' not found.",
    "label schema": "Label schema with id '{}' not found.",
    "review queue": "Review queue with id '{}' not found.",
    "issue": "Issue with ID '{}' not found",
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


class Remembered:
    """What a server process knows of workspaces for a second (`app.state.workspaces`): which exist, and
    the workspace of each experiment a request named. A request then costs no read for them (a training
    loop names the same run again and again: ~0.06 ms a request on SQLite). A workspace deleted or an
    experiment moved (`SET_DEFAULT`) through another worker may so be reached there for up to a second;
    this process forgets at once."""

    TTL = 1.0
    MAX = 100_000

    def __init__(self) -> None:
        self._workspaces: dict[str, float] = {}
        self._experiments: dict[int, tuple[str, float]] = {}

    def workspace_exists(self, name: str, access: Access) -> bool:
        now = time.monotonic()
        if self._workspaces.get(name, 0.0) > now:
            return True
        if not access.workspace_exists(name):
            return False
        self._workspaces[name] = now + self.TTL
        return True

    def outside(self, workspace: str, experiment_ids: list[int], access: Access) -> list[int]:
        """Those of these experiments that exist in another workspace."""
        now = time.monotonic()
        known = {i: self._experiments.get(i, ("", 0.0)) for i in experiment_ids}
        unknown = [i for i, (_, until) in known.items() if until <= now]
        if unknown:
            found = access.workspaces_of_experiments(unknown)
            if len(self._experiments) + len(found) > self.MAX:
                self._experiments.clear()
            self._experiments.update({i: (w, now + self.TTL) for i, w in found.items()})
            known.update({i: (found.get(i, workspace), now) for i in unknown})  # unknown ids: the endpoint says 404
        return [i for i, (w, _) in known.items() if w != workspace]

    def forget(self) -> None:
        """After a workspace is created, changed or deleted here."""
        self._workspaces.clear()
        self._experiments.clear()


async def admit(request: Request, workspace: str, needs: list[Need], fields: Fields) -> None:
    """Raise RESOURCE_DOES_NOT_EXIST if the workspace does not exist, or the request names something of
    another workspace."""
    remembered: Remembered = request.app.state.workspaces
    await run_read(request, _check, store_of(request), remembered, workspace, needs, fields)


def _check(store: Store, remembered: Remembered, workspace: str, needs: list[Need], fields: Fields) -> None:
    with in_workspace(workspace), store.access() as access:  # one connection, if any read is needed
        if not remembered.workspace_exists(workspace, access):
            raise ResourceDoesNotExist(f"Workspace '{workspace}' not found")
        for need in needs:
            named = need.named(fields) if need.named else []
            if need.what == "dataset":
                if access.outside_workspace(workspace, "evaluation_datasets", "dataset_id", named):
                    raise ResourceDoesNotExist(f"Evaluation dataset with id '{named[0]}' not found")
                continue
            # (an id no database column holds is left to the endpoint, which says what is wrong with it)
            located = [i for i in need.locate(fields, access) if _INT64_MIN <= i <= _INT64_MAX]
            outside = remembered.outside(workspace, located, access)
            if outside:
                shown = named[0] if named else outside[0]
                raise ResourceDoesNotExist(_NOT_FOUND[need.what].format(shown))


def decoded_body(body: bytes) -> dict[str, Any]:
    try:
        decoded = msgspec.json.decode(body) if body else {}
    except msgspec.DecodeError:  # the endpoint refuses it
        return {}
    return decoded if isinstance(decoded, dict) else {}
