"""An httpx transport that serves requests from an ASGI app in this process: the local store's transport.

Synchronous callers (the training thread, the client's sender thread) hand each request to the app,
which runs on a private event loop in a background thread (an anyio blocking portal). The app's
lifespan starts with the transport and ends when it is closed. Request and response bodies are
buffered: artifacts logged locally pass through memory once, as they would through any HTTP client.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio.from_thread
import httpx
from starlette.applications import Starlette


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: Starlette) -> None:
        self._portal_context = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._lifespan: AbstractAsyncContextManager[Any] = app.router.lifespan_context(app)
        self._portal.call(self._lifespan.__aenter__)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def send() -> tuple[int, httpx.Headers, bytes]:
            # ASGITransport reads the body as an async stream: hand it a request whose content is bytes.
            inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            response = await self._asgi.handle_async_request(inner)
            return response.status_code, response.headers, await response.aread()

        status, headers, content = self._portal.call(send)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        try:
            self._portal.call(self._lifespan.__aexit__, None, None, None)
        finally:
            self._portal_context.__exit__(None, None, None)
