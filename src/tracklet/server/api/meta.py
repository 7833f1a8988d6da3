"""Probes: `/health`, `/version`, `/api/3.0/mlflow/server-info`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tracklet._version import __version__
from tracklet.server.protocol import json_response
from tracklet.server.state import artifacts_of


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def version(request: Request) -> Response:
    # Tracklet's own version (< 3.4): the MLflow client then never tries OTLP span export.
    return PlainTextResponse(__version__)


async def server_info(request: Request) -> Response:
    # MLflow's client (with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD / _DOWNLOAD unset) moves artifacts' bytes
    # itself when told so: only when the operator says clients reach the object store (`--s3-direct-transfers`).
    direct = request.app.state.settings.s3_direct_transfers and artifacts_of(request).presigns
    return json_response(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": request.app.state.settings.enable_workspaces,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": direct,
            "multipart_downloads_enabled": direct,
        }
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/version", version, methods=["GET"]),
    Route("/api/3.0/mlflow/server-info", server_info, methods=["GET"]),
]
