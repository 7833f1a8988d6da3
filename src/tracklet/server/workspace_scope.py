"""What a request of a workspace may reach (`--enable-workspaces`; see `server/workspaces.py`): the
experiments of a search, the paths of proxied artifacts. Without workspaces both pass unchanged."""

from __future__ import annotations

from starlette.requests import Request

from tracklet.errors import InvalidParameterValue
from tracklet.server.protocol import run_read
from tracklet.server.state import store_of
from tracklet.store.workspaces import DEFAULT_WORKSPACE, WORKSPACES_FOLDER, current_workspace


async def within_workspace(request: Request, experiment_ids: list[int]) -> list[int]:
    """These experiment ids less those of other workspaces (all of them without workspaces)."""
    workspace = current_workspace()
    if workspace is None or not experiment_ids:
        return experiment_ids
    return await run_read(request, store_of(request).experiments_within, workspace, experiment_ids)  # type: ignore[no-any-return]


def artifact_path(path: str) -> str:
    """A proxied artifact path as the request's workspace keeps it (MLflow's rule): `workspaces/<it>/…`
    outside `default`, whose older artifacts stay at the root; a path into another workspace is refused."""
    workspace = current_workspace()
    if workspace is None:
        return path
    if not path:
        return path if workspace == DEFAULT_WORKSPACE else f"{WORKSPACES_FOLDER}/{workspace}"
    if workspace == DEFAULT_WORKSPACE and not path.startswith(f"{WORKSPACES_FOLDER}/"):
        return path
    parts = path.split("/", 2)
    if parts[0] == WORKSPACES_FOLDER:
        if len(parts) == 1 or not parts[1]:
            raise InvalidParameterValue("Artifact paths prefixed with 'workspaces/' must include a workspace name.")
        if parts[1] != workspace:
            raise InvalidParameterValue(
                f"Artifact path targets workspace '{parts[1]}' but the workspace specified in the request is "
                f"'{workspace}'."
            )
        return path
    return f"{WORKSPACES_FOLDER}/{workspace}/{path}"
