"""The in-process transport of the local store: an ASGI app served to synchronous callers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tracklet.client.in_process import InProcessTransport


def _app(events: list[str]) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse({"method": request.method, "size": len(body), "q": request.query_params.get("q")})

    async def boom(request: Request) -> Response:
        raise RuntimeError("the app failed")

    return Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"]), Route("/boom", boom)], lifespan=lifespan)


def test_requests_reach_the_app_and_its_lifespan_spans_the_transport() -> None:
    events: list[str] = []
    client = httpx.Client(transport=InProcessTransport(_app(events)), base_url="http://local")
    assert events == ["startup"]
    assert client.get("/echo", params={"q": "x"}).json() == {"method": "GET", "size": 0, "q": "x"}
    big = b"\0" * (3 << 20)
    assert client.post("/echo", content=iter([big[: 1 << 20], big[1 << 20 :]])).json()["size"] == len(big)
    client.close()
    assert events == ["startup", "shutdown"]


def test_an_app_failure_is_a_500_response_not_an_exception() -> None:
    with httpx.Client(transport=InProcessTransport(_app([])), base_url="http://local") as client:
        assert client.get("/boom").status_code == 500


def test_threads_share_one_transport() -> None:
    with httpx.Client(transport=InProcessTransport(_app([])), base_url="http://local") as client:
        with ThreadPoolExecutor(8) as pool:
            sizes = list(pool.map(lambda n: client.post("/echo", content=b"x" * n).json()["size"], range(200)))
    assert sizes == list(range(200))


def test_local_mode_does_not_use_starlettes_deprecated_test_client(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = (
        "import sys, tracklet\n"
        f"tracklet.set_tracking_uri({str(tmp_path)!r})\n"
        "with tracklet.start_run():\n"
        "    tracklet.log_metric('m', 1.0)\n"
        "print('starlette.testclient' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
