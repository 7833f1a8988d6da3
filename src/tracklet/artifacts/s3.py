"""Artifacts in S3-compatible object storage (`s3://bucket/prefix`).

The endpoint comes from boto3's usual configuration (`AWS_ENDPOINT_URL`, or MLflow's
`MLFLOW_S3_ENDPOINT_URL`), so MinIO, Ceph or any S3-protocol server works. Uploads are streamed as
multipart uploads in parts of `PART_SIZE` bytes, so memory stays bounded whatever the file size;
boto3 is blocking, so its calls run in worker threads.

Clients may also move bytes themselves (MLflow's proxied multipart upload and download): the store
begins, completes and aborts multipart uploads whose parts clients PUT to presigned URLs, and presigns
GETs. Those URLs are signed with SigV4 (boto3 would presign with the older SigV2 for some endpoints,
which newer regions and some S3 servers refuse) for the endpoint clients reach: `presigned_endpoint`
(`--s3-presigned-endpoint-url`) where it is not the server's own, as with a MinIO known to the server by
a private name. A signature covers the host, so the object store must see requests under that host.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import re
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote, urlparse

import anyio
import anyio.to_thread

from tracklet.artifacts.base import (
    READ_CHUNK,
    ArtifactStore,
    MultipartUpload,
    OpenedFile,
    PresignedDownload,
    PresignedPart,
    Readable,
    opened,
)
from tracklet.artifacts.paths import shown_path
from tracklet.entities import FileInfo
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist

PART_SIZE = 5 * 1024 * 1024  # S3's least (but for the last part)
PARTS_IN_FLIGHT = 2  # sent at once while the next part fills: receiving and sending overlap
MAX_KEY_BYTES = 1024
# How long presigned URLs work. A client sends all its parts within this (the URLs are made when the upload
# begins); `tracklet gc` leaves uploads younger than a day alone, so it never aborts one still under way.
PART_URL_SECONDS = 6 * 3600
DOWNLOAD_URL_SECONDS = 15 * 60  # MLflow's client asks again for a range that failed
_MISSING = ("404", "NoSuchKey", "NotFound")  # error codes of a key with no object
# What XML 1.0 cannot carry as it is (a tab can; a line break is normalized).
_NOT_IN_XML = re.compile("[^\t\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def part_size(started: int) -> int:
    """The size of an upload's next part, after `started` parts: 5 MiB, 5 MiB more every 1,000 parts, so
    that S3's 10,000 parts hold 275 GB (5 MiB parts: 50 GB) while small uploads hold little memory."""
    return PART_SIZE * (1 + started // 1000)


def _endpoint() -> str | None:
    return os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")


def _client() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=_endpoint())


def _presigner(endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint or _endpoint(), config=Config(signature_version="s3v4"))


def _code(err: Exception) -> tuple[str, int]:
    """A botocore ClientError's S3 error code and HTTP status."""
    response = getattr(err, "response", {})
    return str(response.get("Error", {}).get("Code", "")), int(
        response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    )


class S3ArtifactStore(ArtifactStore):
    presigns = True

    def __init__(self, uri: str, client: Any | None = None, presigned_endpoint: str | None = None) -> None:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidParameterValue(f"Invalid S3 URI {uri!r}: expected s3://bucket[/prefix]")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = client or _client()
        endpoint = urlparse(presigned_endpoint or "")
        if presigned_endpoint and (endpoint.scheme not in ("http", "https") or not endpoint.netloc):
            raise InvalidParameterValue(
                f"Invalid S3 endpoint for presigned URLs {presigned_endpoint!r}: expected http(s)://host[:port]"
            )
        self.presigned_endpoint = presigned_endpoint
        self._presigning: Any = None  # made at the first presigned URL: most servers never make one
        self._presigning_made = threading.Lock()  # boto3's default session is not safe to share while it makes one

    def _presign(self, operation: str, expires_in: int, **params: Any) -> str:
        """A presigned URL for `operation` (blocking: call it in a worker thread)."""
        if self._presigning is None:
            with self._presigning_made:
                if self._presigning is None:
                    self._presigning = _presigner(self.presigned_endpoint)
        url: str = self._presigning.generate_presigned_url(
            operation, Params={"Bucket": self.bucket, **params}, ExpiresIn=expires_in
        )
        return url

    def _key(self, path: str) -> str:
        key = posixpath.join(self.prefix, path) if self.prefix else path
        if len(key.encode()) > MAX_KEY_BYTES:  # S3 would answer KeyTooLongError, after the upload's bytes
            raise InvalidParameterValue(
                f"Invalid path '{shown_path(path)}': longer than S3 allows for a key (1,024 bytes)"
            )
        return key

    def _dir_prefix(self, path: str) -> str:
        key = self._key(path).rstrip("/")  # the root's key is the prefix with its slash: not two of them
        return f"{key}/" if key else ""

    async def _call(self, name: str, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: getattr(self.client, name)(**kwargs))

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> int:
        # Parts are sent while the next ones arrive, up to `PARTS_IN_FLIGHT` at a time, each from its own
        # buffer (no copy): an upload holds at most that many parts and the one being filled. 100 MB through
        # a server on moto's S3: 77-82 MB/s one part at a time, 107-109 MB/s so (8 MiB parts, two: 107-119
        # MB/s but 32-39 MB more memory against 22 MB).
        key = self._key(path)
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        sending: list[asyncio.Task[dict[str, Any]]] = []
        parts: list[dict[str, Any]] = []

        async def send(number: int, body: bytearray) -> dict[str, Any]:
            answer = await self._call(
                "upload_part", Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
            return {"ETag": answer["ETag"], "PartNumber": number}

        async def flush_part() -> None:
            nonlocal upload_id, buffer
            if upload_id is None:
                created = await self._call("create_multipart_upload", Bucket=self.bucket, Key=key)
                upload_id = created["UploadId"]
            if len(sending) >= PARTS_IN_FLIGHT:
                parts.append(await sending.pop(0))
            sending.append(asyncio.create_task(send(len(parts) + len(sending) + 1, buffer)))
            buffer = bytearray()

        try:
            async for chunk in chunks:
                buffer.extend(chunk)
                size += len(chunk)
                if len(buffer) >= part_size(len(parts) + len(sending)):
                    await flush_part()
            if upload_id is None:
                await self._call("put_object", Bucket=self.bucket, Key=key, Body=buffer)
                return size
            if buffer:
                await flush_part()
            while sending:
                parts.append(await sending.pop(0))
            await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # Shielded: an upload cut short (by the client, or cancelled) must still be aborted, or its parts
            # stay stored (and billed) until `tracklet gc` finds them; parts on their way finish first.
            with anyio.CancelScope(shield=True):
                await asyncio.gather(*sending, return_exceptions=True)
                if upload_id is not None:
                    await self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return size

    async def _head(self, path: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return await self._call("head_object", Bucket=self.bucket, Key=self._key(path))  # type: ignore[no-any-return]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in _MISSING:
                raise
        raise await self._missing(path)

    async def _missing(self, path: str) -> Exception:
        """Why there is no object at `path`: a folder (keys under it), or nothing."""
        if await self.list(path):
            return InvalidParameterValue(f"Artifact '{path}' is a directory, not a file.")
        return ResourceDoesNotExist(f"No such artifact: '{path}'")

    async def open(self, path: str) -> OpenedFile:
        # One request: GetObject answers the size, and a small file's bytes are read in the same thread
        # hop (a 1 KB download took HeadObject twice and GetObject before).
        key = self._key(path)

        def get() -> tuple[int, bytes | Readable] | None:
            from botocore.exceptions import ClientError

            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") in _MISSING:
                    return None
                raise
            size, body = int(answer["ContentLength"]), answer["Body"]
            if size > READ_CHUNK:
                return size, body
            with contextlib.closing(body):
                return size, body.read()

        found = await anyio.to_thread.run_sync(get)
        if found is None:
            raise await self._missing(path)
        return opened(*found)

    async def list(self, path: str) -> list[FileInfo]:
        prefix = self._dir_prefix(path)
        infos: list[FileInfo] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "Delimiter": "/"}
            if token:
                kwargs["ContinuationToken"] = token
            page = await self._call("list_objects_v2", **kwargs)
            for common in page.get("CommonPrefixes", []):
                infos.append(FileInfo(path=common["Prefix"][len(prefix) :].rstrip("/"), is_dir=True))
            for obj in page.get("Contents", []):
                name = obj["Key"][len(prefix) :]
                if name:
                    infos.append(FileInfo(path=name, is_dir=False, file_size=int(obj["Size"])))
            token = page.get("NextContinuationToken")
            if not token:
                break
        return sorted(infos, key=lambda f: f.path)

    async def delete(self, path: str) -> None:
        if not path:
            raise InvalidParameterValue("Refusing to delete the artifact root")
        keys: list[str] = []
        prefix = self._dir_prefix(path)
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = await self._call("list_objects_v2", **kwargs)
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not token:
                break
        try:
            await self._head(path)
            keys.append(self._key(path))
        except (ResourceDoesNotExist, InvalidParameterValue):
            pass
        if not keys:
            raise ResourceDoesNotExist(f"No such artifact: '{path}'")
        # DeleteObjects names the keys in an XML body, where a control character (or U+FFFE) cannot be
        # written, and a carriage return would come back a line feed: such keys go one at a time, named
        # in the URL, as they were written.
        one_by_one = [k for k in keys if _NOT_IN_XML.search(k)]
        batched = [k for k in keys if not _NOT_IN_XML.search(k)]
        for key in one_by_one:
            await self._call("delete_object", Bucket=self.bucket, Key=key)
        for start in range(0, len(batched), 1000):
            objects = [{"Key": k} for k in batched[start : start + 1000]]
            await self._call("delete_objects", Bucket=self.bucket, Delete={"Objects": objects})

    async def remove_unfinished_uploads(self, started_before: float, *, dry_run: bool = False) -> int:
        # Multipart uploads are aborted when they fail; one cut short by a killed server stays (its parts
        # are stored, and billed) until aborted.
        removed = 0
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._dir_prefix("")}
        while True:
            page = await self._call("list_multipart_uploads", **kwargs)
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() < started_before:
                    if not dry_run:
                        await self._call(
                            "abort_multipart_upload", Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    removed += 1
            if not page.get("IsTruncated"):
                return removed
            kwargs["KeyMarker"], kwargs["UploadIdMarker"] = page["NextKeyMarker"], page["NextUploadIdMarker"]

    # -- transfers clients make themselves (presigned URLs) ------------------------------------------------

    async def create_multipart_upload(self, path: str, num_parts: int) -> MultipartUpload:
        key = self._key(path)
        created = await self._call("create_multipart_upload", Bucket=self.bucket, Key=key)
        upload_id: str = created["UploadId"]

        def sign() -> list[PresignedPart]:
            # ~0.5 ms of botocore each (10,000 parts: 5 s), so off the event loop.
            return [
                PresignedPart(
                    number,
                    self._presign("upload_part", PART_URL_SECONDS, Key=key, UploadId=upload_id, PartNumber=number),
                    {},
                )
                for number in range(1, num_parts + 1)
            ]

        try:
            parts = await anyio.to_thread.run_sync(sign)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return MultipartUpload(upload_id, parts)

    async def complete_multipart_upload(self, path: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        from botocore.exceptions import ClientError

        key = self._key(path)
        try:
            if not parts:  # an empty file: S3 completes no upload without a part
                await self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)
                await self._call("put_object", Bucket=self.bucket, Key=key, Body=b"")
                return
            listed = {"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]}
            await self._call(
                "complete_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload=listed
            )
        except ClientError as err:
            raise await self._refused(err, path, key, upload_id) from None

    async def abort_multipart_upload(self, path: str, upload_id: str) -> None:
        from botocore.exceptions import ClientError

        key = self._key(path)
        try:
            await self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as err:
            raise await self._refused(err, path, key, upload_id) from None

    async def _refused(self, err: Exception, path: str, key: str, upload_id: str) -> Exception:
        """What to answer for S3's refusal of an upload: 404 for an upload it does not know, 400 for parts
        it will not join (missing, ETags that do not match, a part under 5 MiB but the last), else `err`
        (an outage: 5xx, which clients retry)."""
        from botocore.exceptions import ClientError

        code, status = _code(err)
        if status >= 500:
            # Some S3 servers (moto) fail to complete an upload they do not know with a 500: ask whether it is.
            try:
                await self._call("list_parts", Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=1)
            except ClientError as again:
                code, status = _code(again)
        if code == "NoSuchUpload" or status == 404:
            return ResourceDoesNotExist(
                f"No multipart upload '{shown_path(upload_id)}' of '{shown_path(path)}': it was completed or aborted, "
                "or never begun"
            )
        if 400 <= status < 500 and status != 403:
            message = getattr(err, "response", {}).get("Error", {}).get("Message", "")
            return InvalidParameterValue(f"The multipart upload of '{shown_path(path)}' was refused: {code}: {message}")
        return err

    async def presigned_download(self, path: str) -> PresignedDownload:
        head = await self._head(path)  # its size, known before any range is asked for; 404 or 400 as `open`
        filename = posixpath.basename(path)
        url = await anyio.to_thread.run_sync(
            lambda: self._presign(
                "get_object",
                DOWNLOAD_URL_SECONDS,
                Key=self._key(path),
                ResponseContentDisposition=f"attachment; filename*=UTF-8''{quote(filename)}",
            )
        )
        return PresignedDownload(url, {}, int(head["ContentLength"]))
