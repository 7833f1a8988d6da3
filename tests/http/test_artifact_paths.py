"""The artifact routes straight over HTTP: proxy semantics, and every path-traversal attempt answered 400."""

from __future__ import annotations

import http.client
import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.http.conftest import API, error, get_run, new_run, ok

PROXY = "/api/2.0/mlflow-artifacts/artifacts"

# Raw URL paths after `/artifacts/`, sent byte for byte (httpx would normalize `..` away otherwise).
TRAVERSALS = [
    "../outside.txt",
    "../../outside.txt",
    "a/../../outside.txt",
    "0/../../../etc/passwd",
    "%2e%2e/outside.txt",
    "%2E%2E%2Foutside.txt",
    "a/%2e%2e/%2e%2e/outside.txt",
    "%252e%252e/outside.txt",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "..%5coutside.txt",
    "a%5c..%5c..%5coutside.txt",
    "a\\b.txt",
    "C:/windows/win.ini",
    "C:%5Cwindows",
    "a/..",
    "..",
    "a/b%23c",
    "a%00b",
]
# The same, as a `?path=` value (the client sends it URL-encoded).
QUERY_TRAVERSALS = [
    "..",
    "../",
    "../etc",
    "a/../..",
    "/etc",
    "/",
    "a\\..\\..",
    "%2e%2e",
    "%2e%2e/x",
    "C:\\x",
    "a/../../b",
]


@dataclass
class RawResponse:
    status_code: int
    body: bytes
    path: str

    def json(self):
        return json.loads(self.body)


def _send_raw(api: httpx.Client, method: str, path: str, body: bytes | None = None, headers=None) -> RawResponse:
    """Byte-for-byte request paths: httpx (like browsers) would resolve `..` before sending."""
    url = api.base_url
    conn = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        result = RawResponse(response.status, response.read(), path)
    finally:
        conn.close()
    assert result.status_code < 500, (path, result.status_code, result.body[:300])
    return result


def _raw(api: httpx.Client, method: str, raw_path: str, body: bytes | None = None) -> RawResponse:
    return _send_raw(api, method, f"{PROXY}/{raw_path}", body)


@pytest.fixture
def root(server) -> Path:
    return Path(server.artifacts_destination)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the artifact root with a secret in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("secret")
    return folder


def _assert_invalid_path(response: httpx.Response | RawResponse) -> None:
    where = response.path if isinstance(response, RawResponse) else response.request.url
    assert response.status_code == 400, (where, response.status_code, response.json())
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_traversal_on_upload(api, root, raw_path):
    before = set(root.parent.iterdir())
    _assert_invalid_path(_raw(api, "PUT", raw_path, b"pwned"))
    assert set(root.parent.iterdir()) == before
    assert not (root.parent / "outside.txt").exists()


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_traversal_on_download(api, raw_path):
    _assert_invalid_path(_raw(api, "GET", raw_path))


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_traversal_on_delete(api, raw_path):
    _assert_invalid_path(_raw(api, "DELETE", raw_path))


@pytest.mark.parametrize("raw_path", TRAVERSALS[:6])
def test_traversal_on_multipart_routes(api, raw_path):
    path = f"/api/2.0/mlflow-artifacts/mpu/create/{raw_path}"
    _assert_invalid_path(_send_raw(api, "POST", path, b"{}", {"Content-Type": "application/json"}))


@pytest.mark.parametrize("path", QUERY_TRAVERSALS)
def test_traversal_on_proxy_listing(api, path):
    if path == "/":  # the root itself
        assert api.get(PROXY, params={"path": path}).status_code in (200, 400)
        return
    _assert_invalid_path(api.get(PROXY, params={"path": path}))


@pytest.mark.parametrize("path", [p for p in QUERY_TRAVERSALS if p != "/"])
def test_traversal_on_run_listing(api, path):
    run_id = new_run(api)
    _assert_invalid_path(api.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": path}))


def test_symlink_escaping_the_root(api, root, outside):
    run = get_run(api, new_run(api))
    run_root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert api.put(f"{PROXY}/{run_root}/ok.txt", content=b"ok").status_code == 200
    os.symlink(outside, root / run_root / "evil")
    os.symlink(outside / "secret.txt", root / run_root / "evil-file.txt")

    _assert_invalid_path(api.get(f"{PROXY}/{run_root}/evil/secret.txt"))
    _assert_invalid_path(api.get(f"{PROXY}/{run_root}/evil-file.txt"))
    _assert_invalid_path(api.get(PROXY, params={"path": f"{run_root}/evil"}))
    _assert_invalid_path(api.get(f"{API}/artifacts/list", params={"run_id": run["info"]["run_id"], "path": "evil"}))
    _assert_invalid_path(api.put(f"{PROXY}/{run_root}/evil/new.txt", content=b"pwned"))
    _assert_invalid_path(api.put(f"{PROXY}/{run_root}/evil-file.txt", content=b"pwned"))
    _assert_invalid_path(api.delete(f"{PROXY}/{run_root}/evil/secret.txt"))
    assert not (outside / "new.txt").exists()
    assert (outside / "secret.txt").read_text() == "secret"
    # A listing of the run shows the links (they exist) but never what is behind them.
    listed = ok(api.get(PROXY, params={"path": run_root}))
    assert "secret.txt" not in {f["path"] for f in listed["files"]}


def test_symlinked_artifact_root_parent_is_fine(api, root):
    """Links that stay inside the root are allowed."""
    run = get_run(api, new_run(api))
    run_root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert api.put(f"{PROXY}/{run_root}/real/f.txt", content=b"inside").status_code == 200
    os.symlink(root / run_root / "real", root / run_root / "alias")
    assert api.get(f"{PROXY}/{run_root}/alias/f.txt").content == b"inside"


# ---- proxy semantics (reference §c) -----------------------------------------------------------


def test_upload_download_list_delete(api):
    run = get_run(api, new_run(api))
    base = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    put = api.put(f"{PROXY}/{base}/dir/hello.txt", content=b"hello world\n", headers={"Content-Type": "text/plain"})
    assert put.status_code == 200
    assert api.put(f"{PROXY}/{base}/dir/data.json", content=b"{}").status_code == 200  # no content type needed
    assert api.put(f"{PROXY}/{base}/dir/odd name ü.bin", content=b"\x00\x01").status_code == 200

    got = api.get(f"{PROXY}/{base}/dir/hello.txt")
    assert got.status_code == 200
    assert got.content == b"hello world\n"
    assert got.headers["content-type"].startswith("text/plain")
    assert "attachment" in got.headers["content-disposition"]
    assert "hello.txt" in got.headers["content-disposition"]
    assert got.headers["x-content-type-options"] == "nosniff"
    assert api.get(f"{PROXY}/{base}/dir/data.json").headers["content-type"].startswith("application/json")
    assert api.get(f"{PROXY}/{base}/dir/odd%20name%20%C3%BC.bin").content == b"\x00\x01"

    listing = ok(api.get(PROXY, params={"path": f"{base}/dir"}))
    assert sorted(listing["files"], key=lambda f: f["path"]) == [
        {"path": "data.json", "is_dir": False, "file_size": 2},
        {"path": "hello.txt", "is_dir": False, "file_size": 12},
        {"path": "odd name ü.bin", "is_dir": False, "file_size": 2},
    ]
    assert ok(api.get(PROXY, params={"path": base})) == {"files": [{"path": "dir", "is_dir": True}]}
    # A file or a missing path lists as empty: the client relies on it to tell files from folders.
    assert ok(api.get(PROXY, params={"path": f"{base}/dir/hello.txt"})) == {}
    assert ok(api.get(PROXY, params={"path": f"{base}/nope"})) == {}
    assert "files" in ok(api.get(PROXY))  # no path: the root

    assert ok(api.delete(f"{PROXY}/{base}/dir/hello.txt")) == {}
    assert api.get(f"{PROXY}/{base}/dir/hello.txt").status_code == 404
    assert ok(api.delete(f"{PROXY}/{base}/dir")) == {}
    assert ok(api.get(PROXY, params={"path": base})) == {}


def test_download_errors(api):
    run = get_run(api, new_run(api))
    base = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    message = error(api.get(f"{PROXY}/{base}/missing.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert message == f"No such artifact: '{base}/missing.txt'"
    assert api.put(f"{PROXY}/{base}/d/f.txt", content=b"x").status_code == 200
    error(api.get(f"{PROXY}/{base}/d"))  # a directory
    error(api.put(f"{PROXY}/{base}/d", content=b"x"))  # cannot overwrite a directory with a file
    # As MLflow: what is not there is deleted already; a path naming a folder is no file to upload to.
    assert ok(api.delete(f"{PROXY}/{base}/missing")) == {}
    _assert_invalid_path(api.get("/api/2.0/mlflow/artifacts/list", params={"run_id": "nope", "path": "../x"}))
    # `%2E`: a client sending `.` as it is (httpx and urllib3 drop a trailing `/.` before sending)
    for folder in ("", "d/", "new/", "%2E", "d/%2E", "new/%2E"):
        assert "must include a filename" in error(api.put(f"{PROXY}/{base}/{folder}", content=b"x"))
    assert ok(api.get(PROXY, params={"path": base})) == {"files": [{"path": "d", "is_dir": True}]}
    assert api.put(f"{PROXY}/{base}/later.txt", content=b"x").status_code == 200


def test_paths_the_file_system_cannot_hold_are_refused_clearly(api):
    run = get_run(api, new_run(api))
    base = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    for too_long in (f"{base}/{'x' * 256}", f"{base}/{'é' * 3000}/f.txt"):
        assert "longer than the file system allows" in error(api.put(f"{PROXY}/{too_long}", content=b"x"))
        assert "longer than the file system allows" in error(api.get(f"{PROXY}/{too_long}"))
        assert "longer than the file system allows" in error(api.delete(f"{PROXY}/{too_long}"))
        assert "longer than the file system allows" in error(api.get(PROXY, params={"path": too_long}))
    assert api.put(f"{PROXY}/{base}/f.txt", content=b"kept").status_code == 200
    assert "goes through a file" in error(api.put(f"{PROXY}/{base}/f.txt/g.txt", content=b"y"))
    assert api.get(f"{PROXY}/{base}/f.txt").content == b"kept"
    assert [f["path"] for f in ok(api.get(PROXY, params={"path": base}))["files"]] == ["f.txt"]


def test_upload_overwrites(api):
    run = get_run(api, new_run(api))
    base = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert api.put(f"{PROXY}/{base}/f.txt", content=b"first").status_code == 200
    assert api.put(f"{PROXY}/{base}/f.txt", content=b"second!").status_code == 200
    assert api.get(f"{PROXY}/{base}/f.txt").content == b"second!"


def test_streamed_upload_without_content_length(api):
    run = get_run(api, new_run(api))
    base = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")

    def chunks():
        for i in range(50):
            yield bytes([i]) * 10_000

    assert api.put(f"{PROXY}/{base}/streamed.bin", content=chunks()).status_code == 200
    assert api.get(f"{PROXY}/{base}/streamed.bin").content == b"".join(chunks())


def test_multipart_is_not_offered(api):
    info = ok(api.get("/api/3.0/mlflow/server-info"))
    assert info["multipart_uploads_enabled"] is False
    response = api.post("/api/2.0/mlflow-artifacts/mpu/create/0/x.bin", json={"path": "x.bin", "num_parts": 2})
    assert response.status_code == 501
    assert response.json()["error_code"] == "NOT_IMPLEMENTED"
