"""The artifact proxy (`/api/2.0/mlflow-artifacts/*`) and the R client's `/api/2.0/mlflow/artifacts/list`.

Bodies are streamed in both directions: an upload is written chunk by chunk as it arrives and a
download is read chunk by chunk, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import AsyncIterator
from urllib.parse import quote

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tracklet.artifacts.paths import clean_path, proxy_path
from tracklet.entities import FileInfo
from tracklet.errors import InvalidParameterValue, NotImplementedByServer, ResourceDoesNotExist
from tracklet.server.api.runs import RunRef
from tracklet.server.api.trace_spans import MAX_KEPT_UPLOAD, uploaded_trace
from tracklet.server.protocol import json_response, read_query, run_sync
from tracklet.server.state import artifacts_of, span_indexer_of, store_of


class ListQuery(msgspec.Struct):
    path: str | None = None


class RunListQuery(RunRef):
    path: str | None = None
    page_token: str | None = None


async def upload(request: Request) -> Response:
    if request.path_params["path"].endswith("/"):  # as MLflow: `d/` would write a file named as the folder
        raise InvalidParameterValue("Artifact path must include a filename (cannot end with '/').")
    path = clean_path(request.path_params["path"], allow_empty=False)
    trace_id = uploaded_trace(path)
    if trace_id is None:
        await artifacts_of(request).write(path, request.stream())
        return Response(status_code=200)
    # A trace's spans (`traces.json`): kept while written, copied for span filters after the answer.
    kept: list[bytes] = []
    size = 0

    async def keeping() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size <= MAX_KEPT_UPLOAD:
                kept.append(chunk)
            yield chunk

    await artifacts_of(request).write(path, keeping())
    span_indexer_of(request).uploaded(trace_id, path, b"".join(kept) if size <= MAX_KEPT_UPLOAD else None)
    return Response(status_code=200)


async def download(request: Request) -> Response:
    path = clean_path(request.path_params["path"], allow_empty=False)
    found = await artifacts_of(request).open(path)  # raises 404/400 before any byte is sent
    filename = posixpath.basename(path)
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        "Content-Length": str(found.size),
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(found.chunks, media_type=media_type, headers=headers)


async def list_files(request: Request) -> Response:
    query = read_query(request, ListQuery)
    path = clean_path(query.path)
    files = await artifacts_of(request).list(path)
    return json_response({"files": files} if files else {})


async def delete(request: Request) -> Response:
    path = clean_path(request.path_params["path"], allow_empty=False)
    try:
        await artifacts_of(request).delete(path)
    except ResourceDoesNotExist:
        pass  # as MLflow: what is not there is deleted already (the client's `delete_artifacts` relies on it)
    return json_response()


async def multipart_not_supported(request: Request) -> Response:
    clean_path(request.path_params["path"], allow_empty=False)  # a bad path is the caller's error: 400
    raise NotImplementedByServer("Multipart uploads are not supported by this artifact store.")


async def list_run_artifacts(request: Request) -> Response:
    """Paths are relative to the run's artifact root (`tree/a.csv`), unlike the proxy listing."""
    query = read_query(request, RunListQuery)
    sub = clean_path(query.path)  # as MLflow: a bad path is reported before an unknown run
    run = await run_sync(store_of(request).get_run, query.id())
    root = proxy_path(run.info.artifact_uri)
    payload: dict[str, object] = {"root_uri": run.info.artifact_uri}
    if root is not None:
        files = await artifacts_of(request).list(posixpath.join(root, sub) if sub else root)
        if files:
            payload["files"] = [
                FileInfo(path=posixpath.join(sub, f.path) if sub else f.path, is_dir=f.is_dir, file_size=f.file_size)
                for f in files
            ]
    return json_response(payload)


_BASE = "/api/2.0/mlflow-artifacts"
routes = [
    Route(f"{_BASE}/artifacts", list_files, methods=["GET"]),
    Route(f"{_BASE}/artifacts/{{path:path}}", upload, methods=["PUT"]),
    Route(f"{_BASE}/artifacts/{{path:path}}", download, methods=["GET"]),
    Route(f"{_BASE}/artifacts/{{path:path}}", delete, methods=["DELETE"]),
    Route(f"{_BASE}/mpu/{{action}}/{{path:path}}", multipart_not_supported, methods=["POST"]),
    Route(f"{_BASE}/presigned/{{path:path}}", multipart_not_supported, methods=["GET"]),
    Route("/api/2.0/mlflow/artifacts/list", list_run_artifacts, methods=["GET"]),
]
