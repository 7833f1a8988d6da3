"""The artifact store interface. Implementations are picked by URI scheme in `tracklet.artifacts`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio.to_thread

from tracklet.entities import FileInfo
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist

READ_CHUNK = 1024 * 1024  # a file up to this size is read in the hop that finds it


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


class ArtifactStore(ABC):
    """Files under one root, addressed by clean relative POSIX paths (see `paths.clean_path`)."""

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
