"""The artifact proxy (`/api/2.0/mlflow-artifacts/*`) and the R client's `/api/2.0/mlflow/artifacts/list`.

Bodies are streamed in both directions: an upload is written chunk by chunk as it arrives and a
download is read chunk by chunk, so memory stays flat whatever the file size.

On a store that presigns (S3), MLflow's client may move a file's bytes itself: `mpu/create` begins a
multipart upload of `<folder in the URL>/<name of the client's local file>` and answers a presigned URL
per part, the client PUTs the parts straight to the object store, then `mpu/complete` (or `mpu/abort`)
ends it; `presigned/<path>` answers a URL (and the size) to read a file from, in ranges. Elsewhere they
answer NOT_IMPLEMENTED in MLflow's words, on which the client sends the bytes through the server.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tracklet.artifacts.base import NO_MULTIPART_DOWNLOADS, NO_MULTIPART_UPLOADS, ArtifactStore
from tracklet.artifacts.paths import clean_path, proxy_path, shown_path
from tracklet.entities import FileInfo
from tracklet.errors import InvalidParameterValue, NotImplementedByServer, ResourceDoesNotExist
from tracklet.server.api.runs import RunRef
from tracklet.server.api.trace_spans import MAX_KEPT_UPLOAD, uploaded_trace
from tracklet.server.protocol import json_response, read_json, read_query, run_sync
from tracklet.server.state import artifacts_of, span_indexer_of, store_of
from tracklet.server.workspace_scope import artifact_path
from tracklet.validation import missing

MAX_PARTS = 10_000  # S3's most parts in one upload
MAX_UPLOAD_ID_LENGTH = 1024  # S3's ids are a few hundred characters


class ListQuery(msgspec.Struct):
    path: str | None = None


class CreateUpload(msgspec.Struct):
    path: str  # the client's local file: its name is the uploaded file's
    num_parts: int = 0


class UploadedPart(msgspec.Struct):
    part_number: int
    etag: str = ""
    url: str | None = None  # sent back by MLflow's client, not needed


class CompleteUpload(msgspec.Struct):
    path: str
    parts: list[UploadedPart]
    upload_id: str = ""


class AbortUpload(msgspec.Struct):
    path: str
    upload_id: str = ""


class RunListQuery(RunRef):
    path: str | None = None
    page_token: str | None = None


async def upload(request: Request) -> Response:
    # `d/` (as MLflow refuses it) and `d/.` (which MLflow takes) name a folder: written as a file, the folder
    # (a run's whole artifact root, for `.`) would be lost to everything later uploaded under it.
    if request.path_params["path"].rsplit("/", 1)[-1] in ("", "."):
        raise InvalidParameterValue("Artifact path must include a filename (cannot end with '/' or '/.').")
    path = artifact_path(clean_path(request.path_params["path"], allow_empty=False))
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
    path = artifact_path(clean_path(request.path_params["path"], allow_empty=False))
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
    path = artifact_path(clean_path(query.path))
    files = await artifacts_of(request).list(path)
    return json_response({"files": files} if files else {})


async def delete(request: Request) -> Response:
    path = artifact_path(clean_path(request.path_params["path"], allow_empty=False))
    try:
        await artifacts_of(request).delete(path)
    except ResourceDoesNotExist:
        pass  # as MLflow: what is not there is deleted already (the client's `delete_artifacts` relies on it)
    return json_response()


def _presigning(request: Request, refusal: str) -> ArtifactStore:
    """The artifact store, if clients may move bytes to and from it themselves; else MLflow's refusal."""
    store = artifacts_of(request)
    if not store.presigns:
        raise NotImplementedByServer(refusal)
    return store


def _uploaded_file(folder: str, local_file: str) -> str:
    """Where a multipart upload goes: the folder named in the URL, and the name of the client's local file
    (`path` in the body, a whole local path; from Windows with backslashes)."""
    name = re.split(r"[/\\]", local_file)[-1]
    if name in ("", ".", ".."):
        raise InvalidParameterValue(
            f"Invalid value for parameter 'path' supplied: '{shown_path(local_file)}' names no file"
        )
    return clean_path(posixpath.join(folder, name) if folder else name, allow_empty=False)


def _upload_id(upload_id: str) -> str:
    if not upload_id:
        raise missing("upload_id")
    if len(upload_id) > MAX_UPLOAD_ID_LENGTH:
        raise InvalidParameterValue(
            f"Invalid value for parameter 'upload_id' supplied: longer than {MAX_UPLOAD_ID_LENGTH} characters"
        )
    return upload_id


async def create_multipart_upload(request: Request) -> Response:
    folder = artifact_path(clean_path(request.path_params["path"]))  # checked first, as MLflow does
    body = await read_json(request, CreateUpload)
    store = _presigning(request, NO_MULTIPART_UPLOADS)
    if not 0 <= body.num_parts <= MAX_PARTS:
        raise InvalidParameterValue(
            f"Invalid value {body.num_parts} for parameter 'num_parts' supplied: from 0 to {MAX_PARTS}"
        )
    upload = await store.create_multipart_upload(_uploaded_file(folder, body.path), body.num_parts)
    credentials = [{"url": p.url, "part_number": p.part_number, "headers": p.headers} for p in upload.parts]
    return json_response({"upload_id": upload.upload_id, "credentials": credentials})


async def complete_multipart_upload(request: Request) -> Response:
    folder = artifact_path(clean_path(request.path_params["path"]))
    body = await read_json(request, CompleteUpload)
    store = _presigning(request, NO_MULTIPART_UPLOADS)
    path = _uploaded_file(folder, body.path)
    parts: dict[int, str] = {}
    for i, part in enumerate(body.parts):
        if not 1 <= part.part_number <= MAX_PARTS:
            raise InvalidParameterValue(
                f"Invalid value {part.part_number} for parameter 'parts[{i}].part_number' supplied: from 1 to {MAX_PARTS}"
            )
        if not part.etag:
            raise missing(f"parts[{i}].etag")
        if part.part_number in parts:
            raise InvalidParameterValue(f"Invalid value for parameter 'parts' supplied: part {part.part_number} twice")
        parts[part.part_number] = part.etag
    await store.complete_multipart_upload(path, _upload_id(body.upload_id), sorted(parts.items()))
    if (trace_id := uploaded_trace(path)) is not None:  # a trace's spans: copied for span filters
        span_indexer_of(request).uploaded(trace_id, path, None)
    return json_response()


async def abort_multipart_upload(request: Request) -> Response:
    folder = artifact_path(clean_path(request.path_params["path"]))
    body = await read_json(request, AbortUpload)
    store = _presigning(request, NO_MULTIPART_UPLOADS)
    await store.abort_multipart_upload(_uploaded_file(folder, body.path), _upload_id(body.upload_id))
    return json_response()


async def presigned_download(request: Request) -> Response:
    path = artifact_path(clean_path(request.path_params["path"], allow_empty=False))
    found = await _presigning(request, NO_MULTIPART_DOWNLOADS).presigned_download(path)
    return json_response({"url": found.url, "headers": found.headers, "file_size": found.size})


async def list_under_root(request: Request, artifact_uri: str, sub: str) -> dict[str, object]:
    """The files under `sub` of a run's or logged model's artifact root, as MLflow answers them: paths
    relative to the root (`tree/a.csv`), unlike the proxy listing, and the root itself as `root_uri`."""
    root = proxy_path(artifact_uri)
    if root is not None:
        root = artifact_path(root)
    payload: dict[str, object] = {"root_uri": artifact_uri}
    if root is not None:
        files = await artifacts_of(request).list(posixpath.join(root, sub) if sub else root)
        if files:
            payload["files"] = [
                FileInfo(path=posixpath.join(sub, f.path) if sub else f.path, is_dir=f.is_dir, file_size=f.file_size)
                for f in files
            ]
    return payload


async def list_run_artifacts(request: Request) -> Response:
    query = read_query(request, RunListQuery)
    sub = clean_path(query.path)  # as MLflow: a bad path is reported before an unknown run
    run = await run_sync(store_of(request).get_run, query.id())
    return json_response(await list_under_root(request, run.info.artifact_uri, sub))


_BASE = "/api/2.0/mlflow-artifacts"
routes = [
    Route(f"{_BASE}/artifacts", list_files, methods=["GET"]),
    Route(f"{_BASE}/artifacts/{{path:path}}", upload, methods=["PUT"]),
    Route(f"{_BASE}/artifacts/{{path:path}}", download, methods=["GET"]),
    Route(f"{_BASE}/artifacts/{{path:path}}", delete, methods=["DELETE"]),
    Route(f"{_BASE}/mpu/create/{{path:path}}", create_multipart_upload, methods=["POST"]),
    Route(f"{_BASE}/mpu/complete/{{path:path}}", complete_multipart_upload, methods=["POST"]),
    Route(f"{_BASE}/mpu/abort/{{path:path}}", abort_multipart_upload, methods=["POST"]),
    Route(f"{_BASE}/presigned/{{path:path}}", presigned_download, methods=["GET"]),
    Route("/api/2.0/mlflow/artifacts/list", list_run_artifacts, methods=["GET"]),
]
