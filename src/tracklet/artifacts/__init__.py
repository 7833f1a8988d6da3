"""Artifact stores, chosen by the URI scheme of `--artifacts-destination`."""

from __future__ import annotations

from tracklet.artifacts.base import ArtifactStore
from tracklet.errors import InvalidParameterValue


def artifact_store_for(uri: str) -> ArtifactStore:
    if uri.startswith("s3://"):
        from tracklet.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(uri)
    if "://" in uri and not uri.startswith("file://"):
        raise InvalidParameterValue(f"Unsupported artifact destination {uri!r}: use a local folder or s3://")
    from tracklet.artifacts.local import LocalArtifactStore

    return LocalArtifactStore(uri.removeprefix("file://"))


__all__ = ["ArtifactStore", "artifact_store_for"]
