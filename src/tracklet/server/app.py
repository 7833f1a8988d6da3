"""`create_app(settings)`: assembles the route modules and maps every error to MLflow's JSON in one place."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Lifespan, Message, Receive, Scope, Send

from tracklet.artifacts import artifact_store_for
from tracklet.errors import TrackletError
from tracklet.permissions import Permission
from tracklet.server import monitoring
from tracklet.server import workspaces as workspace_gate
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
from tracklet.server.api.trace_spans import SpanIndexer
from tracklet.server.auth import guard
from tracklet.server.auth.rules import ADMIN, AUTHENTICATED_READ, RULES, Fields, Rule
from tracklet.server.protocol import json_response
from tracklet.settings import Settings, admin_credentials, webhook_secret_keys
from tracklet.store.store import Store
from tracklet.store.workspaces import in_workspace
from tracklet.webhooks.delivery import Webhooks
from tracklet.webhooks.secrets import SecretBox

log = logging.getLogger("tracklet.server")


def api_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    # Fixed paths skip the router (`TrackletApp`); for the rest Starlette tries routes in this order.
    for module in (
        runs,
        points,
        meta,
        experiments,
        logged_models,
        registered_models,
        model_versions,
        artifacts,
        # After the artifact proxy: their routes have path parameters, which every artifact request
        # (not a fixed path either) would otherwise be matched against first.
        trace_metrics,
        traces,
        traces_v2,
        assessments,
        eval_datasets,
        scorers,
        label_schemas,
        review_queues,
        issues,
        otlp,
        webhooks,
        workspaces,
    ):
        routes.extend(module.routes)
    return routes


async def _tracklet_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TrackletError)
    if exc.plain_text:
        response: Response = PlainTextResponse(exc.message, status_code=exc.http_status)
    else:
        response = json_response(exc.to_json(), status_code=exc.http_status)
    response.headers.update(exc.headers)
    return response


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


async def _grouped_errors(request: Request, exc: Exception) -> Response:
    # Tasks run side by side (an anyio task group: one per run of a chart) fail together, in a group:
    # request errors are answered as the first of them; anything else in the group is unexpected.
    assert isinstance(exc, BaseExceptionGroup)
    leaves: list[BaseException] = []
    groups: list[BaseExceptionGroup[BaseException]] = [exc]
    while groups:
        for inner in groups.pop().exceptions:
            (groups if isinstance(inner, BaseExceptionGroup) else leaves).append(inner)  # type: ignore[arg-type]
    if leaves and all(isinstance(leaf, TrackletError) for leaf in leaves):
        return await _tracklet_error(request, leaves[0])  # type: ignore[arg-type]
    return await _unexpected_error(request, exc)


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
# The one place errors become HTTP answers; the most specific class that matches wins.
ERROR_HANDLERS: dict[type[Exception], ErrorHandler] = {
    TrackletError: _tracklet_error,
    ExceptionGroup: _grouped_errors,
    HTTPException: _http_error,
    Exception: _unexpected_error,
}


def _handler_for(exc: Exception) -> ErrorHandler:
    return next(ERROR_HANDLERS[cls] for cls in type(exc).__mro__ if cls in ERROR_HANDLERS)


Endpoint = Callable[[Request], Awaitable[Response]]


class TrackletApp(Starlette):
    """Starlette, with one shortcut for MLflow's API: its endpoints are fixed paths (arguments travel in
    the body or the query), so a dict lookup on (method, path) finds the endpoint of any fixed-path
    route. Starlette's router tries each route's regex in turn and its two error middlewares wrap every
    call: together 30-80 µs a request here (measured against a bare ASGI app), up to a tenth of a small
    write's time. Everything else (paths with parameters, static files, 404s, 405s, HEAD) takes
    Starlette's way, and both ways map errors through `ERROR_HANDLERS`."""

    # Without `--enable-workspaces` a request naming a workspace is refused (`WorkspaceApp` takes it).
    refuses_workspace_header = True

    def __init__(self, *, routes: list[BaseRoute], lifespan: Lifespan[Starlette]) -> None:
        super().__init__(routes=routes, lifespan=lifespan)
        self.rules = RULES
        self.fixed_endpoints: dict[tuple[str, str], Endpoint] = {
            (method, route.path): route.endpoint
            for route in routes
            if isinstance(route, Route) and not route.param_convertors and inspect.iscoroutinefunction(route.endpoint)
            for method in route.methods or ()
            if method != "HEAD"
        }

    def build_middleware_stack(self) -> ASGIApp:
        # All of ERROR_HANDLERS, unexpected errors included, answer from the inner middleware. Starlette
        # answers unexpected errors from its outer one and then re-raises them to uvicorn, which resets the
        # connection of a client that already has its 500 (and logs the error a second time).
        return ServerErrorMiddleware(ExceptionMiddleware(self.router, handlers=ERROR_HANDLERS))

    def rule_of(self, scope: Scope) -> tuple[Any, Rule, dict[str, Any]]:
        """The endpoint, rule and path parameters of the route Starlette will pick (any other path: the UI's
        files, a 404, a 405: for signed-in users, read-only access tokens included, as nothing there writes)."""
        endpoint = self.fixed_endpoints.get((scope["method"], scope["path"]))
        if endpoint:
            return endpoint, self.rules.get(endpoint, ADMIN), {}
        for route in self.router.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                if isinstance(route, Route):
                    return route.endpoint, self.rules.get(route.endpoint, ADMIN), child.get("path_params", {})
                break
        return None, AUTHENTICATED_READ, {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = scope["type"] == "http" and self.fixed_endpoints.get((scope["method"], scope["path"]))
        if self.refuses_workspace_header and scope["type"] == "http":
            try:
                workspace_gate.refuse_header(scope)
            except TrackletError as exc:
                request = Request(scope, receive, send)
                await (await _handler_for(exc)(request, exc))(scope, receive, send)
                return
        if not endpoint:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:  # noqa: BLE001 - mapped like Starlette's middlewares would
            response = await _handler_for(exc)(request, exc)
        await response(scope, receive, send)


class MonitoredApp(TrackletApp):
    """`TrackletApp` with `--expose-prometheus`: each request timed and counted around its dispatch (a
    subclass, so that without the option a request takes exactly the path above)."""

    def __init__(self, *, routes: list[BaseRoute], lifespan: Lifespan[Starlette]) -> None:
        super().__init__(routes=routes, lifespan=lifespan)
        self.request_metrics = monitoring.RequestMetrics(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        fixed = (scope["method"], scope["path"]) in self.fixed_endpoints
        await self.request_metrics.observe(scope, receive, send, super().__call__, fixed)


class AuthApp(TrackletApp):
    """`TrackletApp` with `--auth`: each request admitted by its endpoint's rule (`server/auth/rules.py`)
    before it reaches the endpoint (a subclass, so that without the option nothing is checked)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            receive = _no_body  # judged on its query, like a GET: no endpoint may read another id from a body
        endpoint = self.fixed_endpoints.get((scope["method"], scope["path"]))
        scope["app"] = self
        request = Request(scope, receive, send)
        response: Response | None = None
        try:
            if self.refuses_workspace_header:  # (it answers fixed endpoints itself, not through `TrackletApp`)
                workspace_gate.refuse_header(scope)
            _, rule, path_params = self.rule_of(scope)
            # A fixed endpoint gets this very `request`, whose body stays readable once read here. A route
            # with path parameters whose rule reads the body (`datasets/{id}/add-experiments`) gets the body
            # replayed; the others (artifact uploads: streamed) are judged without it.
            body_readable = bool(endpoint)
            if not endpoint and rule.reads_body and scope["method"] not in ("GET", "HEAD"):
                receive = _replay(await request.body(), receive)
                body_readable = True
            user = await guard.admit(request, rule, path_params, body_readable=body_readable)
            if endpoint:
                response = await guard.after(request, rule, user, await endpoint(request))
        except Exception as exc:  # noqa: BLE001 - mapped like Starlette's middlewares would
            response = await _handler_for(exc)(request, exc)
        if response is None:  # admitted to a route with path parameters, a static file, a 404: Starlette's way
            await super().__call__(scope, receive, send)
            return
        await response(scope, receive, send)


class WorkspaceApp(TrackletApp):
    """`TrackletApp` with `--enable-workspaces`: each request runs in the workspace its header names, once
    that exists and holds what the request names by id (`server/workspaces.py`)."""

    refuses_workspace_header = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive, send)
        try:
            workspace = workspace_gate.workspace_of(scope)
            if workspace is not None:
                endpoint, rule, path_params = self.rule_of(scope)
                needs = workspace_gate.needs_to_check(endpoint, rule)
                body = None
                if scope["method"] not in ("GET", "HEAD") and any(need.reads_body for need in needs):
                    raw = await request.body()
                    receive = _replay(raw, receive)  # the endpoint reads it again
                    body = workspace_gate.decoded_body(raw)
                query = request.query_params if scope["method"] in ("GET", "HEAD") else None
                await workspace_gate.admit(request, workspace, needs, Fields(path_params, query, body, request.headers))
        except Exception as exc:  # noqa: BLE001 - mapped like Starlette's middlewares would
            await (await _handler_for(exc)(request, exc))(scope, receive, send)
            return
        with in_workspace(workspace):
            await super().__call__(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` with the request's body, already read, given again first."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _app_class(settings: Settings) -> type[TrackletApp]:
    """The app with the options asked for, outermost first: timing, the workspace, then permissions."""
    layers = [
        layer
        for layer, wanted in (
            (MonitoredApp, settings.expose_prometheus),
            (WorkspaceApp, settings.enable_workspaces),
            (AuthApp, settings.auth),
        )
        if wanted
    ]
    if not layers:
        return TrackletApp
    if len(layers) == 1:
        return layers[0]
    return type("".join(layer.__name__.removesuffix("App") for layer in layers) + "App", tuple(layers), {})


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> TrackletApp:
    settings = settings or Settings.from_env()
    store = store or Store(settings.store_uri)
    artifact_store = artifact_store_for(settings.artifact_root, presigned_endpoint=settings.s3_presigned_endpoint_url)

    span_indexer = SpanIndexer(store, artifact_store)
    hooks = Webhooks(store, SecretBox(webhook_secret_keys()), settings.webhook_policy, settings.webhook_timeout)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await span_indexer.close()
        await hooks.close()
        store.close()

    routes = api_routes()
    try:
        from tracklet.server.ui import ui_routes
    except ImportError:  # the web UI is optional while it is being built
        pass
    else:
        routes.extend(ui_routes())

    if settings.expose_prometheus:
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # no server process prepared it (an app in-process)
            monitoring.prepare(settings.expose_prometheus)
        routes.append(Route(monitoring.METRICS_PATH, monitoring.metrics, methods=["GET"]))

    if settings.auth:
        routes.extend([*users.routes, *tokens.routes])
        default_permission = Permission.parse(settings.auth_default_permission, "default permission")
        store.ensure_admin(*admin_credentials())

    app = _app_class(settings)(routes=routes, lifespan=lifespan)
    if settings.auth:
        app.state.default_permission = default_permission
    app.state.settings = settings
    app.state.workspaces = workspace_gate.Remembered()
    app.state.store = store
    app.state.artifacts = artifact_store
    app.state.span_indexer = span_indexer
    app.state.webhooks = hooks
    # One process on SQLite: small reads and writes may run on the event loop (`protocol.run_read`,
    # `run_write`).
    app.state.inline_store_calls = store.db.is_sqlite and settings.workers <= 1
    return app
