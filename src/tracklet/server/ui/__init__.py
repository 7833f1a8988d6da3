"""The web UI: a single page at `/` (plain ES modules, no build step) and its JSON endpoints.

`ui_routes()` is all the app factory needs; the pages talk to MLflow's REST API where it fits and to
`/api/tracklet/…` (`tracklet.server.ui.api`) for table pages, downsampled histories and bulk reads.
"""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tracklet.server.ui import api

__all__ = ["STATIC_DIR", "ui_routes"]

STATIC_DIR = Path(__file__).parent / "static"


@functools.cache
def _shell() -> str:
    """index.html with a `modulepreload` link per module: the browser fetches every module at once
    instead of discovering them import by import (app.js → runs.js → api.js …, a round trip each)."""
    html = (STATIC_DIR / "index.html").read_text()
    links = "".join(
        f'  <link rel="modulepreload" href="/static/js/{m.name}">\n' for m in sorted((STATIC_DIR / "js").glob("*.js"))
    )
    return html.replace('  <script type="module"', links + '  <script type="module"', 1)


async def index(request: Request) -> Response:
    # Pages are routed in the browser (`/#/experiments/1`); the shell itself never changes.
    return HTMLResponse(_shell(), headers={"Cache-Control": "no-cache"})


def ui_routes() -> list[BaseRoute]:
    _shell()  # written once, when the server starts
    return [
        Route("/", index, methods=["GET"]),
        *api.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
