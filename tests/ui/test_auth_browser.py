"""The web UI of a server started with `--auth`: the browser signs in (HTTP Basic, as it does when the
server asks), every page and JSON request of the UI then carries the user, and each user sees only the
experiments they may read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import TrackletServer

pytestmark = pytest.mark.browser

ADMIN = ("admin", "admin-password-ui")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    tmp: Path = tmp_path_factory.mktemp("ui-auth")
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": ADMIN[1]}
    server = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", str(tmp / "artifacts"), env=env).start()
    yield server
    server.stop()


def _user_with_a_run(server: TrackletServer) -> tuple[tuple[str, str], str, str]:
    """A new user, an experiment of theirs with one named run: (credentials, experiment id, run name)."""
    credentials = (f"ui{uuid.uuid4().hex[:6]}", uuid.uuid4().hex)
    with httpx.Client(base_url=f"{server.url}/api/2.0/mlflow", timeout=30) as http:
        http.post("/users/create", json=dict(zip(("username", "password"), credentials, strict=True)), auth=ADMIN)
        experiment = http.post("/experiments/create", json={"name": f"exp-{credentials[0]}"}, auth=credentials)
        experiment_id = experiment.json()["experiment_id"]
        run_name = f"run-of-{credentials[0]}"
        http.post("/runs/create", json={"experiment_id": experiment_id, "run_name": run_name}, auth=credentials)
    return credentials, experiment_id, run_name


def _page_as(browser: Any, server: TrackletServer, credentials: tuple[str, str] | None) -> Any:
    signed_in = {"http_credentials": {"username": credentials[0], "password": credentials[1]}} if credentials else {}
    page = browser.new_context(**signed_in).new_page()
    page.set_default_timeout(15_000)
    page.base = server.url
    return page


def test_a_signed_in_user_browses_their_runs_and_not_the_experiments_hidden_from_them(
    browser: Any, guarded: TrackletServer
) -> None:  # type: ignore[no-untyped-def]
    (alice, alice_experiment, alice_run) = _user_with_a_run(guarded)
    (bob, _, _) = _user_with_a_run(guarded)
    grant = {
        "username": bob[0],
        "resource_type": "experiment",
        "resource_id": alice_experiment,
        "permission": "NO_PERMISSIONS",
    }
    httpx.post(f"{guarded.url}/api/3.0/mlflow/users/permissions/grant", json=grant, auth=alice).raise_for_status()

    page = _page_as(browser, guarded, alice)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{guarded.url}/#/experiments/{alice_experiment}")
    page.wait_for_selector(f"#runs-table a.run-link:has-text('{alice_run}')")
    page.goto(f"{guarded.url}/#/")
    page.wait_for_selector(f"#experiments tr:has-text('exp-{alice[0]}')")
    page.wait_for_selector(f"#user:has-text('{alice[0]}')")  # who is signed in, in the top bar
    assert not errors, errors
    page.context.close()

    page = _page_as(browser, guarded, bob)
    page.goto(f"{guarded.url}/#/")
    page.wait_for_selector(f"#experiments tr:has-text('exp-{bob[0]}')")
    assert page.locator(f"#experiments tr:has-text('exp-{alice[0]}')").count() == 0
    page.context.close()

    # Without credentials the browser is asked for them (Chromium headless has none to give).
    page = _page_as(browser, guarded, None)
    with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
        page.goto(f"{guarded.url}/")
    page.context.close()
