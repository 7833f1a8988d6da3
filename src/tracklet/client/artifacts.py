"""Artifacts for `TrackletClient`: a run's files (uploaded, written from Python objects, listed,
downloaded), and the same by artifact URI for runs and logged models alike."""

from __future__ import annotations

import json
import mimetypes
import os
import posixpath
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from tracklet import entities, errors
from tracklet.client.transport import ARTIFACTS_PREFIX, Transport

if TYPE_CHECKING:
    from tracklet.client.runs import Run

__all__ = ["ArtifactsMixin"]


class _ArtifactLocation:
    """Where an artifact URI points: the server's proxy (`mlflow-artifacts:`) or a local folder."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        if uri.startswith("mlflow-artifacts:"):
            rest = uri[len("mlflow-artifacts:") :]
            if rest.startswith("//"):  # mlflow-artifacts://host:port/path: same protocol, we assume our server
                rest = "/" + rest[2:].partition("/")[2]
            self.proxy: str | None = rest.strip("/")
            self.local: Path | None = None
        elif uri.startswith(("http://", "https://")) and ARTIFACTS_PREFIX in uri:
            self.proxy = urlparse(uri).path.split(ARTIFACTS_PREFIX, 1)[1].strip("/")
            self.local = None
        elif uri.startswith("file:"):
            self.proxy, self.local = None, Path(unquote(urlparse(uri).path))
        elif "://" not in uri:
            self.proxy, self.local = None, Path(uri)
        else:
            raise errors.NotImplementedByServer(f"tracklet's client cannot reach artifact URI {uri!r}")

    def join(self, path: str | None) -> str:
        assert self.proxy is not None
        return posixpath.join(self.proxy, path.strip("/")) if path and path.strip("/") else self.proxy


class ArtifactsMixin:
    """`TrackletClient`'s artifacts."""

    transport: Transport
    _artifact_uris: dict[str, str]

    if TYPE_CHECKING:

        def get_run(self, run_id: str) -> Run: ...  # RunsMixin's

    # -- artifacts of runs ----------------------------------------------------------------------

    def _run_artifact_uri(self, run_id: str) -> str:
        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self.get_run(run_id).info.artifact_uri
        return uri

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Upload one file into the run's artifacts (under `artifact_path` when given)."""
        self.upload_artifacts_to(self._run_artifact_uri(run_id), os.fspath(local_path), artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Upload the contents of a folder (recursively) into the run's artifacts."""
        local_dir = Path(local_dir)
        if not local_dir.is_dir():
            raise errors.InvalidParameterValue(f"log_artifacts: {str(local_dir)!r} is not a folder")
        self.upload_artifacts_to(self._run_artifact_uri(run_id), os.fspath(local_dir), artifact_path)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        """Write `data` as the artifact file `artifact_file` (a path relative to the run's artifact root)."""
        loc = _ArtifactLocation(self._run_artifact_uri(run_id))
        if loc.proxy is not None:
            ctype = mimetypes.guess_type(artifact_file)[0] or "application/octet-stream"
            self.transport.put_bytes(loc.join(artifact_file), data, ctype)
        else:
            assert loc.local is not None
            dst = loc.local / artifact_file
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """JSON, or YAML when `artifact_file` ends in .yaml/.yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dict(dictionary), sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """A matplotlib or plotly figure; the format follows the file extension (.png, .svg, .html …)."""
        suffix = Path(artifact_file).suffix.lower()
        module = type(figure).__module__
        if module.startswith("matplotlib"):
            import io

            buf = io.BytesIO()
            figure.savefig(buf, format=suffix.lstrip(".") or "png")
            data = buf.getvalue()
        elif module.startswith("plotly"):
            if suffix == ".html":
                data = figure.to_html().encode()
            else:
                data = figure.to_image(format=suffix.lstrip(".") or "png")
        else:
            raise errors.InvalidParameterValue(
                f"log_figure expects a matplotlib or plotly figure, got {type(figure).__qualname__}"
            )
        self.log_bytes(run_id, data, artifact_file)

    def log_image(self, run_id: str, image: Any, artifact_file: str) -> None:
        """A PIL image or a numpy array (HxW, HxWx3 or HxWx4; floats in [0, 1] or integers in [0, 255])."""
        import io

        from PIL import Image

        if not isinstance(image, Image.Image):
            image = Image.fromarray(_to_uint8(image))
        buf = io.BytesIO()
        image.save(buf, format=Image.registered_extensions().get(Path(artifact_file).suffix.lower(), "PNG"))
        self.log_bytes(run_id, buf.getvalue(), artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[entities.FileInfo]:
        """Direct children of `path`, with paths relative to the run's artifact root (like MLflow)."""
        loc = _ArtifactLocation(self._run_artifact_uri(run_id))
        prefix = (path or "").strip("/")
        if loc.proxy is not None:
            files = self.transport.list_artifacts(loc.join(prefix))
            return [
                entities.FileInfo(
                    path=posixpath.join(prefix, f["path"]) if prefix else f["path"],
                    is_dir=bool(f.get("is_dir", False)),
                    file_size=f.get("file_size"),
                )
                for f in files
            ]
        assert loc.local is not None
        folder = loc.local / prefix
        if not folder.is_dir():
            return []
        return [
            entities.FileInfo(
                path=posixpath.join(prefix, p.name) if prefix else p.name,
                is_dir=p.is_dir(),
                file_size=None if p.is_dir() else p.stat().st_size,
            )
            for p in sorted(folder.iterdir())
        ]

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Download a file or folder of the run's artifacts; returns the local path."""
        return self.download_artifacts_from(self._run_artifact_uri(run_id), path, dst_path)

    # -- artifacts by URI (runs and logged models) ----------------------------------------------

    def upload_artifacts_to(self, artifact_uri: str, local_dir_or_file: str, artifact_path: str | None = None) -> None:
        """Upload a file, or a folder's contents recursively, under `artifact_uri[/artifact_path]`.

        `artifact_uri` is `mlflow-artifacts:/…` (through the server's proxy, one streamed PUT per file)
        or a local path / `file://` URI (copied directly).
        """
        src = Path(local_dir_or_file)
        if not src.exists():
            raise errors.InvalidParameterValue(f"No such file or folder: {str(src)!r}")
        if src.is_dir():
            files = [(p, p.relative_to(src).as_posix()) for p in sorted(src.rglob("*")) if p.is_file()]
        else:
            files = [(src, src.name)]
        base = (artifact_path or "").strip("/")
        loc = _ArtifactLocation(artifact_uri)
        for local, rel in files:
            dest = posixpath.join(base, rel) if base else rel
            if loc.proxy is not None:
                ctype = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
                self.transport.put_file(loc.join(dest), local, ctype)
            else:
                assert loc.local is not None
                (loc.local / dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local, loc.local / dest)

    def download_artifacts_from(self, artifact_uri: str, path: str, dst_path: str | None = None) -> str:
        """Download `path` (file or folder, relative to `artifact_uri`) into `dst_path`; returns the local path."""
        dst_root = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="tracklet-"))
        dst_root.mkdir(parents=True, exist_ok=True)
        rel = (path or "").strip("/")
        loc = _ArtifactLocation(artifact_uri)
        target = dst_root / rel if rel else dst_root
        if loc.local is not None:
            src = loc.local / rel
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            elif src.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
            else:
                raise errors.ResourceDoesNotExist(f"No such artifact: {rel!r} under {artifact_uri}")
            return str(target.resolve())
        self._download_proxy(loc, rel, dst_root)
        return str(target.resolve())

    def _download_proxy(self, loc: _ArtifactLocation, rel: str, dst_root: Path) -> None:
        children = self.transport.list_artifacts(loc.join(rel))
        if not children:
            if rel:  # a file (or missing: the GET answers 404 then)
                self.transport.download_file(loc.join(rel), dst_root / rel)
            return
        (dst_root / rel).mkdir(parents=True, exist_ok=True)
        for child in children:
            sub = posixpath.join(rel, child["path"]) if rel else child["path"]
            if child.get("is_dir"):
                self._download_proxy(loc, sub, dst_root)
            else:
                self.transport.download_file(loc.join(sub), dst_root / sub)


def _to_uint8(array: Any) -> Any:
    import numpy as np

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise errors.InvalidParameterValue(f"log_image: expected HxW, HxWx3 or HxWx4, got shape {a.shape}")
    if a.dtype.kind == "f":
        if a.size and (a.min() < 0 or a.max() > 1):
            raise errors.InvalidParameterValue("log_image: float images must have values in [0, 1]")
        a = (a * 255).round()
    elif a.dtype.kind in "iu" and a.size and (a.min() < 0 or a.max() > 255):
        raise errors.InvalidParameterValue("log_image: integer images must have values in [0, 255]")
    return a.astype(np.uint8)
