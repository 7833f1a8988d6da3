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
from tests.ui.browsing import shot

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
    page = browser.new_context(**signed_in, viewport={"width": 1200, "height": 700}).new_page()
    page.on("dialog", lambda d: d.accept())
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


def _listed(
    server: TrackletServer, credentials: tuple[str, str], resource_type: str, resource_id: str
) -> dict[str, str]:
    answer = httpx.get(
        f"{server.url}/api/tracklet/permissions",
        params={"resource_type": resource_type, "resource_id": resource_id},
        auth=credentials,
    )
    answer.raise_for_status()
    return {p["username"]: p["permission"] for p in answer.json()["permissions"]}


def _signs_in(server: TrackletServer, credentials: tuple[str, str]) -> bool:
    answer = httpx.get(f"{server.url}/api/2.0/mlflow/users/current", auth=credentials)
    return answer.status_code == 200


def test_who_manages_an_experiment_grants_changes_and_revokes_permissions(
    browser: Any, guarded: TrackletServer
) -> None:
    (alice, experiment_id, _) = _user_with_a_run(guarded)
    (bob, _, _) = _user_with_a_run(guarded)
    page = _page_as(browser, guarded, alice)
    page.goto(f"{guarded.url}/#/")
    page.click(f"a[aria-label='Permissions of experiment exp-{alice[0]}']")
    page.wait_for_selector(f"#permissions-table tr[data-user='{alice[0]}']")
    assert page.input_value(f"#permissions-table tr[data-user='{alice[0]}'] select") == "MANAGE"  # the creator
    assert "Everyone else: READ" in page.inner_text("#permissions")

    page.fill("#grant-user", bob[0])
    page.select_option("#grant-level", "EDIT")
    page.click("#grant-permission button")
    page.wait_for_selector(f"#permissions-table tr[data-user='{bob[0]}']")
    assert _listed(guarded, alice, "experiment", experiment_id)[bob[0]] == "EDIT"
    page.select_option(f"#permissions-table tr[data-user='{bob[0]}'] select", "NO_PERMISSIONS")
    page.wait_for_selector(f"#toast:has-text('{bob[0]}: NO_PERMISSIONS')")
    assert _listed(guarded, alice, "experiment", experiment_id)[bob[0]] == "NO_PERMISSIONS"
    page.fill("#grant-user", "nobody-of-that-name")
    page.click("#grant-permission button")
    page.wait_for_selector("#toast.error")
    assert "nobody-of-that-name" not in _listed(guarded, alice, "experiment", experiment_id)
    page.click(f"button[aria-label='Revoke the permission of {bob[0]}']")
    page.wait_for_function(f"!document.querySelector(\"#permissions-table tr[data-user='{bob[0]}']\")")
    assert bob[0] not in _listed(guarded, alice, "experiment", experiment_id)
    shot(page, "permissions-experiment", doc=True)
    page.context.close()

    # Bob reads the experiment (the default) but does not manage it: he is told so, and shown no one.
    page = _page_as(browser, guarded, bob)
    page.goto(f"{guarded.url}/#/experiments/{experiment_id}/permissions")
    page.wait_for_selector("#permissions :text('Only users who MANAGE it')")
    assert page.locator("#permissions-table").count() == 0
    page.context.close()


def test_a_registered_models_page_shows_its_permissions_to_its_manager(browser: Any, guarded: TrackletServer) -> None:
    (alice, _, _) = _user_with_a_run(guarded)
    name = f"model-of-{alice[0]}"
    created = httpx.post(f"{guarded.url}/api/2.0/mlflow/registered-models/create", json={"name": name}, auth=alice)
    created.raise_for_status()
    page = _page_as(browser, guarded, alice)
    page.goto(f"{guarded.url}/#/models/{name}")
    page.wait_for_selector(f"#permissions-table tr[data-user='{alice[0]}']")
    page.fill("#grant-user", ADMIN[0])
    page.select_option("#grant-level", "READ")
    page.click("#grant-permission button")
    page.wait_for_selector(f"#permissions-table tr[data-user='{ADMIN[0]}']")
    assert _listed(guarded, alice, "registered_model", name) == {alice[0]: "MANAGE", ADMIN[0]: "READ"}
    page.context.close()


def _shown(page: Any, hash_: str, ready: str, expected: set[str], others: set[str]) -> set[str]:
    """Which of the controls `expected | others` the page at `hash_` shows, once `ready` and the expected
    ones are there (some come after the page's permission is read: the runs table's Delete, a model's
    permissions)."""
    with page.expect_response(lambda r: "/api/tracklet/permissions/mine" in r.url):
        page.goto(f"{page.base}/#{hash_}")
    page.wait_for_selector(ready)
    for selector in expected:
        page.wait_for_selector(selector)
    page.wait_for_timeout(100)  # time for what should not come to come
    return {s for s in expected | others if page.locator(s).count() and page.locator(s).first.is_visible()}


def test_each_user_sees_only_the_controls_of_what_they_may_do(browser: Any, guarded: TrackletServer) -> None:
    (alice, experiment_id, run_name) = _user_with_a_run(guarded)
    (editor, _, _) = _user_with_a_run(guarded)
    (reader, _, _) = _user_with_a_run(guarded)  # READ everywhere: the server's default
    model = f"model-of-{alice[0]}"
    with httpx.Client(base_url=f"{guarded.url}/api", auth=alice, timeout=30) as http:
        runs = http.post("/2.0/mlflow/runs/search", json={"experiment_ids": [experiment_id]}).json()["runs"]
        run_id = runs[0]["info"]["run_id"]
        for path, body in (
            (
                "/2.0/mlflow/experiments/set-experiment-tag",
                {"experiment_id": experiment_id, "key": "team", "value": "a"},
            ),
            ("/2.0/mlflow/runs/set-tag", {"run_id": run_id, "key": "team", "value": "a"}),
            ("/2.0/mlflow/registered-models/create", {"name": model, "tags": [{"key": "team", "value": "a"}]}),
            ("/2.0/mlflow/model-versions/create", {"name": model, "source": f"runs:/{run_id}/model", "run_id": run_id}),
        ):
            http.post(path, json=body).raise_for_status()
        for resource_type, resource_id in (("experiment", experiment_id), ("registered_model", model)):
            grant = {"resource_type": resource_type, "resource_id": resource_id, "username": editor[0]}
            http.post("/3.0/mlflow/users/permissions/grant", json={**grant, "permission": "EDIT"}).raise_for_status()

    row = f"#experiments tr[data-experiment-id='{experiment_id}']"
    edits = {
        "experiments": [f"{row} button.rename"],
        "runs": [],
        "about": ["#edit-description", "#add-tag", "button.edit-tag", "button.delete-tag"],
        "run": ["#rename-run", "#edit-description", "#add-tag", "button.edit-tag"],
        "model": ["#rename-model", "#edit-description", "#set-alias", "#add-tag", "button.edit-tag"],
        "version": ["#transition", "#add-version-alias", "#edit-description", "#add-tag"],
    }
    manages = {
        "experiments": [f"{row} button.delete", f"{row} a.permissions"],
        "runs": ["#delete-runs"],
        "about": ["#experiment-permissions"],
        "run": ["#delete-run"],
        "model": ["#delete-model", "#permissions"],
        "version": ["#delete-version"],
    }
    pages = {
        "experiments": ("/", row),
        "runs": (f"/experiments/{experiment_id}", f"#runs-table a.run-link:has-text('{run_name}')"),
        "about": (f"/experiments/{experiment_id}/about", "#tags-table"),
        "run": (f"/runs/{run_id}", "#tags-table"),
        "model": (f"/models/{model}", "#model-versions"),
        "version": (f"/models/{model}/versions/1", "#stage"),
    }
    for who, may_edit, may_manage in ((reader, False, False), (editor, True, False), (ADMIN, True, True)):
        page = _page_as(browser, guarded, who)
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        for name, (hash_, ready) in pages.items():
            expected = set(edits[name] if may_edit else []) | set(manages[name] if may_manage else [])
            shown = _shown(page, hash_, ready, expected, set(edits[name] + manages[name]))
            assert shown == expected, (who[0], name, shown ^ expected)
            if name == "run" and who is reader:
                shot(page, "run-read-only")
        # What is shown still works: the editor adds a tag to the run, as the page offers.
        if who is editor:
            page.goto(f"{guarded.url}/#/runs/{run_id}")
            page.fill("#new-tag-key", "edited-by")
            page.fill("#new-tag-value", editor[0])
            page.click("#add-tag button")
            page.wait_for_selector("#tags-table tr[data-tag='edited-by']")
        assert not errors, errors
        page.context.close()
    tags = httpx.get(f"{guarded.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, auth=alice).json()
    assert {"key": "edited-by", "value": editor[0]} in tags["run"]["data"]["tags"]


def test_admins_manage_users_and_users_change_their_own_password(browser: Any, guarded: TrackletServer) -> None:
    page = _page_as(browser, guarded, ADMIN)
    page.goto(f"{guarded.url}/#/")
    page.click("#user")  # the signed-in user's name leads to the users page
    page.wait_for_selector(f"#users-table tr[data-user='{ADMIN[0]}']")
    newcomer = (f"new{uuid.uuid4().hex[:6]}", "first-password")
    page.fill("#new-user-name", newcomer[0])
    page.fill("#new-user-password", newcomer[1])
    page.click("#create-user button")
    row = f"#users-table tr[data-user='{newcomer[0]}']"
    page.wait_for_selector(row)
    assert _signs_in(guarded, newcomer)
    page.check(f"{row} input.admin")
    page.wait_for_selector(f"#toast:has-text('{newcomer[0]} is an admin')")
    assert httpx.get(f"{guarded.url}/api/2.0/mlflow/users/current", auth=newcomer).json()["user"]["is_admin"] is True
    page.uncheck(f"{row} input.admin")
    page.wait_for_selector(f"#toast:has-text('{newcomer[0]} is no longer an admin')")
    page.fill(f"{row} input.password", "second-password")
    page.click(f"{row} form.set-password button")
    page.wait_for_selector(f"#toast:has-text('Password of {newcomer[0]} set')")
    assert not _signs_in(guarded, newcomer) and _signs_in(guarded, (newcomer[0], "second-password"))
    shot(page, "users", doc=True)
    # The last admin cannot demote themselves: refused, and the box shows the server's state again.
    page.uncheck(f"#users-table tr[data-user='{ADMIN[0]}'] input.admin")
    page.wait_for_selector("#toast.error")
    page.wait_for_function(f"document.querySelector(\"#users-table tr[data-user='{ADMIN[0]}'] input.admin\").checked")
    page.context.close()

    # A user who is not an admin sees only their own password, and needs the current one to change it.
    page = _page_as(browser, guarded, (newcomer[0], "second-password"))
    page.goto(f"{guarded.url}/#/users")
    page.wait_for_selector("#own-password")
    assert page.locator("#users-table").count() == 0
    page.fill("#current-password", "wrong")
    page.fill("#new-password", "third-password")
    page.click("#own-password button")
    page.wait_for_selector("#toast.error")
    assert _signs_in(guarded, (newcomer[0], "second-password"))
    page.fill("#current-password", "second-password")
    page.fill("#new-password", "third-password")
    page.click("#own-password button")
    page.wait_for_selector("#toast:has-text('Password changed')")
    assert _signs_in(guarded, (newcomer[0], "third-password"))
    page.context.close()

    page = _page_as(browser, guarded, ADMIN)
    page.goto(f"{guarded.url}/#/users")
    page.click(f"button[aria-label='Delete user {newcomer[0]}']")
    page.wait_for_function(f"!document.querySelector(\"#users-table tr[data-user='{newcomer[0]}']\")")
    assert not _signs_in(guarded, (newcomer[0], "third-password"))
    page.context.close()


def test_a_user_makes_an_access_token_sees_its_secret_once_and_revokes_it(
    browser: Any, guarded: TrackletServer
) -> None:  # type: ignore[no-untyped-def]
    (alice, _, _) = _user_with_a_run(guarded)
    page = _page_as(browser, guarded, alice)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{guarded.url}/#/users")
    page.wait_for_selector("#tokens :text('None.')")
    page.fill("#new-token-name", "browser job")
    page.fill("#new-token-days", "7")
    page.select_option("#new-token-scope", "read")
    page.click("#create-token button")
    secret = page.wait_for_selector("#token-secret").inner_text()
    assert secret.startswith("tlk_")
    page.wait_for_selector("#tokens-table tr:has-text('browser job'):has-text('read only')")
    shot(page, "tokens")
    bearer = {"Authorization": f"Bearer {secret}"}
    me = httpx.get(f"{guarded.url}/api/2.0/mlflow/users/current", headers=bearer)
    assert me.json()["user"]["username"] == alice[0]
    made = httpx.post(f"{guarded.url}/api/2.0/mlflow/experiments/create", json={"name": "by-token"}, headers=bearer)
    assert made.status_code == 403  # read only

    page.reload()  # the secret is not shown again, the token is still listed
    page.wait_for_selector("#tokens-table tr:has-text('browser job')")
    assert page.locator("#token-secret").count() == 0 and secret not in page.content()
    page.click("button[aria-label='Revoke token browser job']")
    page.wait_for_selector("#tokens :text('None.')")
    assert httpx.get(f"{guarded.url}/api/2.0/mlflow/users/current", headers=bearer).status_code == 401
    assert not errors, errors
    page.context.close()
