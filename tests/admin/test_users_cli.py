"""`tracklet users`: operators create users and reset a lost password straight in the store, and a
running `--auth` server takes the change at the next request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.processes import TrackletServer


def tracklet_users(
    *args: str, store_uri: str, password: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRACKLET_USER_PASSWORD"}
    if password is not None:
        env["TRACKLET_USER_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "tracklet", "users", *args, "--backend-store-uri", store_uri],
        capture_output=True, text=True, timeout=120, env=env, input=stdin,
    )  # fmt: skip


def test_a_lost_admin_password_is_reset_from_the_command_line(tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 't.db'}"
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": "forgotten"}
    server = TrackletServer(store_uri, str(tmp_path / "artifacts"), env=env).start()
    try:
        reset = tracklet_users("set-password", "admin", store_uri=store_uri, password="remembered")
        assert reset.returncode == 0, reset.stderr
        url = f"{server.url}/api/2.0/mlflow/users/list"
        assert httpx.get(url, auth=("admin", "forgotten")).status_code == 401
        assert [u["username"] for u in httpx.get(url, auth=("admin", "remembered")).json()["users"]] == ["admin"]

        # Typed at the prompt, twice, when the variable is not set.
        made = tracklet_users("create", "ops", "--admin", store_uri=store_uri, stdin="typed\ntyped\n")
        assert made.returncode == 0 and "Created admin user 'ops'" in made.stdout, made.stderr
        assert httpx.get(url, auth=("ops", "typed")).status_code == 200
        listed = tracklet_users("list", store_uri=store_uri)
        assert listed.stdout.split("\n")[:2] == ["admin  (admin)", "ops  (admin)"]

        unknown = tracklet_users("set-password", "nobody", store_uri=store_uri, password="x")
        assert unknown.returncode != 0 and "nobody" in unknown.stderr and "Traceback" not in unknown.stderr
    finally:
        server.stop()


def test_an_operator_makes_lists_and_revokes_a_jobs_token_from_the_command_line(tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 't.db'}"
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": "admin-pw"}
    server = TrackletServer(store_uri, str(tmp_path / "artifacts"), env=env).start()
    try:
        assert tracklet_users("create", "ci-bot", store_uri=store_uri, password="bot-pw").returncode == 0
        made = tracklet_users(
            "create-token", "ci-bot", "--name", "nightly", "--expires-in-days", "7", store_uri=store_uri
        )
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip()  # alone on stdout, for scripts
        assert secret.startswith("tlk_") and "not shown again" in made.stderr
        url = f"{server.url}/api/2.0/mlflow/users/current"
        me = httpx.get(url, headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200 and me.json()["user"]["username"] == "ci-bot"

        listed = tracklet_users("list-tokens", "ci-bot", store_uri=store_uri)
        token_id, name, scope, _, expires, last_used = listed.stdout.strip().split("\t")
        assert name == "nightly" and scope == "all" and expires.endswith("UTC") and secret not in listed.stdout
        assert last_used.endswith("UTC")  # the request above used it

        revoked = tracklet_users("revoke-token", token_id, store_uri=store_uri)
        assert revoked.returncode == 0, revoked.stderr
        assert httpx.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
        assert tracklet_users("list-tokens", "ci-bot", store_uri=store_uri).stdout == ""

        again = tracklet_users("revoke-token", token_id, store_uri=store_uri)
        assert again.returncode != 0 and "No access token" in again.stderr and "Traceback" not in again.stderr
        bad = tracklet_users("create-token", "ci-bot", "--name", "x", "--expires-in-days", "0", store_uri=store_uri)
        assert bad.returncode != 0 and "expires_in_days" in bad.stderr and "Traceback" not in bad.stderr

        reader = tracklet_users("create-token", "ci-bot", "--name", "dashboard", "--scope", "read", store_uri=store_uri)
        assert reader.returncode == 0 and "scope read" in reader.stderr, reader.stderr
        as_reader = {"Authorization": f"Bearer {reader.stdout.strip()}"}
        assert httpx.get(url, headers=as_reader).status_code == 200
        created = httpx.post(f"{server.url}/api/2.0/mlflow/experiments/create", json={"name": "x"}, headers=as_reader)
        assert created.status_code == 403 and "may only read" in created.json()["message"]
    finally:
        server.stop()
