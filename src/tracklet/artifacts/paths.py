"""Artifact paths: the checks shared by every artifact store (reference §c "Path safety"), and the
server's own artifact URIs (`mlflow-artifacts:`)."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from tracklet.errors import InvalidParameterValue

_DRIVE = re.compile(r"^[a-zA-Z]:")
# Artifact URIs the server hands out: paths under its `--artifacts-destination`, served by its proxy API.
PROXY_SCHEME = "mlflow-artifacts:"


def _unsafe(path: str) -> bool:
    return (
        "\\" in path
        or "#" in path
        or "\x00" in path
        or path.startswith("/")
        or _DRIVE.match(path) is not None
        or any(part == ".." for part in path.split("/"))
    )


def clean_path(raw: str | None, *, allow_empty: bool = True) -> str:
    """A normalized relative POSIX path, or InvalidParameterValue("Invalid path").

    `raw` is already URL-decoded by the HTTP layer and is kept as it is (a file may be named `%41`);
    like MLflow, a path that would become unsafe when decoded once more (`%252e%252e`) is refused too."""
    path = raw or ""
    if path in ("", "/") and allow_empty:
        return ""
    if _unsafe(path) or _unsafe(unquote(path)):
        raise InvalidParameterValue("Invalid path")
    normalized = posixpath.normpath(path)
    if normalized.startswith("..") or normalized.startswith("/"):
        raise InvalidParameterValue("Invalid path")
    return "" if normalized == "." else normalized


def shown_path(path: str) -> str:
    """A path as an error message quotes it: the first 100 characters of a long one."""
    return path if len(path) <= 100 else path[:100] + "…"


def proxy_path(artifact_uri: str) -> str | None:
    """`mlflow-artifacts:/1/<run>/artifacts` → `1/<run>/artifacts` (None for other schemes)."""
    if not artifact_uri.startswith(PROXY_SCHEME):
        return None
    rest = artifact_uri[len(PROXY_SCHEME) :]
    if rest.startswith("//"):  # mlflow-artifacts://host:port/path
        rest = rest[2:].partition("/")[2]
    return rest.strip("/")
