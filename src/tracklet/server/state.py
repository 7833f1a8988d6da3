"""What the app keeps on `app.state`: the store, the artifact store, what makes spans searchable after the
answer and what delivers webhook events (no module-level state)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from tracklet.artifacts.base import ArtifactStore
from tracklet.store.store import Store

if TYPE_CHECKING:
    from tracklet.server.api.trace_spans import SpanIndexer
    from tracklet.webhooks.delivery import Webhooks


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def artifacts_of(request: Request) -> ArtifactStore:
    return request.app.state.artifacts  # type: ignore[no-any-return]


def span_indexer_of(request: Request) -> SpanIndexer:
    return request.app.state.span_indexer  # type: ignore[no-any-return]


def webhooks_of(request: Request) -> Webhooks:
    return request.app.state.webhooks  # type: ignore[no-any-return]
