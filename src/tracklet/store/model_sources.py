"""The `source` of a new model version: what it points at, and MLflow's rules for accepting it.

A source names where a version's files are: `models:/<model_id>` (a logged model, what MLflow 3's
`register_model` sends), `models:/<name>/<version|stage>` or `models:/<name>@<alias>` (another
registered version), `runs:/<run_id>/<path>`, an artifact-proxy URI (`mlflow-artifacts:/…`), a
local path, or any other storage URI (`s3://…`). The server refuses sources that could reach files
the version's run or logged model does not own (relative segments, artifact URIs outside the run's
root), as MLflow 3.17's server does. The lookups live in the registry store; this module only parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus, urlparse, urlsplit

from tracklet.errors import InvalidParameterValue

__all__ = [
    "ModelUri",
    "check_no_relative_paths",
    "invalid_source",
    "is_local",
    "is_proxied_artifact",
    "local_within",
    "parse_model_uri",
    "uri_within",
]


@dataclass(frozen=True)
class ModelUri:
    """A parsed `models:/` URI: exactly one of `model_id`, `version`, `stage`, `alias` or `latest`."""

    model_id: str | None = None
    name: str | None = None
    version: str | None = None
    stage: str | None = None
    alias: str | None = None

    @property
    def latest(self) -> bool:
        return self.name is not None and not (self.version or self.stage or self.alias)


def invalid_source(source: str, owner: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid model version source: '{source}'. The {owner} request parameter must identify the "
        "resource that contains the source."
    )


def parse_model_uri(source: str) -> ModelUri:
    """`models:/<model_id>`, `models:/<name>/<version>`, `models:/<name>/<stage>`, `models:/<name>/latest`
    or `models:/<name>@<alias>`."""
    improper = invalid_source(source, "model_id")  # what MLflow's server answers for a malformed one
    path = urlparse(source, allow_fragments=False).path
    if not path.startswith("/") or len(path) <= 1:
        raise improper
    parts = path.lstrip("/").split("/")
    if len(parts) > 2 or not parts[0].strip():
        raise improper
    if len(parts) == 2:
        name, suffix = parts
        if not suffix.strip():
            raise improper
        if suffix.isdigit():
            return ModelUri(name=name, version=suffix)
        if suffix.lower() == "latest":
            return ModelUri(name=name)
        return ModelUri(name=name, stage=suffix)
    if "@" in parts[0]:
        name, _, alias = parts[0].rpartition("@")
        if not alias.strip():
            raise improper
        return ModelUri(name=name, alias=alias)
    return ModelUri(model_id=parts[0])


def check_no_relative_paths(source: str) -> None:
    """No `..` or `.` segments and no NUL, however often percent-encoded."""
    decoded = source
    while (once := unquote_plus(decoded)) != decoded:
        decoded = once
    path = re.sub(r"/+", "/", urlparse(decoded).path.rstrip("/"))
    if "\x00" in path or any(part in (".", "..") for part in path.split("/")) or ".." in decoded.split("/"):
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. If supplying a source as an http, https, local file "
            "path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without "
            "relative path references present. Please provide an absolute path."
        )


def is_local(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or bool(re.match(r"^[a-zA-Z]:[\\/]", uri))


def _parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    parsed = urlsplit(uri)
    segments = []
    for part in parsed.path.split("/"):
        while (once := unquote(part)) != part:
            part = once
        if part:
            segments.append(part)
    return parsed.scheme.lower(), parsed.netloc.lower(), tuple(segments)


def is_proxied_artifact(uri: str) -> bool:
    """`mlflow-artifacts:/…`, or the same files through the proxy's HTTP route."""
    scheme, _, parts = _parts(uri)
    if scheme == "mlflow-artifacts":
        return True
    route = ("api", "2.0", "mlflow-artifacts", "artifacts")
    return scheme in ("http", "https") and any(parts[i : i + 4] == route for i in range(len(parts) - 3))


def uri_within(uri: str, root: str) -> bool:
    """Whether `uri` lies under `root` (same scheme and host, root's path a prefix of uri's)."""
    scheme, host, parts = _parts(uri)
    root_scheme, root_host, root_parts = _parts(root)
    return (scheme, host) == (root_scheme, root_host) and bool(root_parts) and parts[: len(root_parts)] == root_parts


def local_within(path: str, root: str) -> bool:
    """A local source under a local artifact root (both as paths or `file:` URIs)."""
    if not (is_local(path) and is_local(root)):
        return False
    return uri_within("file://" + _local_path(path), "file://" + _local_path(root))


def _local_path(uri: str) -> str:
    import os.path

    path = urlparse(uri).path if uri.startswith("file:") else uri
    return os.path.realpath(path)
