"""The one place where the client does I/O: JSON requests, artifact streams, retries, error mapping.

A `Transport` wraps an `httpx.Client`. For a remote server that is a plain keep-alive `httpx.Client`;
for the embedded local store it is an `httpx.Client` whose transport calls
`tracklet.server.app.create_app(settings)` in-process (`in_process.py`), so local and remote logging
run exactly the same code.

Foreign exceptions are translated here and nowhere else:

    httpx.TransportError (connect/read/timeout), HTTP 408/429/5xx  -> retried with backoff, then
                                                                     TemporarilyUnavailable
    any other non-2xx with {"error_code", "message"}               -> tracklet.errors.from_error_code
    a non-2xx without error JSON                                   -> code derived from the HTTP status
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
import msgspec

from tracklet import errors

__all__ = ["Transport", "RETRY_STATUSES", "is_local_uri"]

# Same set as MLflow's client: a server may answer these while it restarts or is overloaded.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
}

ARTIFACTS_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"

_json_decoder = msgspec.json.Decoder()
_json_encoder = msgspec.json.Encoder()


def is_local_uri(uri: str | None) -> bool:
    """True when `uri` means "log into an embedded store" rather than "talk to a server"."""
    return not uri or not uri.startswith(("http://", "https://"))


def _error_from_response(response: httpx.Response) -> errors.TrackletError:
    try:
        body = _json_decoder.decode(response.content)
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error_code"), str):
        return errors.from_error_code(body["error_code"], str(body.get("message", "")))
    code = _STATUS_CODES.get(response.status_code, "INTERNAL_ERROR")
    text = response.text[:500] if response.content else ""
    return errors.from_error_code(
        code, f"{response.request.method} {response.request.url.path} answered HTTP {response.status_code}: {text}"
    )


class Transport:
    """JSON-over-HTTP with retries. Thread-safe: the background sender and user code share one."""

    def __init__(
        self, http: httpx.Client, *, retry_seconds: float = 120.0, base_path: str = "", remote: bool = True
    ) -> None:
        self._http = http
        # In-process (local store) there is no network in between: a 5xx is a bug, retrying would hide it.
        self.remote = remote
        self.retry_seconds = retry_seconds if remote else 0.0
        self._base_path = base_path.rstrip("/")
        self._closed = False
        self._lock = threading.Lock()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def for_uri(cls, uri: str | None) -> Transport:
        """A transport for a tracking URI: `http(s)://…` talks to a server, anything else is local."""
        if is_local_uri(uri):
            return cls.local(uri)
        assert uri is not None
        timeout = float(os.environ.get("TRACKLET_HTTP_TIMEOUT", "120"))
        retry = float(os.environ.get("TRACKLET_HTTP_RETRY_SECONDS", "120"))
        headers = {"User-Agent": "tracklet-python-client"}
        token = os.environ.get("TRACKLET_TRACKING_TOKEN") or os.environ.get("MLFLOW_TRACKING_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        workspace = os.environ.get("MLFLOW_WORKSPACE", "").strip()
        if workspace:  # as MLflow's client: a server started with --enable-workspaces works in that one
            headers["X-MLflow-Workspace"] = workspace
        auth = None
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if user:
            auth = httpx.BasicAuth(user, os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        url = httpx.URL(uri)
        http = httpx.Client(
            base_url=url.copy_with(path="/"),
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=30.0),
        )
        return cls(http, retry_seconds=retry, base_path=url.path)

    @classmethod
    def local(cls, uri: str | None) -> Transport:
        """The embedded store: the server's ASGI app called in-process (`InProcessTransport`).

        No URI means the default data folder that `tracklet server` serves; `sqlite:///…` names the
        database (artifacts next to it); a folder path holds both (`<folder>/tracklet.db`, `<folder>/artifacts`).
        """
        from tracklet.client.in_process import InProcessTransport
        from tracklet.server.app import create_app
        from tracklet.settings import Settings

        if not uri:
            settings = Settings.from_env()
            folder = Path(settings.data_dir)
        elif uri.startswith("sqlite:"):
            folder = Path(uri.split(":///", 1)[-1]).parent
            settings = Settings.from_env(backend_store_uri=uri, artifacts_destination=str(folder / "artifacts"))
        else:
            folder = Path(uri.removeprefix("file://")).resolve()
            settings = Settings.from_env(data_dir=str(folder))
        folder.mkdir(parents=True, exist_ok=True)
        http = httpx.Client(transport=InProcessTransport(create_app(settings)), base_url="http://tracklet.local")
        return cls(http, remote=False)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._http.close()  # for the local store this also ends the app's lifespan

    # -- requests -----------------------------------------------------------------------------

    def _send(self, build: Any, retry_seconds: float | None) -> httpx.Response:
        """Send, retrying connection errors and RETRY_STATUSES with exponential backoff and jitter."""
        budget = self.retry_seconds if retry_seconds is None or not self.remote else retry_seconds
        deadline = time.monotonic() + budget
        delay = 0.1
        while True:
            try:
                response: httpx.Response = build()
            except httpx.TransportError as exc:
                if time.monotonic() + delay > deadline:
                    raise errors.TemporarilyUnavailable(f"tracking server unreachable: {exc!r}") from exc
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES or time.monotonic() + delay > deadline:
                    raise _error_from_response(response)
            time.sleep(delay * (0.75 + random.random() / 2))
            delay = min(delay * 2, 5.0)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        retry_seconds: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One JSON call; returns the decoded object (`{}` for an empty body)."""
        url = self._base_path + path
        content = None if json is None else _json_encoder.encode(json)
        headers = {**({"Content-Type": "application/json"} if content is not None else {}), **(headers or {})}

        def build() -> httpx.Response:
            return self._http.request(method, url, content=content, params=params, headers=headers)

        response = self._send(build, retry_seconds)
        if not response.content:
            return {}
        body = _json_decoder.decode(response.content)
        if not isinstance(body, dict):
            raise errors.TrackletError(f"{method} {path}: expected a JSON object, got {type(body).__name__}")
        return body

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        retry_seconds: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.request("POST", path, json=body, retry_seconds=retry_seconds, headers=headers)

    # -- artifact proxy (mlflow-artifacts) ----------------------------------------------------

    def _artifact_url(self, path: str) -> str:
        return self._base_path + ARTIFACTS_PREFIX + "/" + quote(path.strip("/"))

    def put_file(self, path: str, local_file: Path, content_type: str = "application/octet-stream") -> None:
        """Upload one file, streamed from disk (re-opened on each retry)."""
        url = self._artifact_url(path)

        def build() -> httpx.Response:
            with open(local_file, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                headers = {"Content-Type": content_type, "Content-Length": str(size)}
                return self._http.put(url, content=_chunks(fh), headers=headers)

        self._send(build, None)

    def put_bytes(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        url = self._artifact_url(path)
        self._send(lambda: self._http.put(url, content=data, headers={"Content-Type": content_type}), None)

    def list_artifacts(self, path: str) -> list[dict[str, Any]]:
        """Direct children of `path` (basenames); `[]` for a file or a missing path."""
        params = {"path": path.strip("/")} if path.strip("/") else None
        body = self.request("GET", ARTIFACTS_PREFIX, params=params)
        files: list[dict[str, Any]] = body.get("files", [])
        return files

    def download_file(self, path: str, dst: Path) -> None:
        """Stream one artifact to `dst` (written to a temporary name first, so no partial file remains)."""
        url = self._artifact_url(path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".part")
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                with self._http.stream("GET", url) as response:
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code not in RETRY_STATUSES or time.monotonic() > deadline:
                            raise _error_from_response(response)
                    else:
                        with open(tmp, "wb") as out:
                            for chunk in response.iter_bytes(1 << 20):
                                out.write(chunk)
                        os.replace(tmp, dst)
                        return
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise errors.TemporarilyUnavailable(f"tracking server unreachable: {exc!r}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _chunks(fh: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk
