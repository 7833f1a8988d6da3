"""What the app keeps on `app.state`: the store, the artifact store and the uploaded spans waiting to be
copied for span filters (no module-level state)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from tracklet.artifacts.base import ArtifactStore
from tracklet.store.store import Store

if TYPE_CHECKING:
    from tracklet.server.api.trace_spans import UploadedSpans


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def artifacts_of(request: Request) -> ArtifactStore:
    return request.app.state.artifacts  # type: ignore[no-any-return]


def uploaded_spans_of(request: Request) -> UploadedSpans:
    return request.app.state.uploaded_spans  # type: ignore[no-any-return]
