"""MLflow's proxied multipart upload and presigned download, on a tracklet server whose artifacts are in S3
(moto's real S3-protocol server on loopback), driven by the official client.

With MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true the client asks the server to begin a multipart upload
(`mpu/create`), PUTs each part to the presigned URL it gets back, straight to the object store, then has
the server complete it (or abort it when a part failed). With MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD=true it
asks for a presigned URL (`presigned/<path>`) and reads the file in ranges from the object store. That
the bytes went around the server is checked by a relay in front of it that counts what it carries. On a
local store the server answers as MLflow's does, and the client sends everything through it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.artifacts.test_artifact_stores import moto  # noqa: F401  (fixture)
from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import MotoS3, TrackletServer, free_port
from tests.support.relay import CountingRelay

MIB = 1024 * 1024
PART = 5 * MIB  # S3's least part (but the last)
MPU = "/api/2.0/mlflow-artifacts/mpu"
PRESIGNED = "/api/2.0/mlflow-artifacts/presigned"
ADMIN = ("admin", "admin-password-1")
# What MLflow 3.17.2's server answers on a local store (tests/fixtures/mlflow-wire-samples.jsonl).
NO_UPLOADS = {"error_code": "NOT_IMPLEMENTED", "message": "Multipart upload is not supported for the current artifact repository"}  # fmt: skip
NO_DOWNLOADS = {"error_code": "NOT_IMPLEMENTED", "message": "Multipart download is not supported for the current artifact repository"}  # fmt: skip


def _s3_server(moto: MotoS3, store_uri: str, **env: str) -> tuple[TrackletServer, str]:  # noqa: F811
    bucket = "mpu-" + uuid.uuid4().hex[:8]
    moto.create_bucket(bucket)
    server = TrackletServer(store_uri, f"s3://{bucket}/artifacts", env={**moto.env(), **env}).start()
    return server, bucket


@pytest.fixture(scope="module", params=BACKENDS)
def s3(
    request: pytest.FixtureRequest,
    moto: MotoS3,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """A server on S3 (as `tracklet server` starts by default: multipart on request only), its bucket, and a
    counting relay in front of it."""
    server, bucket = _s3_server(moto, _store_uri(request.param, tmp_path_factory.mktemp("mpu"), request))
    relay = CountingRelay(server.port).start()
    yield {"server": server, "bucket": bucket, "relay": relay}
    relay.stop()
    server.stop()


@pytest.fixture
def multipart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The official client uploads files of 1 MiB or more in 5 MiB parts, and downloads in 4 MiB ranges."""
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MIB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(PART))
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(4 * MIB))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def _client(url: str) -> Any:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(url)
    return MlflowClient(url)


def _new_run(client: Any) -> tuple[str, str]:
    experiment_id = client.create_experiment("mpu-" + uuid.uuid4().hex[:8])
    return experiment_id, client.create_run(experiment_id).info.run_id


def _uploads(moto: MotoS3, bucket: str) -> list[dict[str, Any]]:  # noqa: F811
    return moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])  # type: ignore[no-any-return]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the official client --------------------------------------------------------------------------------


@pytest.mark.parametrize("multipart_on", [True, False], ids=["multipart", "through-the-server"])
def test_a_large_file_goes_to_s3_in_parts_without_passing_the_server(
    s3: dict[str, Any],
    moto: MotoS3,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    multipart: None,
    multipart_on: bool,
) -> None:
    if not multipart_on:  # the control: the same upload, every byte through the server (the relay sees them)
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "false")
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
    relay: CountingRelay = s3["relay"]
    client = _client(relay.url)
    experiment_id, run_id = _new_run(client)
    local = tmp_path / "weights.bin"
    local.write_bytes(os.urandom(2 * PART + 12345))  # three parts

    relay.reset()
    client.log_artifact(run_id, str(local), "model")
    sent = relay.sent
    key = f"artifacts/{experiment_id}/{run_id}/artifacts/model/weights.bin"
    stored = moto.client().get_object(Bucket=s3["bucket"], Key=key)
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == _digest(local)
    assert _uploads(moto, s3["bucket"]) == []  # completed, none left behind
    listed = {f.path: f.file_size for f in client.list_artifacts(run_id, "model")}
    assert listed == {"model/weights.bin": local.stat().st_size}

    relay.reset()
    back = Path(client.download_artifacts(run_id, "model/weights.bin", str(tmp_path / "down")))
    assert _digest(back) == _digest(local)
    if multipart_on:
        assert stored["ETag"].endswith('-3"')  # S3 made it of three parts
        assert sent < 64 * 1024, sent  # the requests to begin and complete it, not the file's 10 MB
        assert relay.received < 64 * 1024, relay.received  # the file was read in ranges from S3
    else:
        assert sent > local.stat().st_size and relay.received > local.stat().st_size


def test_an_empty_file_sent_in_no_parts_is_stored_empty(
    s3: dict[str, Any],
    moto: MotoS3,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    multipart: None,
) -> None:
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "0")  # so the client begins an upload of no part
    client = _client(s3["server"].url)
    _, run_id = _new_run(client)
    (tmp_path / "empty.txt").write_bytes(b"")
    client.log_artifact(run_id, str(tmp_path / "empty.txt"))
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id)] == [("empty.txt", 0)]
    assert _uploads(moto, s3["bucket"]) == []


def test_a_failed_part_makes_the_client_abort_and_nothing_is_left_behind(
    moto: MotoS3,  # noqa: F811
    tmp_path: Path,
    multipart: None,
) -> None:
    """The presigned URLs name an endpoint nobody listens on: the parts fail, the client aborts through the
    server, and S3 keeps no upload and no object."""
    from mlflow.exceptions import MlflowException

    server, bucket = _s3_server(
        moto,
        f"sqlite:///{tmp_path / 'tracklet.db'}",
        TRACKLET_S3_PRESIGNED_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
    )
    try:
        client = _client(server.url)
        _, run_id = _new_run(client)
        (tmp_path / "big.bin").write_bytes(os.urandom(PART + 1))
        with pytest.raises(MlflowException, match="Failed to upload at least one part"):
            client.log_artifact(run_id, str(tmp_path / "big.bin"))
        assert _uploads(moto, bucket) == []
        assert moto.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0
        assert client.list_artifacts(run_id) == []
    finally:
        server.stop()


def test_told_by_server_info_the_client_uses_presigned_urls_of_the_endpoint_clients_reach(
    moto: MotoS3,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--s3-direct-transfers`: the client, told nothing by its environment, moves the bytes itself;
    `--s3-presigned-endpoint-url`: the URLs name the endpoint given (here moto by another name)."""
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MIB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(PART))
    public = f"http://localhost:{moto.port}"
    server, bucket = _s3_server(
        moto,
        f"sqlite:///{tmp_path / 'tracklet.db'}",
        TRACKLET_S3_DIRECT_TRANSFERS="1",
        TRACKLET_S3_PRESIGNED_ENDPOINT_URL=public,
    )
    relay = CountingRelay(server.port).start()
    try:
        info = httpx.get(f"{server.url}/api/3.0/mlflow/server-info").json()
        assert info["multipart_uploads_enabled"] is True and info["multipart_downloads_enabled"] is True
        client = _client(relay.url)
        experiment_id, run_id = _new_run(client)
        local = tmp_path / "data.bin"
        local.write_bytes(os.urandom(PART + 777))
        created = httpx.post(
            f"{server.url}{MPU}/create/{experiment_id}/{run_id}/artifacts",
            json={"path": "/tmp/probe.bin", "num_parts": 2},
        ).json()
        assert [c["url"].startswith(f"{public}/{bucket}/") for c in created["credentials"]] == [True, True]
        httpx.post(
            f"{server.url}{MPU}/abort/{experiment_id}/{run_id}/artifacts",
            json={"path": "/tmp/probe.bin", "upload_id": created["upload_id"]},
        ).raise_for_status()

        relay.reset()
        client.log_artifact(run_id, str(local))
        back = Path(client.download_artifacts(run_id, "data.bin", str(tmp_path / "down")))
        assert _digest(back) == _digest(local)
        assert relay.sent + relay.received < 64 * 1024, (relay.sent, relay.received)
        assert _uploads(moto, bucket) == []
    finally:
        relay.stop()
        server.stop()


def test_a_local_store_answers_as_mlflows_and_the_client_sends_through_the_server(
    sqlite_server: TrackletServer, tmp_path: Path, multipart: None
) -> None:
    for action in ("create", "complete", "abort"):
        body = {"path": "/tmp/x.bin", "num_parts": 2, "upload_id": "u", "parts": []}
        answer = httpx.post(f"{sqlite_server.url}{MPU}/{action}/0/run/artifacts", json=body)
        assert (answer.status_code, answer.json()) == (501, NO_UPLOADS)
    answer = httpx.get(f"{sqlite_server.url}{PRESIGNED}/0/run/artifacts/x.bin")
    assert (answer.status_code, answer.json()) == (501, NO_DOWNLOADS)
    info = httpx.get(f"{sqlite_server.url}/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is False and info["multipart_downloads_enabled"] is False

    client = _client(sqlite_server.url)
    _, run_id = _new_run(client)
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(PART + 3))
    client.log_artifact(run_id, str(local))  # the refusal is recognised: one PUT through the server instead
    assert _digest(Path(client.download_artifacts(run_id, "big.bin", str(tmp_path / "down")))) == _digest(local)


# -- what tracklet gc removes ---------------------------------------------------------------------------


def test_gc_aborts_an_upload_a_client_began_and_never_ended(
    s3: dict[str, Any],
    moto: MotoS3,  # noqa: F811
) -> None:
    client = _client(s3["server"].url)
    experiment_id, run_id = _new_run(client)
    created = httpx.post(
        f"{s3['server'].url}{MPU}/create/{experiment_id}/{run_id}/artifacts", json={"path": "a.bin", "num_parts": 1}
    ).json()
    assert created["upload_id"] in {u["UploadId"] for u in _uploads(moto, s3["bucket"])}
    server: TrackletServer = s3["server"]
    # moto dates every multipart upload 2010-11-10, so the default age (a day) does not keep it.
    result = subprocess.run(
        [sys.executable, "-m", "tracklet", "gc", "--backend-store-uri", server.backend_store_uri,
         "--artifacts-destination", server.artifacts_destination],
        capture_output=True, text=True, timeout=120, env={**os.environ, **moto.env()},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 unfinished upload." in result.stdout, result.stdout
    assert _uploads(moto, s3["bucket"]) == []


# -- raw HTTP: the answers to what the client never sends -----------------------------------------------


def _error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code and set(body) == {"error_code", "message"}, body
    return str(body["message"])


@pytest.fixture
def folder(s3: dict[str, Any]) -> str:
    """A run's artifact folder, as the URL names it."""
    experiment_id, run_id = _new_run(_client(s3["server"].url))
    return f"{experiment_id}/{run_id}/artifacts"


def test_an_upload_is_begun_completed_and_read_back_by_raw_http(
    s3: dict[str, Any],
    moto: MotoS3,  # noqa: F811
    folder: str,
) -> None:
    with httpx.Client(base_url=s3["server"].url) as http:
        created = http.post(f"{MPU}/create/{folder}/sub", json={"path": "C:\\Users\\me\\data.csv", "num_parts": 2})
        assert created.status_code == 200, created.text
        upload = created.json()
        assert [(c["part_number"], c["headers"]) for c in upload["credentials"]] == [(1, {}), (2, {})]
        chunks = [os.urandom(PART), b"tail"]
        etags = []
        for credential, chunk in zip(upload["credentials"], chunks, strict=True):
            put = httpx.put(credential["url"], content=chunk)  # straight to S3
            assert put.status_code == 200, put.text
            etags.append(put.headers["ETag"])
        parts = [{"part_number": 2, "etag": etags[1]}, {"part_number": 1, "etag": etags[0], "url": "ignored"}]
        done = http.post(
            f"{MPU}/complete/{folder}/sub",
            json={"path": "C:\\Users\\me\\data.csv", "upload_id": upload["upload_id"], "parts": parts},
        )
        assert (done.status_code, done.json()) == (200, {})
        # The Windows path's file name; parts given out of order are put in order.
        assert http.get(f"/api/2.0/mlflow-artifacts/artifacts/{folder}/sub/data.csv").content == b"".join(chunks)

        presigned = http.get(f"{PRESIGNED}/{folder}/sub/data.csv").json()
        assert presigned["file_size"] == PART + 4 and presigned["headers"] == {}
        ranged = httpx.get(presigned["url"], headers={"Range": f"bytes={PART}-{PART + 3}"})
        assert ranged.status_code == 206 and ranged.content == b"tail"
        assert "data.csv" in ranged.headers["content-disposition"]
        # Completed: it cannot be completed or aborted again.
        again = http.post(f"{MPU}/abort/{folder}/sub", json={"path": "data.csv", "upload_id": upload["upload_id"]})
        assert "completed or aborted" in _error(again, 404, "RESOURCE_DOES_NOT_EXIST")
    assert _uploads(moto, s3["bucket"]) == []


def test_an_aborted_upload_leaves_no_parts_and_cannot_be_completed(
    s3: dict[str, Any],
    moto: MotoS3,  # noqa: F811
    folder: str,
) -> None:
    with httpx.Client(base_url=s3["server"].url) as http:
        upload = http.post(f"{MPU}/create/{folder}", json={"path": "/data/half.bin", "num_parts": 2}).json()
        etag = httpx.put(upload["credentials"][0]["url"], content=os.urandom(PART)).headers["ETag"]
        assert [u["UploadId"] for u in _uploads(moto, s3["bucket"])] == [upload["upload_id"]]
        aborted = http.post(f"{MPU}/abort/{folder}", json={"path": "/data/half.bin", "upload_id": upload["upload_id"]})
        assert (aborted.status_code, aborted.json()) == (200, {})
        assert _uploads(moto, s3["bucket"]) == []
        late = http.post(
            f"{MPU}/complete/{folder}",
            json={
                "path": "/data/half.bin",
                "upload_id": upload["upload_id"],
                "parts": [{"part_number": 1, "etag": etag}],
            },
        )
        _error(late, 404, "RESOURCE_DOES_NOT_EXIST")
        assert http.get(f"/api/2.0/mlflow-artifacts/artifacts/{folder}/half.bin").status_code == 404


def test_parts_s3_will_not_join_are_a_client_error(
    s3: dict[str, Any],
    moto: MotoS3,  # noqa: F811
    folder: str,
) -> None:
    with httpx.Client(base_url=s3["server"].url) as http:
        upload = http.post(f"{MPU}/create/{folder}", json={"path": "x.bin", "num_parts": 2}).json()
        small = [httpx.put(c["url"], content=b"tiny").headers["ETag"] for c in upload["credentials"]]

        def complete(parts: list[dict[str, Any]]) -> httpx.Response:
            return http.post(
                f"{MPU}/complete/{folder}", json={"path": "x.bin", "upload_id": upload["upload_id"], "parts": parts}
            )

        wrong_etag = complete([{"part_number": 1, "etag": '"0000"'}])
        assert "InvalidPart" in _error(wrong_etag, 400, "INVALID_PARAMETER_VALUE")
        too_small = complete([{"part_number": n, "etag": e} for n, e in enumerate(small, 1)])  # 4 bytes, not the last
        assert "EntityTooSmall" in _error(too_small, 400, "INVALID_PARAMETER_VALUE")
        twice = complete([{"part_number": 1, "etag": small[0]}, {"part_number": 1, "etag": small[0]}])
        assert "part 1 twice" in _error(twice, 400, "INVALID_PARAMETER_VALUE")
        for number in (0, -1, 10_001):
            _error(complete([{"part_number": number, "etag": small[0]}]), 400, "INVALID_PARAMETER_VALUE")
        assert "parts[0].etag" in _error(complete([{"part_number": 1}]), 400, "INVALID_PARAMETER_VALUE")
        # Still there, and still completable: the refusals changed nothing.
        assert [u["UploadId"] for u in _uploads(moto, s3["bucket"])] == [upload["upload_id"]]
        assert complete([{"part_number": 2, "etag": small[1]}]).status_code == 200  # one part: the last may be small
        assert http.get(f"/api/2.0/mlflow-artifacts/artifacts/{folder}/x.bin").content == b"tiny"


@pytest.mark.parametrize(
    ("action", "url_path", "body", "status", "code", "words"),
    [
        ("create", "%2e%2e/x", {"path": "a.bin"}, 400, "INVALID_PARAMETER_VALUE", "Invalid path"),
        ("create", "1/..%2f..%2fx", {"path": "a.bin"}, 400, "INVALID_PARAMETER_VALUE", "Invalid path"),
        ("complete", "%2e%2e/x", {}, 400, "INVALID_PARAMETER_VALUE", "Invalid path"),
        ("abort", "/etc", {}, 400, "INVALID_PARAMETER_VALUE", "Invalid path"),
        ("create", "1/r/artifacts", {}, 400, "INVALID_PARAMETER_VALUE", "'path'"),
        ("create", "1/r/artifacts", {"path": "/tmp/dir/"}, 400, "INVALID_PARAMETER_VALUE", "names no file"),
        ("create", "1/r/artifacts", {"path": "/tmp/.."}, 400, "INVALID_PARAMETER_VALUE", "names no file"),
        ("create", "1/r/artifacts", {"path": "."}, 400, "INVALID_PARAMETER_VALUE", "names no file"),
        ("create", "1/r/artifacts", {"path": "%2e%2e"}, 400, "INVALID_PARAMETER_VALUE", "Invalid path"),
        ("create", "1/r/artifacts", {"path": "a.bin", "num_parts": -1}, 400, "INVALID_PARAMETER_VALUE", "num_parts"),
        (
            "create",
            "1/r/artifacts",
            {"path": "a.bin", "num_parts": 10_001},
            400,
            "INVALID_PARAMETER_VALUE",
            "num_parts",
        ),  # fmt: skip
        ("create", "1/r/artifacts", {"path": "a.bin", "num_parts": "x"}, 400, "INVALID_PARAMETER_VALUE", "num_parts"),
        ("create", "1/" + "d" * 1100, {"path": "a.bin"}, 400, "INVALID_PARAMETER_VALUE", "1,024 bytes"),
        ("complete", "1/r/artifacts", {"path": "a.bin", "parts": []}, 400, "INVALID_PARAMETER_VALUE", "'upload_id'"),
        ("complete", "1/r/artifacts", {"path": "a.bin", "upload_id": "u"}, 400, "INVALID_PARAMETER_VALUE", "'parts'"),
        (
            "complete",
            "1/r/artifacts",
            {"path": "a.bin", "upload_id": "no-such", "parts": [{"part_number": 1, "etag": "e"}]},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "no-such",
        ),  # fmt: skip
        (
            "complete",
            "1/r/artifacts",
            {"path": "a.bin", "upload_id": "no-such", "parts": []},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "no-such",
        ),  # fmt: skip
        (
            "abort",
            "1/r/artifacts",
            {"path": "a.bin", "upload_id": "no-such"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "no-such",
        ),
        (
            "abort",
            "1/r/artifacts",
            {"path": "a.bin", "upload_id": "u" * 2000},
            400,
            "INVALID_PARAMETER_VALUE",
            "upload_id",
        ),  # fmt: skip
        ("bogus", "1/r/artifacts", {"path": "a.bin"}, 404, "ENDPOINT_NOT_FOUND", ""),
    ],
)
def test_bad_paths_bodies_and_upload_ids_are_clear_client_errors(
    s3: dict[str, Any],
    moto: MotoS3,  # noqa: F811
    action: str,
    url_path: str,
    body: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    answer = httpx.post(f"{s3['server'].url}{MPU}/{action}/{url_path}", json=body)
    assert words in _error(answer, status, code)
    assert _uploads(moto, s3["bucket"]) == []


def test_a_presigned_download_of_what_is_not_a_file_is_refused(s3: dict[str, Any], folder: str) -> None:
    url = s3["server"].url
    assert httpx.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/{folder}/d/f.txt", content=b"x").status_code == 200
    _error(httpx.get(f"{url}{PRESIGNED}/{folder}/missing.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert "directory" in _error(httpx.get(f"{url}{PRESIGNED}/{folder}/d"), 400, "INVALID_PARAMETER_VALUE")
    _error(httpx.get(f"{url}{PRESIGNED}/%2e%2e/outside.txt"), 400, "INVALID_PARAMETER_VALUE")
    assert httpx.get(f"{url}{PRESIGNED}/{folder}/d/f.txt").json()["file_size"] == 1


# -- with --auth: the rules of uploads and downloads -----------------------------------------------------


def test_with_auth_a_multipart_upload_needs_edit_and_a_presigned_download_read(
    moto: MotoS3,  # noqa: F811
    tmp_path: Path,
) -> None:
    server, bucket = _s3_server(
        moto, f"sqlite:///{tmp_path / 'tracklet.db'}", TRACKLET_AUTH="1", TRACKLET_ADMIN_PASSWORD=ADMIN[1]
    )
    try:
        with httpx.Client(base_url=server.url, auth=ADMIN) as admin:
            for user in ("reader", "stranger"):
                assert admin.post(
                    "/api/2.0/mlflow/users/create", json={"username": user, "password": user * 2}
                ).is_success
            experiment_id = admin.post("/api/2.0/mlflow/experiments/create", json={"name": "guarded"}).json()[
                "experiment_id"
            ]
            admin.post(
                "/api/2.0/mlflow/experiments/permissions/create",
                json={"experiment_id": experiment_id, "username": "stranger", "permission": "NO_PERMISSIONS"},
            ).raise_for_status()
            folder = f"{experiment_id}/run/artifacts"
            assert admin.put(f"/api/2.0/mlflow-artifacts/artifacts/{folder}/f.txt", content=b"x").is_success
            created = admin.post(f"{MPU}/create/{folder}", json={"path": "a.bin", "num_parts": 1})
            assert created.status_code == 200
            upload_id = created.json()["upload_id"]

        def as_user(name: str, method: str, path: str, body: Any = None) -> int:
            return httpx.request(method, f"{server.url}{path}", json=body, auth=(name, name * 2)).status_code

        for action, body in [("create", {"path": "b.bin", "num_parts": 1}), ("abort", {"path": "a.bin", "upload_id": upload_id}),
                             ("complete", {"path": "a.bin", "upload_id": upload_id, "parts": []})]:  # fmt: skip
            assert as_user("reader", "POST", f"{MPU}/{action}/{folder}", body) == 403  # READ by default
            assert as_user("stranger", "POST", f"{MPU}/{action}/{folder}", body) == 403
        assert (
            as_user("reader", "POST", f"{MPU}/create/", {"path": f"{experiment_id}"}) == 403
        )  # the root: no experiment
        assert as_user("reader", "GET", f"{PRESIGNED}/{folder}/f.txt") == 200
        assert as_user("stranger", "GET", f"{PRESIGNED}/{folder}/f.txt") == 403
        assert [u["UploadId"] for u in _uploads(moto, bucket)] == [upload_id]  # the refused calls changed nothing
    finally:
        server.stop()


def test_the_recorded_mlflow_refusals_are_the_local_answers() -> None:
    """The bodies this module expects of a local store are those MLflow's server was recorded answering."""
    samples = Path(__file__).resolve().parents[1] / "fixtures" / "mlflow-wire-samples.jsonl"
    recorded = {}
    for line in samples.read_text().splitlines():
        entry = json.loads(line)
        if "/mpu/" in entry["endpoint"] or "/presigned/" in entry["endpoint"]:
            recorded[entry["endpoint"].split()[1].split("/")[4]] = entry["error_example"]["response"]["body"]
    assert recorded == {"mpu": NO_UPLOADS, "presigned": NO_DOWNLOADS}


@pytest.mark.parametrize("endpoint", ["minio:9000", "ftp://minio", "http://"])
def test_a_presigned_endpoint_that_is_no_url_is_refused_at_start(endpoint: str) -> None:
    from tracklet.artifacts.s3 import S3ArtifactStore
    from tracklet.errors import InvalidParameterValue

    with pytest.raises(InvalidParameterValue, match="expected http"):
        S3ArtifactStore("s3://bucket/prefix", client=object(), presigned_endpoint=endpoint)
