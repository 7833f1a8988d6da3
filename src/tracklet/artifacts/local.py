"""Artifacts in a local folder. Uploads go to a temporary file first and are renamed into place,
so a reader never sees half a file and a failed upload leaves nothing behind."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import anyio

from tracklet.artifacts.base import READ_CHUNK, ArtifactStore, OpenedFile, opened
from tracklet.artifacts.paths import shown_path
from tracklet.entities import FileInfo
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist

_UPLOAD_PREFIX = ".upload-"  # an upload's temporary file, renamed into place when complete


@contextmanager
def _possible(path: str) -> Iterator[None]:
    """A path the file system cannot hold is the caller's mistake (400), not the server's (500)."""
    try:
        yield
    except OSError as err:
        shown = shown_path(path)
        if err.errno == errno.ENAMETOOLONG:
            raise InvalidParameterValue(
                f"Invalid path '{shown}': a name in it is longer than the file system allows (255 bytes)"
            ) from None
        if err.errno in (errno.ENOTDIR, errno.EEXIST):
            raise InvalidParameterValue(f"Invalid path '{shown}': it goes through a file, not a directory") from None
        raise


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.name_max = os.pathconf(self.root, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255

    def _resolve(self, path: str) -> Path:
        target = (self.root / path).resolve() if path else self.root
        # Symlinks inside the store must not lead outside of it.
        if target != self.root and self.root not in target.parents:
            raise InvalidParameterValue("Invalid path")
        # A name too long for the file system, said the same way by every operation (by an upload before, not
        # after, its bytes arrive). Names already on disk fit, so only those of `path` are looked at, and
        # only when the whole of it is too long for one name (most requests: one length check).
        if len(os.fsencode(path)) > self.name_max and any(
            len(os.fsencode(name)) > self.name_max for name in path.split("/")
        ):
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), path)
        return target

    def _file(self, path: str) -> Path:
        with _possible(path):
            target = self._resolve(path)
            if target.is_dir():
                raise InvalidParameterValue(f"Artifact '{path}' is a directory, not a file.")
            if not target.is_file():
                raise ResourceDoesNotExist(f"No such artifact: '{path}'")
        return target

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> int:
        with _possible(path):
            target = self._resolve(path)
            if target == self.root or target.is_dir():
                raise InvalidParameterValue(f"Artifact '{path}' is a directory, not a file.")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=_UPLOAD_PREFIX)
            size = 0
            try:
                with os.fdopen(fd, "wb") as tmp:
                    async for chunk in chunks:
                        tmp.write(chunk)
                        size += len(chunk)
                os.replace(tmp_name, target)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        return size

    async def open(self, path: str) -> OpenedFile:
        # One thread hop finds, opens and (when small) reads the file; its size is the open file's, so
        # it is the size of the bytes sent even if an upload replaces the file meanwhile.
        def find() -> tuple[int, bytes | BinaryIO]:
            f = self._file(path).open("rb")
            size = os.fstat(f.fileno()).st_size
            if size > READ_CHUNK:
                return size, f
            with f:
                return size, f.read()

        return opened(*await anyio.to_thread.run_sync(find))

    async def read_small_files(self, paths: Sequence[str]) -> list[bytes | None]:
        # All in one thread hop: a hop costs more than reading a small local file (10 traces' spans:
        # 5.5 ms in concurrent reads, each opening, reading and closing in hops of its own).
        def read_all() -> list[bytes | None]:
            found: list[bytes | None] = []
            for path in paths:
                try:
                    found.append(self._file(path).read_bytes())
                except (ResourceDoesNotExist, InvalidParameterValue, OSError):
                    found.append(None)
            return found

        return await anyio.to_thread.run_sync(read_all)

    async def list(self, path: str) -> list[FileInfo]:
        with _possible(path):
            target = self._resolve(path)
            if not target.is_dir():
                return []
        infos = []
        for entry in sorted(os.scandir(target), key=lambda e: e.name):
            if entry.name.startswith(_UPLOAD_PREFIX):
                continue
            if entry.is_dir():
                infos.append(FileInfo(path=entry.name, is_dir=True))
            else:
                infos.append(FileInfo(path=entry.name, is_dir=False, file_size=entry.stat().st_size))
        return infos

    async def delete(self, path: str) -> None:
        with _possible(path):
            target = self._resolve(path)
            if target == self.root:
                raise InvalidParameterValue("Refusing to delete the artifact root")
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            else:
                raise ResourceDoesNotExist(f"No such artifact: '{path}'")

    async def remove_unfinished_uploads(self, started_before: float, *, dry_run: bool = False) -> int:
        def remove() -> int:
            removed = 0
            for folder, _dirs, files in os.walk(self.root):
                for name in files:
                    path = Path(folder, name)
                    with contextlib.suppress(FileNotFoundError):  # finished (renamed) meanwhile
                        if name.startswith(_UPLOAD_PREFIX) and path.stat().st_mtime < started_before:
                            if not dry_run:
                                path.unlink()
                            removed += 1
            return removed

        return await anyio.to_thread.run_sync(remove)
