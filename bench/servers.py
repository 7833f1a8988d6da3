"""Start a server on a fresh data folder and a free loopback port, watch its memory, stop it.

Memory is the resident set (RSS) summed over the whole process tree (MLflow runs a CLI parent,
a uvicorn master and workers); shared pages are counted once per process, as `ps` does.
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

from bench.proctree import stop_tree, tree_rss


@dataclass(frozen=True)
class ServerSpec:
    """A server variant: `tracklet`, `mlflow`, or either with `-wN` for N workers (`mlflow-w1`)."""

    name: str
    kind: str
    workers: int | None = None

    @classmethod
    def parse(cls, text: str) -> ServerSpec:
        kind, _, rest = text.partition("-w")
        if kind not in ("tracklet", "mlflow") or (rest and not rest.isdigit()):
            raise ValueError(f"unknown server {text!r}: use tracklet, mlflow, tracklet-w2, mlflow-w1 ...")
        return cls(text, kind, int(rest) if rest else None)


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
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.folder / f"{self.spec.kind}.db"

    def command(self) -> list[str]:
        db = f"sqlite:///{self.db_path}"
        if self.spec.kind == "tracklet":
            launcher = [self.python, "-m", "tracklet"]
        else:
            mlflow_bin = Path(self.python).parent / "mlflow"
            launcher = [str(mlflow_bin)] if mlflow_bin.exists() else [self.python, "-m", "mlflow"]
        # Both servers take the same options (tracklet named its options after mlflow server's).
        cmd = [
            *launcher, "server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", db,
            "--artifacts-destination", str(self.folder / "artifacts"),
        ]  # fmt: skip
        if self.spec.workers is not None:
            cmd += ["--workers", str(self.spec.workers)]
        return cmd

    def start(self, timeout: float = 180.0) -> float:
        """Start the server; returns seconds from spawn to the first 200 on /health."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = dict(
            os.environ,
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
            MLFLOW_DISABLE_TELEMETRY="true",
            DO_NOT_TRACK="true",
        )
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

    def peak_rss(self, t0: float = 0.0, t1: float = float("inf")) -> int:
        return max((rss for t, rss in self.samples if t0 <= t <= t1), default=0)

    def disk_bytes(self) -> dict[str, int]:
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
