"""Helpers of the model tests: real processes on free loopback ports, the tutorial's data split."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd

import tracklet

SRC = Path(tracklet.__file__).resolve().parents[1]
# The project's own copy of the tutorial's data set (from ../shared/data).
WINE = Path(os.environ.get("TRACKLET_WINE_CSV", Path(__file__).resolve().parents[2] / "examples/data/wine-quality.csv"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that must import this checkout of tracklet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        # The server was started in its own session: its process group id is its PID.
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_server(cmd: list[str], port: int, log: Path, *, ready_path: str, timeout: float, **env: str) -> ServerProcess:
    """Start `cmd` and wait until GET `ready_path` answers 200 on `port`."""
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=subprocess_env(**env), start_new_session=True
        )
    server = ServerProcess(url, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + ready_path, timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{cmd[:4]} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class WineSplit:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def wine_split() -> WineSplit:
    """The tutorial's 75/25 split with a fixed random_state."""
    from sklearn.model_selection import train_test_split

    data = pd.read_csv(WINE)
    X, y = data.drop(columns="quality"), data["quality"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)
    return WineSplit(X_train, X_test, y_train, y_test)
