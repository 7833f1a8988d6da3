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
