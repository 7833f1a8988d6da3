"""Every setting of the server, declared once: name, default, environment variable and help.

The CLI builds its options from this list and docs/settings.md is checked against it by a test.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    env: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "TRACKLET_HOST", "Address to listen on."),
    Setting("port", 5000, "TRACKLET_PORT", "Port to listen on."),
    Setting(
        "backend_store_uri",
        None,
        "TRACKLET_BACKEND_STORE_URI",
        "Metadata store: sqlite:///path/to/file.db or postgresql://user:pass@host/db. "
        "Default: sqlite:///<data dir>/tracklet.db.",
    ),
    Setting(
        "artifacts_destination",
        None,
        "TRACKLET_ARTIFACTS_DESTINATION",
        "Where artifacts are stored: a local folder (or s3://bucket/prefix). Default: <data dir>/artifacts.",
    ),
    Setting(
        "s3_presigned_endpoint_url",
        None,
        "TRACKLET_S3_PRESIGNED_ENDPOINT_URL",
        "With s3:// artifacts: the S3 endpoint written into the presigned URLs clients send parts to and read "
        "files from (MLflow's multipart uploads and downloads), where clients reach the object store at "
        "another address than the server does. Default: the server's own endpoint.",
    ),
    Setting(
        "s3_direct_transfers",
        False,
        "TRACKLET_S3_DIRECT_TRANSFERS",
        "With s3:// artifacts: tell MLflow's clients (in /api/3.0/mlflow/server-info) to upload large "
        "artifacts in parts and download artifacts straight to and from S3 by presigned URLs, as `mlflow "
        "server` does on S3; they must reach the URLs' endpoint. Off, only clients that ask "
        "(MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD / _DOWNLOAD=true) do.",
    ),
    Setting("workers", 1, "TRACKLET_WORKERS", "Number of server worker processes."),
    Setting(
        "data_dir",
        "tracklet-data",
        "TRACKLET_DATA_DIR",
        "Folder of the embedded default store (SQLite file + artifact folder), relative to the current folder.",
    ),
    Setting(
        "expose_prometheus",
        None,
        "TRACKLET_EXPOSE_PROMETHEUS",
        "Serve Prometheus metrics of the requests at /metrics, kept in this folder (shared by the workers, "
        "emptied at start).",
    ),
    Setting(
        "auth",
        False,
        "TRACKLET_AUTH",
        "Require a user name and password (HTTP Basic) on every request and enforce permissions per "
        "experiment and registered model. The first start creates an admin from TRACKLET_ADMIN_USERNAME "
        "(default admin) and TRACKLET_ADMIN_PASSWORD.",
    ),
    Setting(
        "auth_default_permission",
        "READ",
        "TRACKLET_AUTH_DEFAULT_PERMISSION",
        "With --auth: what a user may do where no permission was granted to them: READ, EDIT, MANAGE or "
        "NO_PERMISSIONS.",
    ),
    Setting(
        "enable_workspaces",
        False,
        "TRACKLET_ENABLE_WORKSPACES",
        "Partition the server into named workspaces, as `mlflow server --enable-workspaces`: clients pick one "
        "with the X-MLflow-Workspace header (mlflow.set_workspace) and see only its experiments and models.",
    ),
    Setting(
        "webhook_destinations",
        None,
        "TRACKLET_WEBHOOK_DESTINATIONS",
        "Where registry webhooks may send: private (any address but link-local and cloud metadata ones), "
        "public (public addresses only, as MLflow) or loopback (this machine only). Default: private with "
        "--auth (only admins make webhooks), public without (anyone who reaches the server may).",
    ),
    Setting(
        "webhook_timeout",
        30.0,
        "TRACKLET_WEBHOOK_TIMEOUT",
        "Seconds a webhook delivery waits to connect and for each read of the answer, per attempt.",
    ),
)

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    backend_store_uri: str | None = None
    artifacts_destination: str | None = None
    s3_presigned_endpoint_url: str | None = None
    s3_direct_transfers: bool = False
    workers: int = 1
    data_dir: str = "tracklet-data"
    expose_prometheus: str | None = None
    auth: bool = False
    auth_default_permission: str = "READ"
    enable_workspaces: bool = False
    webhook_destinations: str | None = None  # None: `webhook_policy` decides by --auth
    webhook_timeout: float = 30.0

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, overridden by TRACKLET_* environment variables, overridden by explicit values."""
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = os.environ.get(setting.env)
            if raw is None:
                continue
            if isinstance(setting.default, bool):
                values[setting.name] = raw.strip().lower() in _TRUE
            else:
                values[setting.name] = type(setting.default)(raw) if setting.default is not None else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def store_uri(self) -> str:
        if self.backend_store_uri:
            return self.backend_store_uri
        return "sqlite:///" + str((Path(self.data_dir) / "tracklet.db").resolve())

    @property
    def artifact_root(self) -> str:
        if self.artifacts_destination:
            return self.artifacts_destination
        return str((Path(self.data_dir) / "artifacts").resolve())

    @property
    def webhook_policy(self) -> str:
        """Where webhooks may send unless told: without --auth anyone who reaches the server may make a
        webhook, and the server's network is no business of theirs."""
        return self.webhook_destinations or ("private" if self.auth else "public")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def admin_credentials() -> tuple[str, str | None]:
    """The first admin's user name and password, from TRACKLET_ADMIN_USERNAME / TRACKLET_ADMIN_PASSWORD
    (or MLflow's MLFLOW_AUTH_ADMIN_USERNAME / MLFLOW_AUTH_ADMIN_PASSWORD). Secrets, so never options:
    a command line is visible to every user of the machine."""
    username = os.environ.get("TRACKLET_ADMIN_USERNAME") or os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME") or "admin"
    password = os.environ.get("TRACKLET_ADMIN_PASSWORD") or os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD")
    return username, password


def webhook_secret_keys() -> list[str]:
    """The keys webhook secrets are encrypted with at rest, from TRACKLET_WEBHOOK_SECRET_KEY: Fernet keys
    separated by commas, the first encrypting (`tracklet/webhooks/secrets.py`). A secret, so never an
    option; unset: secrets are stored unencrypted."""
    return [key.strip() for key in os.environ.get("TRACKLET_WEBHOOK_SECRET_KEY", "").split(",") if key.strip()]
