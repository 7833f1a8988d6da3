"""Probes: `/health`, `/version`, `/api/3.0/mlflow/server-info`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tracklet._version import __version__
from tracklet.server.protocol import json_response


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def version(request: Request) -> Response:
    # Tracklet's own version (< 3.4): the MLflow client then never tries OTLP span export.
    return PlainTextResponse(__version__)


async def server_info(request: Request) -> Response:
    return json_response(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
        }
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/version", version, methods=["GET"]),
    Route("/api/3.0/mlflow/server-info", server_info, methods=["GET"]),
]
