"""The local-store code path (`create_app(settings)` called in-process), checked with a stand-in app.

A tiny Starlette app that forwards every request to the test server plays `create_app`'s part: the
client's local mode (settings from the URI, uploads and downloads through the in-process transport)
is then exercised for real; the real app's local mode is covered by test_fluent and test_example.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tracklet
from tracklet.client.transport import Transport


@pytest.fixture
def forwarding_create_app(server_url: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen_settings: list[Any] = []

    def create_app(settings: Any) -> Starlette:
        seen_settings.append(settings)
        upstream = httpx.AsyncClient(base_url=server_url, timeout=60)

        async def forward(request: Request) -> Response:
            body = await request.body()
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
            r = await upstream.request(
                request.method, request.url.path, params=request.query_params, content=body, headers=headers
            )
            keep = {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "content-disposition")}
            return Response(r.content, status_code=r.status_code, headers=keep)

        return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])

    module = types.ModuleType("tracklet.server.app")
    module.create_app = create_app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tracklet.server.app", module)
    return seen_settings


def test_local_uris_become_settings_of_the_embedded_app(forwarding_create_app: list[Any], tmp_path: Path) -> None:
    Transport.for_uri(str(tmp_path / "store")).close()
    Transport.for_uri(f"sqlite:///{tmp_path}/x/t.db").close()
    folder, sqlite = forwarding_create_app
    assert Path(folder.data_dir) == tmp_path / "store"
    assert folder.store_uri == "sqlite:///" + str(tmp_path / "store" / "tracklet.db")
    assert folder.artifact_root == str(tmp_path / "store" / "artifacts")
    assert sqlite.backend_store_uri == f"sqlite:///{tmp_path}/x/t.db"
    assert sqlite.artifact_root == str(tmp_path / "x" / "artifacts")


def test_workflow_through_the_in_process_app(forwarding_create_app: list[Any], tmp_path: Path) -> None:
    tracklet.set_tracking_uri(tmp_path / "store")
    tracklet.set_experiment("local-path")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 8192)
    with tracklet.start_run() as run:
        tracklet.log_param("a", 1)
        for i in range(3000):
            tracklet.log_metric("m", float(i), step=i)
        tracklet.log_artifact(big, "data")
    rid = run.info.run_id
    assert tracklet.get_run(rid).data.params == {"a": "1"}
    assert len(tracklet.get_metric_history(rid, "m")) == 3000
    dst = tracklet.download_artifacts(rid, "data/big.bin", str(tmp_path / "dl"))
    assert Path(dst).read_bytes() == big.read_bytes()
    assert tracklet.get_run(rid).info.status == "FINISHED"
