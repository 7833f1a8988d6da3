"""Artifact path checks shared by every artifact store (reference §c "Path safety")."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from tracklet.errors import InvalidParameterValue

_DRIVE = re.compile(r"^[a-zA-Z]:")


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
