"""The artifact store interface. Implementations are picked by URI scheme in `tracklet.artifacts`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio.to_thread

from tracklet.entities import FileInfo
from tracklet.errors import InvalidParameterValue, NotImplementedByServer, ResourceDoesNotExist

READ_CHUNK = 1024 * 1024  # a file up to this size is read in the hop that finds it
# MLflow's own words: its client falls back to sending the file through the server when a refusal to
# start a multipart upload begins with the first (and on a 501 for a presigned download).
NO_MULTIPART_UPLOADS = "Multipart upload is not supported for the current artifact repository"
NO_MULTIPART_DOWNLOADS = "Multipart download is not supported for the current artifact repository"


class Readable(Protocol):
    """A blocking source of bytes: an open file, or boto3's StreamingBody."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class OpenedFile:
    """A file found and about to be read: its size (known before any byte is sent) and its bytes."""

    size: int
    chunks: AsyncGenerator[bytes, None]


def opened(size: int, content: bytes | Readable) -> OpenedFile:
    """An `OpenedFile` of bytes read already (a small file) or of a source to read in chunks, in worker
    threads (a blocking read must not hold the event loop), and to close after the last."""
    return OpenedFile(size, _whole(content) if isinstance(content, bytes) else _streamed(content))


async def _whole(data: bytes) -> AsyncGenerator[bytes, None]:
    if data:
        yield data


async def _streamed(source: Readable) -> AsyncGenerator[bytes, None]:
    try:
        while chunk := await anyio.to_thread.run_sync(source.read, READ_CHUNK):
            yield chunk
    finally:
        source.close()


@dataclass(frozen=True)
class PresignedPart:
    """Where a client sends one part of a multipart upload itself: a URL to PUT the bytes to, with
    these headers; the store's answer carries the part's ETag."""

    part_number: int
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class MultipartUpload:
    upload_id: str
    parts: list[PresignedPart]


@dataclass(frozen=True)
class PresignedDownload:
    """Where a client reads a file itself (in ranges, in parallel), with these headers."""

    url: str
    headers: dict[str, str]
    size: int


class ArtifactStore(ABC):
    """Files under one root, addressed by clean relative POSIX paths (see `paths.clean_path`)."""

    # Whether clients may send and read files straight to and from the store, by presigned URLs (multipart
    # uploads, direct downloads). A store that cannot answers MLflow's NOT_IMPLEMENTED, as MLflow's server
    # does for a local folder, and clients then send every byte through the server.
    presigns = False

    @abstractmethod
    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> int:
        """Store a file streamed in chunks, replacing any file at `path`; returns its size."""

    @abstractmethod
    async def open(self, path: str) -> OpenedFile:
        """Find a file, in one look-up: ResourceDoesNotExist if missing, InvalidParameterValue for a folder,
        raised before any byte is sent. A small file may come read already."""

    async def read(self, path: str) -> AsyncIterator[bytes]:
        """Stream a file's bytes (errors as `open`'s)."""
        opened = await self.open(path)
        async for chunk in opened.chunks:
            yield chunk

    async def read_small_files(self, paths: Sequence[str]) -> list[bytes | None]:
        """Several small files whole (traces' spans), None for each that is missing or a folder. Read
        concurrently here; a store overrides it where one call for all is cheaper."""

        async def one(path: str) -> bytes | None:
            try:
                return b"".join([chunk async for chunk in self.read(path)])
            except (ResourceDoesNotExist, InvalidParameterValue):
                return None

        return list(await asyncio.gather(*(one(path) for path in paths)))

    @abstractmethod
    async def list(self, path: str) -> list[FileInfo]:
        """Direct children of a folder; empty when `path` is a file or does not exist."""

    @abstractmethod
    async def delete(self, path: str) -> None:
        """Delete a file or a folder tree; ResourceDoesNotExist if missing."""

    async def remove_unfinished_uploads(self, started_before: float, *, dry_run: bool = False) -> int:
        """Remove what uploads cut short by a killed server left behind, begun before `started_before`
        (seconds since the epoch): never visible as artifacts, but taking space. Returns how many (with
        `dry_run`, how many there are). A store that leaves nothing behind has nothing to do."""
        return 0

    async def create_multipart_upload(self, path: str, num_parts: int) -> MultipartUpload:
        """Begin an upload of `path` whose `num_parts` parts the client sends itself, numbered from 1."""
        raise NotImplementedByServer(NO_MULTIPART_UPLOADS)

    async def complete_multipart_upload(self, path: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        """Make the file of the parts sent, given as (part number, ETag) in ascending order; none: an empty
        file. ResourceDoesNotExist for an upload the store does not know (completed, aborted, never begun)."""
        raise NotImplementedByServer(NO_MULTIPART_UPLOADS)

    async def abort_multipart_upload(self, path: str, upload_id: str) -> None:
        """Drop an upload and the parts sent; ResourceDoesNotExist as for `complete_multipart_upload`."""
        raise NotImplementedByServer(NO_MULTIPART_UPLOADS)

    async def presigned_download(self, path: str) -> PresignedDownload:
        """A URL to read a file from (errors as `open`'s)."""
        raise NotImplementedByServer(NO_MULTIPART_DOWNLOADS)
