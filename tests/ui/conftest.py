"""A real tracklet server seeded with the UI demo data, shared by the UI tests of one module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import TrackletServer
from tests.ui.seed import Seeded, seed


class SeededServer:
    def __init__(self, server: TrackletServer, data: Seeded) -> None:
        self.server = server
        self.url = server.url
        self.data = data
        self.http = httpx.Client(base_url=server.url, timeout=60)


def _seeded(store_uri: str, tmp: Path) -> Iterator[SeededServer]:
    server = TrackletServer(store_uri, str(tmp / "artifacts")).start()
    try:
        yield SeededServer(server, seed(server.url))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    """On SQLite (the browser tests)."""
    tmp: Path = tmp_path_factory.mktemp("ui")
    yield from _seeded(f"sqlite:///{tmp / 'tracklet.db'}", tmp)


@pytest.fixture(scope="module", params=BACKENDS)
def any_ui_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    """On each backend (the endpoint tests): the SQL of the UI must read the same on SQLite and PostgreSQL."""
    tmp: Path = tmp_path_factory.mktemp("ui")
    yield from _seeded(_store_uri(request.param, tmp, request), tmp)
