"""Artifact path checks shared by every artifact store (reference §c "Path safety")."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from tracklet.errors import InvalidParameterValue

_DRIVE = re.compile(r"^[a-zA-Z]:")


def clean_path(raw: str | None, *, allow_empty: bool = True) -> str:
    """A normalized relative POSIX path, or InvalidParameterValue("Invalid path")."""
    path = unquote(raw or "")
    if path in ("", "/") and allow_empty:
        return ""
    if (
        "\\" in path
        or "#" in path
        or "\x00" in path
        or path.startswith("/")
        or _DRIVE.match(path)
        or any(part == ".." for part in path.split("/"))
    ):
        raise InvalidParameterValue("Invalid path")
    normalized = posixpath.normpath(path)
    if normalized.startswith("..") or normalized.startswith("/"):
        raise InvalidParameterValue("Invalid path")
    return "" if normalized == "." else normalized
