"""Artifact stores, chosen by the URI scheme of `--artifacts-destination`."""

from __future__ import annotations

from tracklet.artifacts.base import ArtifactStore
from tracklet.errors import InvalidParameterValue


def artifact_store_for(uri: str, *, presigned_endpoint: str | None = None) -> ArtifactStore:
    """The store of `uri`; `presigned_endpoint`: where clients reach S3, if not at the server's endpoint."""
    if uri.startswith("s3://"):
        from tracklet.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(uri, presigned_endpoint=presigned_endpoint)
    if "://" in uri and not uri.startswith("file://"):
        raise InvalidParameterValue(f"Unsupported artifact destination {uri!r}: use a local folder or s3://")
    from tracklet.artifacts.local import LocalArtifactStore

    return LocalArtifactStore(uri.removeprefix("file://"))


__all__ = ["ArtifactStore", "artifact_store_for"]
