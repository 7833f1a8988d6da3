"""The artifact store interface. Implementations are picked by URI scheme in `tracklet.artifacts`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from tracklet.entities import FileInfo


class ArtifactStore(ABC):
    """Files under one root, addressed by clean relative POSIX paths (see `paths.clean_path`)."""

    @abstractmethod
    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> int:
        """Store a file streamed in chunks, replacing any file at `path`; returns its size."""

    @abstractmethod
    def read(self, path: str) -> AsyncIterator[bytes]:
        """Stream a file's bytes; ResourceDoesNotExist if missing, InvalidParameterValue for a folder."""

    @abstractmethod
    async def size(self, path: str) -> int:
        """Size of a file; ResourceDoesNotExist if missing, InvalidParameterValue for a folder."""

    @abstractmethod
    async def list(self, path: str) -> list[FileInfo]:
        """Direct children of a folder; empty when `path` is a file or does not exist."""

    @abstractmethod
    async def delete(self, path: str) -> None:
        """Delete a file or a folder tree; ResourceDoesNotExist if missing."""
