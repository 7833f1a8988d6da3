"""Prometheus metrics of the server's requests (`--expose-prometheus DIR`), served at `/metrics`.

Every request is counted and timed by method, endpoint and status. The endpoint is the route's path
(`/api/2.0/mlflow/runs/log-metric`, `/api/2.0/mlflow-artifacts/artifacts/{path:path}`), never the
request's own path, so a label never names a run or a file; requests that match no route count as
`other`. Workers are separate processes, so the metrics use prometheus_client's multiprocess mode:
each process writes its values to files in DIR, and `/metrics` adds them up, whichever worker answers.
prometheus_client learns that folder from PROMETHEUS_MULTIPROC_DIR, which `prepare` sets before any
worker starts (and before prometheus_client is imported: it reads the variable then).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from tracklet.errors import InvalidParameterValue

METRICS_PATH = "/metrics"
OTHER = "other"
# From a quarter of a millisecond (a small write) to ten seconds (a large artifact).
_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def prepare(folder: str) -> None:
    """Make `folder` the metrics' folder of this server, emptied of a previous run's values; called once,
    before the workers start (or by `create_app` when no server process did)."""
    if importlib.util.find_spec("prometheus_client") is None:  # not imported: it must read the folder first
        raise InvalidParameterValue("--expose-prometheus needs prometheus_client: pip install 'tracklet[prometheus]'")
    path = Path(folder)
    if path.exists():
        for stale in path.glob("*.db"):  # values of a previous server: they would be added to ours
            stale.unlink()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path.resolve())


class RequestMetrics:
    """Counts and times requests; `observe` wraps an ASGI call."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        from prometheus_client import Counter, Histogram

        self.requests = Counter(
            "tracklet_http_requests", "HTTP requests answered", ["method", "endpoint", "status"], registry=None
        )
        self.duration = Histogram(
            "tracklet_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            ["method", "endpoint"],
            buckets=_BUCKETS,
            registry=None,
        )
        # The labelled series, found once each (`labels()` takes a lock and checks its arguments every time).
        self.series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # Routes with path parameters are known by their endpoint once the router has matched them.
        self.paths: dict[Any, str] = {}
        for route in routes:
            if isinstance(route, Route):
                self.paths.setdefault(route.endpoint, route.path)

    async def observe(self, scope: Scope, receive: Receive, send: Send, app: Any, fixed: bool) -> None:
        status = 500  # unless an answer starts
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_and_note)
        finally:
            endpoint = scope["path"] if fixed else self.paths.get(scope.get("endpoint"), OTHER)
            key = (scope["method"], endpoint, status)
            series = self.series.get(key)
            if series is None:
                method = scope["method"]
                series = self.series[key] = (
                    self.duration.labels(method, endpoint),
                    self.requests.labels(method, endpoint, str(status)),
                )
            series[0].observe(time.perf_counter() - started)
            series[1].inc()


async def metrics(request: Request) -> Response:
    """The metrics of every worker, in Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
