"""A TCP relay on loopback that counts the bytes it carries: put in front of a server, it tells how many
bytes clients really sent it and received from it (what never reached it went elsewhere)."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from tests.support.processes import free_port


@dataclass
class CountingRelay:
    """Relays connections from `url` to 127.0.0.1:`target_port`, counting bytes `sent` (client → server)
    and `received` (server → client)."""

    target_port: int
    port: int = field(default_factory=free_port)
    sent: int = 0
    received: int = 0
    _listener: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CountingRelay:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def reset(self) -> None:
        with self._lock:
            self.sent = self.received = 0

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed by stop()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, to_server: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if to_server:
                        self.sent += len(data)
                    else:
                        self.received += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
