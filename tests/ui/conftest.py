"""A real tracklet server seeded with the UI demo data, shared by the UI tests of one module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import TrackletServer
from tests.ui.seed import Seeded, seed


class SeededServer:
    def __init__(self, server: TrackletServer, data: Seeded) -> None:
        self.server = server
        self.url = server.url
        self.data = data
        self.http = httpx.Client(base_url=server.url, timeout=60)


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    tmp: Path = tmp_path_factory.mktemp("ui")
    server = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", str(tmp / "artifacts")).start()
    try:
        yield SeededServer(server, seed(server.url))
    finally:
        server.stop()
