"""Start a server on a fresh data folder and a free loopback port, watch its memory, stop it.

Memory is the resident set (RSS) summed over the whole process tree (MLflow runs a CLI parent,
a uvicorn master and workers); shared pages are counted once per process, as `ps` does.

A `-pg` variant stores metadata in PostgreSQL and artifacts in S3 (`ScaleOut`: one throwaway
PostgreSQL cluster and one S3-protocol server on loopback, shared by every server of the run, each
server with its own database and bucket). Their processes are not part of a server's memory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.proctree import stop_tree, tree_pss, tree_rss

SERVER_NAMES_HELP = "tracklet, mlflow, then -pg (PostgreSQL + S3) and/or -wN (N workers): tracklet-pg-w4, mlflow-w1"


@dataclass(frozen=True)
class ServerSpec:
    """A server variant: `tracklet` or `mlflow`, optionally `-pg` (PostgreSQL + S3) then `-wN` (N workers)."""

    name: str
    kind: str
    workers: int | None = None
    store: str = "sqlite"  # "sqlite" (+ local artifacts) or "pg" (PostgreSQL + S3)

    @classmethod
    def parse(cls, text: str) -> ServerSpec:
        kind, *options = text.split("-")
        store = "pg" if options[:1] == ["pg"] else "sqlite"
        options = options[1:] if store == "pg" else options
        workers = options[0][1:] if len(options) == 1 and options[0].startswith("w") else None
        if kind not in ("tracklet", "mlflow") or len(options) > 1 or (options and not (workers or "").isdigit()):
            raise ValueError(f"unknown server {text!r}: use {SERVER_NAMES_HELP}")
        return cls(text, kind, int(workers) if workers else None, store)


class ScaleOut:
    """PostgreSQL and an S3-protocol server on loopback for the `-pg` variants: one database and bucket each.

    The same throwaway services the test suite uses (tests/support/processes.py): PostgreSQL via
    initdb/pg_ctl (as the `postgres` user when run as root), moto's standalone S3 server.
    """

    def __init__(self) -> None:
        from tests.support.processes import MotoS3, ThrowawayPostgres

        self.postgres = ThrowawayPostgres()
        self.s3 = MotoS3()

    def start(self) -> ScaleOut:
        self.postgres.start()
        try:
            self.s3.start()
        except Exception:
            self.postgres.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self.s3.stop()
        finally:
            self.postgres.stop()

    def provision(self, name: str) -> tuple[str, str]:
        """A fresh database and bucket for one server: (backend store URI, artifacts destination)."""
        slug = "bench_" + "".join(c if c.isalnum() else "_" for c in name)
        # psycopg 3 for both: SQLAlchemy (and so MLflow) takes the `+psycopg` driver as tracklet does.
        uri = self.postgres.create_database(slug).replace("postgresql://", "postgresql+psycopg://")
        bucket = slug.replace("_", "-")
        self.s3.create_bucket(bucket)
        return uri, f"s3://{bucket}/artifacts"

    def env(self) -> dict[str, str]:
        # boto3 reads AWS_ENDPOINT_URL; MLflow's S3 artifact repository reads MLFLOW_S3_ENDPOINT_URL.
        return {**self.s3.env(), "MLFLOW_S3_ENDPOINT_URL": self.s3.url}

    def database_bytes(self, uri: str) -> int:
        import psycopg

        with psycopg.connect(uri.replace("+psycopg", "")) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def bucket_bytes(self, destination: str) -> int:
        bucket = destination.removeprefix("s3://").split("/", 1)[0]
        pages = self.s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    spec: ServerSpec
    python: str
    folder: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)
    scale_out: ScaleOut | None = None  # the PostgreSQL + S3 services of a `-pg` variant
    backend_uri: str = ""
    artifacts_destination: str = ""
    extra_args: tuple[str, ...] = ()  # after the common options (`--auth`, `--app-name basic-auth`)
    extra_env: dict[str, str] = field(default_factory=dict)
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.folder / f"{self.spec.kind}.db"

    def command(self) -> list[str]:
        if self.spec.kind == "tracklet":
            launcher = [self.python, "-m", "tracklet"]
        else:
            mlflow_bin = Path(self.python).parent / "mlflow"
            launcher = [str(mlflow_bin)] if mlflow_bin.exists() else [self.python, "-m", "mlflow"]
        # Both servers take the same options (tracklet named its options after mlflow server's).
        cmd = [
            *launcher, "server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", self.backend_uri or f"sqlite:///{self.db_path}",
            "--artifacts-destination", self.artifacts_destination or str(self.folder / "artifacts"),
        ]  # fmt: skip
        if self.spec.workers is not None:
            cmd += ["--workers", str(self.spec.workers)]
        return [*cmd, *self.extra_args]

    def start(self, timeout: float = 180.0) -> float:
        """Start the server; returns seconds from spawn to the first 200 on /health."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = dict(
            os.environ,
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
            MLFLOW_DISABLE_TELEMETRY="true",
            DO_NOT_TRACK="true",
            **self.extra_env,
        )
        if self.spec.store == "pg":
            if self.scale_out is None:
                raise RuntimeError(f"{self.spec.name} needs PostgreSQL and S3 (ScaleOut)")
            self.backend_uri, self.artifacts_destination = self.scale_out.provision(self.spec.name)
            env.update(self.scale_out.env())
        self._log = (self.folder / "server.log").open("wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.folder,
            start_new_session=True,
        )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.proc.returncode}; see {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{self.spec.name} not healthy after {timeout:.0f} s; {self.log_tail()}")
            time.sleep(0.02)
        self.startup_s = time.perf_counter() - t0
        return self.startup_s

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = (self.folder / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "log tail:\n" + "\n".join(text[-lines:])

    def rss(self) -> int:
        return tree_rss(self.proc.pid) if self.proc else 0

    def pss(self) -> int | None:
        return tree_pss(self.proc.pid) if self.proc else None

    def peak_rss(self, t0: float = 0.0, t1: float = float("inf")) -> int:
        return max((rss for t, rss in self.samples if t0 <= t <= t1), default=0)

    def disk_bytes(self) -> dict[str, int]:
        if self.scale_out is not None and self.backend_uri:
            return {
                "db_bytes": self.scale_out.database_bytes(self.backend_uri),
                "artifact_bytes": self.scale_out.bucket_bytes(self.artifacts_destination),
            }
        db = sum(p.stat().st_size for p in self.folder.glob(self.db_path.name + "*"))
        art = sum(p.stat().st_size for p in (self.folder / "artifacts").rglob("*") if p.is_file())
        return {"db_bytes": db, "artifact_bytes": art}

    def stop(self) -> None:
        """Terminate the whole process tree by PID, then kill what is left."""
        try:
            self._stop_tree()
        finally:
            if self._log is not None:
                self._log.close()

    def _stop_tree(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_tree(self.proc.pid)
        self.proc.wait(timeout=10)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class MemorySampler(threading.Thread):
    """Samples every server's tree RSS in the background (peaks between requests are caught)."""

    def __init__(self, servers: list[Server], interval: float = 0.2) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.servers, self.interval = servers, interval
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.perf_counter()
            for server in self.servers:
                server.samples.append((now, server.rss()))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
