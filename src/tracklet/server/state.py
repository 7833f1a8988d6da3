"""What the app keeps on `app.state`: the store and the artifact store (no module-level state)."""

from __future__ import annotations

from starlette.requests import Request

from tracklet.artifacts.base import ArtifactStore
from tracklet.store.store import Store


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def artifacts_of(request: Request) -> ArtifactStore:
    return request.app.state.artifacts  # type: ignore[no-any-return]
