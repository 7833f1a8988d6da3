"""A real tracklet server seeded with the UI demo data, shared by the UI tests of one module, and the
headless Chromium the browser tests drive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.support.processes import TrackletServer
from tests.ui.browsing import ARGS, CHROMIUM
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need the `playwright` package: pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, ui_server: SeededServer) -> Iterator[Any]:
    """A fresh browser context on the module's server; fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: d.accept())
    pg.set_default_timeout(15_000)
    pg.base = ui_server.url  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
