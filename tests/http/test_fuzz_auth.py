"""`tracklet server --auth`, fuzzed: a signed-in user sends every endpoint (the users' and permissions'
too) whatever hypothesis makes up, aimed at another user's experiment, run and registered model and at
the admin's account and access token, with their password or their own access token, and now and then
with credentials that are garbled, wrong or missing.

Checked: every answer is MLflow's (never a 5xx, errors in MLflow's JSON shape), and what the user may
only read stays exactly as it was: the other user's experiment, run and registered model, who may do
what with them, who is an admin, and the admin's access tokens."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from tests.http.conftest import ADMIN, API, check_answer, ok
from tests.support.fuzzing import endpoints, fuzz_endpoint
from tests.support.processes import TrackletServer
from tracklet.server.api import tokens, users
from tracklet.server.app import api_routes
from tracklet.server.ui import ui_routes

pytestmark = pytest.mark.slow

USER = ("mallory", "mallory-password-1")
ENDPOINTS = endpoints([*api_routes(), *ui_routes(), *users.routes, *tokens.routes])


def basic(username: str | bytes, password: str | bytes) -> str:
    raw = (username.encode() if isinstance(username, str) else username) + b":"
    raw += password.encode() if isinstance(password, str) else password
    return "Basic " + base64.b64encode(raw).decode()


def credentials(token: str) -> st.SearchStrategy[dict[str, str]]:
    """Mostly the user's own password or access token (`token`); sometimes none, someone else's with a
    wrong password or the user's token, a made-up token, or garbage."""
    return st.sampled_from(
        [{"Authorization": basic(*USER)}] * 8
        + [{"Authorization": f"Bearer {token}"}] * 4
        + [
            {},
            {"Authorization": basic(ADMIN[0], "wrong")},
            {"Authorization": "Basic !!!not-base64"},
            {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
            {"Authorization": basic(b"\xff\xfe", b"\xff")},
            {"Authorization": "Bearer some-token"},
            {"Authorization": "Bearer tlk_made-up"},
            {"Authorization": basic(ADMIN[0], token)},
            {"Authorization": basic(USER[0], token)},
            {"Authorization": basic(USER[0], USER[1] + "x")},
        ]
    )


@pytest.fixture(scope="module")
def world(guarded: TrackletServer) -> dict[str, Any]:
    """The admin's experiment, run and registered model (the user may read them: default READ), and
    the user's own experiment and run (theirs to manage)."""
    with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
        ok(admin.post(f"{API}/users/create", json={"username": USER[0], "password": USER[1]}))
        vault = ok(admin.post(f"{API}/experiments/create", json={"name": "vault"}))["experiment_id"]
        vault_run = ok(admin.post(f"{API}/runs/create", json={"experiment_id": vault}))["run"]["info"]["run_id"]
        batch = {
            "run_id": vault_run,
            "params": [{"key": "p", "value": "1"}],
            "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
            "tags": [{"key": "t", "value": "x"}],
        }
        ok(admin.post(f"{API}/runs/log-batch", json=batch))
        ok(
            admin.post(
                f"{API}/registered-models/create", json={"name": "vault-model", "tags": [{"key": "k", "value": "v"}]}
            )
        )
        admin_token = ok(admin.post("/api/tracklet/tokens", json={"name": "admin's"}))["token"]["id"]
    with httpx.Client(base_url=guarded.url, auth=USER, timeout=60) as user:
        lab = ok(user.post(f"{API}/experiments/create", json={"name": "lab"}))["experiment_id"]
        lab_run = ok(user.post(f"{API}/runs/create", json={"experiment_id": lab}))["run"]["info"]["run_id"]
        token = ok(user.post("/api/tracklet/tokens", json={"name": "mallory's"}))["secret"]
    pool = [
        vault, vault_run, "vault-model", lab, lab_run, "0", ADMIN[0], USER[0], "READ", "EDIT", "MANAGE",
        "NO_PERMISSIONS", "experiment", "registered_model", "m", "p", "t", "k", f"{vault}/{vault_run}/artifacts",
        admin_token,
    ]  # fmt: skip
    return {"pool": pool, "vault": vault, "vault_run": vault_run, "token": token}


def _snapshot(url: str, world: dict[str, Any]) -> dict[str, Any]:
    """What the user must not be able to change, read by the admin."""
    with httpx.Client(base_url=url, auth=ADMIN, timeout=60) as admin:
        permissions = "/api/tracklet/permissions"
        return {
            "experiment": ok(admin.get(f"{API}/experiments/get", params={"experiment_id": world["vault"]})),
            "run": ok(admin.get(f"{API}/runs/get", params={"run_id": world["vault_run"]})),
            "model": ok(admin.get(f"{API}/registered-models/get", params={"name": "vault-model"})),
            "experiment grants": ok(
                admin.get(permissions, params={"resource_type": "experiment", "resource_id": world["vault"]})
            ),
            "model grants": ok(
                admin.get(permissions, params={"resource_type": "registered_model", "resource_id": "vault-model"})
            ),
            "admin": ok(admin.get(f"{API}/users/get", params={"username": ADMIN[0]}))["user"]["is_admin"],
            "user": ok(admin.get(f"{API}/users/get", params={"username": USER[0]}))["user"]["is_admin"],
            "admin's tokens": ok(admin.get("/api/tracklet/tokens")),
        }


@pytest.fixture(scope="module")
def before(guarded: TrackletServer, world: dict[str, Any]) -> dict[str, Any]:
    return _snapshot(guarded.url, world)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_a_user_cannot_break_or_reach_past_their_rights_whatever_they_send(guarded, world, before, method, path):
    with httpx.Client(base_url=guarded.url, timeout=60, event_hooks={"response": [check_answer]}) as api:
        fuzz_endpoint(api, method, path, world["pool"], canary=set(), headers=credentials(world["token"]))
    assert _snapshot(guarded.url, world) == before
