"""The artifact store interface. Implementations are picked by URI scheme in `tracklet.artifacts`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence

from tracklet.entities import FileInfo
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist


class ArtifactStore(ABC):
    """Files under one root, addressed by clean relative POSIX paths (see `paths.clean_path`)."""

    @abstractmethod
    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> int:
        """Store a file streamed in chunks, replacing any file at `path`; returns its size."""

    @abstractmethod
    def read(self, path: str) -> AsyncIterator[bytes]:
        """Stream a file's bytes; ResourceDoesNotExist if missing, InvalidParameterValue for a folder."""

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
    async def size(self, path: str) -> int:
        """Size of a file; ResourceDoesNotExist if missing, InvalidParameterValue for a folder."""

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
