"""Plain HTTP over one kept-alive connection, and the small timing helpers all workloads share.

No client library: bodies are bytes built before timing starts, responses are bytes until a
workload chooses to parse them. TCP_NODELAY is set so the client never adds Nagle delays.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar
from urllib.parse import urlencode, urlsplit

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
JSON_HEADERS = {"Content-Type": "application/json"}


class HTTPFailure(RuntimeError):
    """The server answered a benchmark request with something other than 200."""


class Conn:
    """One kept-alive HTTP/1.1 connection; reconnects (and counts it) if the server closed it."""

    def __init__(self, base_url: str, timeout: float = 900.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self.reconnects = 0
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in (0, 1):
            conn = self._conn = self._conn or self._connect()
            try:
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    conn.close()
                    self._conn = None
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # An idle keep-alive connection closed by the server between workloads.
                conn.close()
                self._conn = None
                self.reconnects += 1
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: bytes) -> bytes:
        status, data = self.request("POST", path, body, JSON_HEADERS)
        if status != 200:
            raise HTTPFailure(f"POST {path} -> {status}: {data[:300]!r}")
        return data

    def get(self, path: str, params: list[tuple[str, Any]] | None = None) -> bytes:
        url = path + ("?" + urlencode(params) if params else "")
        status, data = self.request("GET", url)
        if status != 200:
            raise HTTPFailure(f"GET {url} -> {status}: {data[:300]!r}")
        return data

    def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return json.loads(self.post(path, body(payload)) or b"{}")

    def get_json(self, path: str, params: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
        return json.loads(self.get(path, params) or b"{}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def experiment_id(conn: Conn, name: str) -> str:
    """The id of experiment `name`, created if it does not exist."""
    status, data = conn.request("GET", f"{API}/experiments/get-by-name?" + urlencode({"experiment_name": name}))
    if status == 200:
        return str(json.loads(data)["experiment"]["experiment_id"])
    return str(conn.post_json(f"{API}/experiments/create", {"name": name})["experiment_id"])


# -- timing ------------------------------------------------------------------------------------


@dataclass
class Clock:
    """Wall time and this process's CPU time of one timed block (the client's own share)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    _w0: float = field(default=0.0, repr=False)
    _c0: float = field(default=0.0, repr=False)

    def __enter__(self) -> Self:
        self._c0 = time.process_time()
        self._w0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s += time.perf_counter() - self._w0
        self.cpu_s += time.process_time() - self._c0

    def as_dict(self) -> dict[str, float]:
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s}


T = TypeVar("T")


def timed(reps: int, call: Callable[[], T]) -> tuple[list[float], T]:
    """Run `call` `reps` times; the seconds each took, and the last answer (for verification)."""
    times: list[float] = []
    answer: T | None = None
    for _ in range(reps):
        t0 = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - t0)
    assert answer is not None
    return times, answer


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000.0


def percentile_ms(seconds: list[float], pct: float) -> float:
    ordered = sorted(seconds)
    index = min(len(ordered) - 1, max(0, round(pct / 100.0 * len(ordered)) - 1))
    return ordered[index] * 1000.0


STALL_S = 0.035  # MLflow's multi-worker mode stalls ~40 ms per kept-alive response


def stall_pct(seconds: list[float]) -> float:
    return 100.0 * sum(1 for s in seconds if s >= STALL_S) / max(1, len(seconds))
