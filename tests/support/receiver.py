"""A webhook receiver for tests: a threaded `http.server` on a free loopback port that records what it
is sent and answers as told, per path (`/status/503`, `/hang`, `/flaky/503` once then 200)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event(self) -> str:
        return f"{self.payload['entity']}.{self.payload['action']}"


@dataclass
class Receiver:
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # lets `/hang` requests go
    _seen_flaky: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                status = 200
                if self.path.startswith("/hang"):
                    receiver.release.wait(60)
                elif self.path.startswith("/status/"):
                    status = int(self.path.split("/")[2])
                elif self.path.startswith("/flaky/") and self.path not in receiver._seen_flaky:
                    receiver._seen_flaky.add(self.path)
                    status = int(self.path.split("/")[2])
                answer = f"received {self.path}".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.on(path)) >= count:
                return self.on(path)
            time.sleep(0.02)
        raise AssertionError(f"{path}: {len(self.on(path))} of {count} deliveries within {timeout}s: {self.on(path)}")

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
