"""The web UI: a single page at `/` (plain ES modules, no build step) and its JSON endpoints.

`ui_routes()` is all the app factory needs; the pages talk to MLflow's REST API where it fits and to
`/api/tracklet/…` (`tracklet.server.ui.api`) for table pages, downsampled histories and bulk reads.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tracklet.server.ui import api

__all__ = ["STATIC_DIR", "ui_routes"]

STATIC_DIR = Path(__file__).parent / "static"


async def index(request: Request) -> Response:
    # Pages are routed in the browser (`/#/experiments/1`); the shell itself never changes.
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def ui_routes() -> list[BaseRoute]:
    return [
        Route("/", index, methods=["GET"]),
        *api.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
