"""The artifact stores behave the same: a local folder and S3 (moto's real S3-protocol server)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from tests.support.processes import MotoS3
from tracklet.artifacts import artifact_store_for
from tracklet.artifacts.base import READ_CHUNK, ArtifactStore
from tracklet.artifacts.local import LocalArtifactStore
from tracklet.artifacts.paths import clean_path
from tracklet.artifacts.s3 import S3ArtifactStore, part_size
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch) -> ArtifactStore:  # type: ignore[no-untyped-def]
    if request.param == "local":
        return artifact_store_for(str(tmp_path / "artifacts"))
    moto: MotoS3 = request.getfixturevalue("moto")
    for key, value in moto.env().items():
        monkeypatch.setenv(key, value)
    bucket = "b" + uuid.uuid4().hex[:12]
    moto.create_bucket(bucket)
    return artifact_store_for(f"s3://{bucket}/root/prefix")


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read_all(store: ArtifactStore, path: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(path)])


def test_a_file_round_trips_and_is_listed_with_its_size(store: ArtifactStore) -> None:
    async def scenario() -> None:
        await store.write("1/run/artifacts/dir/a.txt", _chunks(b"hello"))
        await store.write("1/run/artifacts/b.bin", _chunks(b"\x00" * 10))
        assert await _read_all(store, "1/run/artifacts/dir/a.txt") == b"hello"
        assert (await store.open("1/run/artifacts/b.bin")).size == 10
        listing = {(f.path, f.is_dir, f.file_size) for f in await store.list("1/run/artifacts")}
        assert listing == {("dir", True, None), ("b.bin", False, 10)}
        assert [(f.path, f.is_dir) for f in await store.list("")] == [("1", True)]  # the root

    anyio.run(scenario)


def test_a_file_or_missing_path_lists_as_empty(store: ArtifactStore) -> None:
    async def scenario() -> None:
        await store.write("x/file.txt", _chunks(b"1"))
        assert await store.list("x/file.txt") == []
        assert await store.list("nowhere") == []

    anyio.run(scenario)


def test_missing_files_and_folders_are_reported(store: ArtifactStore) -> None:
    async def scenario() -> None:
        await store.write("d/inner/f.txt", _chunks(b"1"))
        with pytest.raises(ResourceDoesNotExist):
            await store.open("d/missing.txt")
        with pytest.raises(InvalidParameterValue):
            await store.open("d/inner")
        with pytest.raises(ResourceDoesNotExist):
            await store.delete("d/missing.txt")

    anyio.run(scenario)


def test_overwrite_replaces_and_delete_removes_a_tree(store: ArtifactStore) -> None:
    async def scenario() -> None:
        await store.write("t/a.txt", _chunks(b"old"))
        await store.write("t/a.txt", _chunks(b"new!"))
        assert await _read_all(store, "t/a.txt") == b"new!"
        await store.write("t/sub/b.txt", _chunks(b"b"))
        await store.delete("t")
        assert await store.list("t") == []

    anyio.run(scenario)


def test_files_named_with_control_characters_are_deleted_like_any_other(store: ArtifactStore) -> None:
    # S3's DeleteObjects names keys in XML, which cannot hold these (a 500 from `delete` until then).
    names = ["t/vertical\x0btab", "t/carriage\rreturn", "t/not-a-char\ufffe", "t/plain.txt", "alone\x01"]

    async def scenario() -> None:
        for name in names:
            await store.write(name, _chunks(b"x"))
        await store.delete("alone\x01")
        await store.delete("t")
        assert await store.list("t") == [] and await store.list("") == []

    anyio.run(scenario)


@pytest.mark.slow
def test_a_path_the_store_cannot_hold_is_refused_before_anything_is_written(store: ArtifactStore) -> None:
    # A local file name holds 255 bytes, an S3 key 1,024: over both, refused the same way by every call.
    too_long = "1/run/artifacts/" + "/".join(["é" * 200] * 3)

    async def scenario() -> None:
        for call in (
            store.write(too_long, _chunks(b"x")),
            store.open(too_long),
            _read_all(store, too_long),
            store.list(too_long),
            store.delete(too_long),
        ):
            with pytest.raises(InvalidParameterValue, match="Invalid path"):
                await call
        assert await store.list("1/run/artifacts") == []

    anyio.run(scenario)


def _leave_an_unfinished_upload(store: ArtifactStore, path: str) -> None:
    """What a server killed in the middle of an upload leaves behind."""
    if isinstance(store, LocalArtifactStore):
        folder = store.root / path.rpartition("/")[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".upload-cut-short").write_bytes(b"half")
    else:
        assert isinstance(store, S3ArtifactStore)
        key = store._key(path)
        upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
        store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"half")


def test_uploads_cut_short_are_found_and_removed_by_age(store: ArtifactStore) -> None:
    async def scenario() -> None:
        await store.write("1/run/artifacts/kept.txt", _chunks(b"kept"))
        _leave_an_unfinished_upload(store, "1/run/artifacts/big.bin")
        if isinstance(store, LocalArtifactStore):  # moto dates every multipart upload 2010-11-10
            assert await store.remove_unfinished_uploads(time.time() - 3600) == 0  # begun too recently
        assert await store.remove_unfinished_uploads(time.time() + 60, dry_run=True) == 1
        assert await store.remove_unfinished_uploads(time.time() + 60) == 1
        assert await store.remove_unfinished_uploads(time.time() + 60) == 0
        assert await _read_all(store, "1/run/artifacts/kept.txt") == b"kept"
        assert [f.path for f in await store.list("1/run/artifacts")] == ["kept.txt"]

    anyio.run(scenario)


def test_a_large_file_streams_through_in_parts(store: ArtifactStore) -> None:
    data = os.urandom(20 * 1024 * 1024 + 123)  # more than two S3 parts

    async def scenario() -> None:
        size = await store.write("big/file.bin", _chunks(data, 1024 * 1024))
        assert size == len(data)
        back = await _read_all(store, "big/file.bin")
        assert hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest()

    anyio.run(scenario)


def test_an_upload_whose_sender_fails_midway_leaves_nothing(store: ArtifactStore) -> None:
    # Several S3 parts are on their way when the source fails: they are aborted, not left to be billed.
    async def failing() -> AsyncIterator[bytes]:
        for _ in range(18):
            yield os.urandom(1024 * 1024)
        raise ConnectionResetError("the client went away")

    async def scenario() -> None:
        with pytest.raises(ConnectionResetError):
            await store.write("cut/file.bin", failing())
        assert await store.list("cut") == []
        assert await store.remove_unfinished_uploads(time.time() + 60, dry_run=True) == 0

    anyio.run(scenario)


def test_s3_parts_grow_so_that_an_upload_may_hold_hundreds_of_gigabytes() -> None:
    assert part_size(0) == part_size(999) == 5 * 2**20  # S3's least: small uploads hold little memory
    assert sum(part_size(i) for i in range(10_000)) > 250 * 2**30  # S3 takes 10,000 parts at most


def test_opening_a_file_gives_its_size_before_its_bytes(store: ArtifactStore) -> None:
    small, large = b"s" * 1000, os.urandom(READ_CHUNK * 2 + 7)  # read at once / streamed in chunks

    async def scenario() -> None:
        for path, data in (("o/small.txt", small), ("o/large.bin", large), ("o/empty", b"")):
            await store.write(path, _chunks(data))
            found = await store.open(path)
            assert found.size == len(data)
            chunks = [chunk async for chunk in found.chunks]
            assert b"".join(chunks) == data
            assert all(chunks) and len(chunks) == -(-len(data) // READ_CHUNK)

    anyio.run(scenario)


def test_a_download_under_way_keeps_its_bytes_when_the_file_is_replaced(store: ArtifactStore) -> None:
    # The size announced (Content-Length) must stay the size of what is sent.
    before, after = b"a" * (READ_CHUNK + 10), b"b" * 5

    async def scenario() -> None:
        await store.write("r/f.bin", _chunks(before))
        found = await store.open("r/f.bin")
        await store.write("r/f.bin", _chunks(after))
        assert found.size == len(before)
        assert b"".join([chunk async for chunk in found.chunks]) == before
        assert await _read_all(store, "r/f.bin") == after

    anyio.run(scenario)


def test_a_download_from_s3_is_one_request(moto: MotoS3, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in moto.env().items():
        monkeypatch.setenv(key, value)
    bucket = "b" + uuid.uuid4().hex[:12]
    moto.create_bucket(bucket)
    store = artifact_store_for(f"s3://{bucket}/root")
    assert isinstance(store, S3ArtifactStore)
    sent: list[str] = []
    store.client.meta.events.register("before-call.s3", lambda model, **_: sent.append(model.name))

    async def scenario() -> None:
        await store.write("a/small.txt", _chunks(b"hello"))
        sent.clear()
        found = await store.open("a/small.txt")
        assert b"".join([chunk async for chunk in found.chunks]) == b"hello"
        assert sent == ["GetObject"]

    anyio.run(scenario)


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "a/../../b",
        "/abs/path",
        "a\\b",
        "C:/windows",
        "x#y",
        "a/\x00/b",
        "%2e%2e/x",
        "a/%2E%2E/%2E%2E/b",
    ],
)
def test_unsafe_paths_are_refused(bad: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        clean_path(bad)


def test_percent_signs_are_part_of_a_name() -> None:
    assert clean_path("dir/100%25.txt") == "dir/100%25.txt"


def test_a_symlink_leading_out_of_the_local_store_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = artifact_store_for(str(tmp_path / "root"))
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "outside", tmp_path / "root" / "link")

    async def scenario() -> None:
        with pytest.raises(InvalidParameterValue):
            await store.open("link/secret.txt")
        with pytest.raises(InvalidParameterValue):
            await store.write("link/new.txt", _chunks(b"x"))

    anyio.run(scenario)
    assert not (tmp_path / "outside" / "new.txt").exists()
