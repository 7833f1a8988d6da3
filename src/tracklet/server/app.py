"""`create_app(settings)`: assembles the route modules and maps every error to MLflow's JSON in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from tracklet.artifacts import artifact_store_for
from tracklet.errors import TrackletError
from tracklet.server.api import (
    artifacts,
    experiments,
    logged_models,
    meta,
    model_versions,
    points,
    registered_models,
    runs,
)
from tracklet.server.protocol import json_response
from tracklet.settings import Settings
from tracklet.store.store import Store

log = logging.getLogger("tracklet.server")


def api_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    # Starlette tries routes in order: the hot paths of logging (runs, points) first.
    for module in (runs, points, meta, experiments, logged_models, registered_models, model_versions, artifacts):
        routes.extend(module.routes)
    return routes


async def _tracklet_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TrackletError)
    return json_response(exc.to_json(), status_code=exc.http_status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and request.url.path.startswith(("/api/", "/ajax-api/")):
        # The MLflow client recognises ENDPOINT_NOT_FOUND (its v3 → v2 fallbacks depend on it).
        return json_response(
            {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API endpoint at {request.url.path}"}, 404
        )
    if exc.status_code == 405:
        return HTMLResponse("<h1>405 Method Not Allowed</h1>", status_code=405)
    return HTMLResponse(f"<h1>{exc.status_code} {exc.detail}</h1>", status_code=exc.status_code)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("Unexpected error on %s %s", request.method, request.url.path)
    # The detail (which may hold SQL and values) goes to the server log, not to the client.
    message = f"Internal error ({type(exc).__name__}); the server log has the details."
    return json_response({"error_code": "INTERNAL_ERROR", "message": message}, 500)


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    store = store or Store(settings.store_uri)
    artifact_store = artifact_store_for(settings.artifact_root)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    routes = api_routes()
    try:
        from tracklet.server.ui import ui_routes
    except ImportError:  # the web UI is optional while it is being built
        pass
    else:
        routes.extend(ui_routes())

    app = Starlette(
        routes=routes,
        exception_handlers={
            TrackletError: _tracklet_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.artifacts = artifact_store
    # One process on SQLite: small writes may run on the event loop (`protocol.run_write`).
    app.state.inline_writes = store.db.is_sqlite and settings.workers <= 1
    return app
