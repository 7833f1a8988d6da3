"""Personal access tokens of `tracklet server --auth`: a job holds a token instead of its user's password,
sent by the official client from MLFLOW_TRACKING_TOKEN (`Authorization: Bearer …`), with its user's
permissions and nothing more; revoked, expired, or gone with its user, it opens nothing."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import select, update

from tests.http.conftest import ADMIN, API, ok
from tests.support.processes import TrackletServer
from tracklet.store import schema as s
from tracklet.store.database import Database

TOKENS = "/api/tracklet/tokens"


@pytest.fixture
def http(guarded: TrackletServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=guarded.url, timeout=60) as client:
        yield client


@pytest.fixture
def tables(guarded: TrackletServer) -> Iterator[Database]:
    """The server's database, read (and, to make a token expire, written) behind its back."""
    db = Database(guarded.backend_store_uri)
    yield db
    db.dispose()


def new_user(http: httpx.Client) -> tuple[str, str]:
    credentials = (f"t{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    ok(http.post(f"{API}/users/create", json={"username": credentials[0], "password": credentials[1]}, auth=ADMIN))
    return credentials


def new_token(http: httpx.Client, credentials: tuple[str, str], **body: Any) -> tuple[str, dict[str, Any]]:
    """(secret, metadata) of a new token of the user."""
    made = ok(http.post(TOKENS, json={"name": "ci", **body}, auth=credentials))
    return made["secret"], made["token"]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def refused(response: httpx.Response, status: int = 401, code: str = "UNAUTHENTICATED") -> str:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code, response.text
    return response.json()["message"]  # type: ignore[no-any-return]


@pytest.fixture
def token_client(guarded: TrackletServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`token_client(secret)`: the official client, configured as a CI job would be (token only)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)

    def token_client(secret: str) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
        mlflow.set_tracking_uri(guarded.url)
        return MlflowClient(guarded.url)

    yield token_client
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_a_job_logs_with_mlflow_tracking_token_and_only_where_its_user_may(http, token_client) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(http)
    secret, token = new_token(http, alice, name="nightly training", expires_in_days=30)
    assert secret.startswith("tlk_") and len(secret) > 40
    assert token["name"] == "nightly training" and token["username"] == alice[0]
    assert token["expiration_time"] - token["creation_time"] == 30 * 86_400_000
    vault = ok(http.post(f"{API}/experiments/create", json={"name": f"vault-{uuid.uuid4().hex[:6]}"}, auth=ADMIN))
    hidden = vault["experiment_id"]
    grant = {"username": alice[0], "resource_type": "experiment", "resource_id": hidden, "permission": "NO_PERMISSIONS"}
    ok(http.post("/api/3.0/mlflow/users/permissions/grant", json=grant, auth=ADMIN))

    client = token_client(secret)
    mlflow.set_experiment(f"ci-{uuid.uuid4().hex[:6]}")  # the creator MANAGEs it
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        for step in range(3):
            mlflow.log_metric("loss", 1 / (step + 1), step=step)
    logged = client.get_run(run.info.run_id)
    assert logged.data.params == {"lr": "0.1"} and logged.data.metrics == {"loss": pytest.approx(1 / 3)}
    assert logged.info.user_id is not None
    # Seen by the admin as the user's work: the token's user has MANAGE on the experiment it made.
    mine = ok(
        http.get(
            "/api/tracklet/permissions/mine",
            params={"resource_type": "experiment", "resource_id": logged.info.experiment_id},
            headers=bearer(secret),
        )
    )
    assert mine["permission"] == "MANAGE" and mine["is_admin"] is False

    for call in (lambda: client.get_experiment(hidden), lambda: client.create_run(hidden)):
        with pytest.raises(MlflowException) as caught:
            call()
        assert caught.value.error_code == "PERMISSION_DENIED"
    # An admin's experiment the user may only read (the default permission): no logging there.
    readable = ok(http.post(f"{API}/experiments/create", json={"name": f"r-{uuid.uuid4().hex[:6]}"}, auth=ADMIN))
    assert client.get_experiment(readable["experiment_id"]).name.startswith("r-")
    with pytest.raises(MlflowException) as caught:
        client.create_run(readable["experiment_id"])
    assert caught.value.error_code == "PERMISSION_DENIED"
    # Admin-only endpoints stay closed to a user's token.
    refused(http.get(f"{API}/users/list", headers=bearer(secret)), 403, "PERMISSION_DENIED")


def test_revoked_expired_and_made_up_tokens_are_refused_with_mlflows_error(http, tables: Database) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(http)
    revoked, revoked_meta = new_token(http, alice)
    expiring, expiring_meta = new_token(http, alice, expires_in_days=1)
    url = f"{API}/experiments/get"
    params = {"experiment_id": "0"}
    assert ok(http.get(url, params=params, headers=bearer(revoked)))["experiment"]["experiment_id"] == "0"
    assert ok(http.get(url, params=params, headers=bearer(expiring)))

    ok(http.delete(f"{TOKENS}/{revoked_meta['id']}", auth=alice))
    assert "revoked" in refused(http.get(url, params=params, headers=bearer(revoked)))
    with tables.write() as conn:  # a day later
        conn.execute(
            update(s.access_tokens)
            .where(s.access_tokens.c.token_id == int(expiring_meta["id"]))
            .values(expiration_time=expiring_meta["creation_time"] - 1)
        )
    assert "expired" in refused(http.get(url, params=params, headers=bearer(expiring)))

    for header in (f"Bearer tlk_{uuid.uuid4().hex}", "Bearer not-a-token", "Bearer", "bearer tlk_"):
        answer = http.get(url, params=params, headers={"Authorization": header})
        refused(answer)
        assert answer.headers["www-authenticate"].startswith("Basic ")
    # Without credentials, the answer names both ways in.
    message = refused(http.get(url, params=params))
    assert "MLFLOW_TRACKING_USERNAME" in message and "MLFLOW_TRACKING_TOKEN" in message and "Bearer" in message


def test_only_the_hash_of_a_secret_is_stored_and_never_shown_again(http, tables: Database) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(http)
    secret, token = new_token(http, alice, name="hash check")
    with tables.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(s.access_tokens))]
    row = next(r for r in rows if r["token_id"] == int(token["id"]))
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for r in rows for value in r.values())

    listed = ok(http.get(TOKENS, auth=alice))["tokens"]
    assert listed == [token]  # metadata only: no secret, no hash
    assert secret not in str(listed) and row["token_hash"] not in str(listed)


def test_a_token_reaches_only_its_own_users_tokens(http) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user(http), new_user(http)
    alice_secret, alice_token = new_token(http, alice)
    bob_secret, bob_token = new_token(http, bob)

    (listed,) = ok(http.get(TOKENS, headers=bearer(bob_secret)))["tokens"]
    assert listed == {**bob_token, "last_used_time": listed["last_used_time"]} and listed["last_used_time"]
    refused(http.get(TOKENS, params={"username": alice[0]}, headers=bearer(bob_secret)), 403, "PERMISSION_DENIED")
    refused(http.get(TOKENS, params={"username": alice[0]}, auth=bob), 403, "PERMISSION_DENIED")
    # Another user's token is as unknown as one that never was.
    refused(http.delete(f"{TOKENS}/{alice_token['id']}", headers=bearer(bob_secret)), 404, "RESOURCE_DOES_NOT_EXIST")
    refused(http.delete(f"{TOKENS}/{alice_token['id']}", auth=bob), 404, "RESOURCE_DOES_NOT_EXIST")
    assert ok(http.get(TOKENS, auth=alice))["tokens"] == [alice_token]
    # A token may not make tokens: a leaked one could otherwise outlive its revocation.
    refused(http.post(TOKENS, json={"name": "next"}, headers=bearer(alice_secret)), 403, "PERMISSION_DENIED")
    # Admins see and revoke anyone's.
    (seen,) = ok(http.get(TOKENS, params={"username": alice[0]}, auth=ADMIN))["tokens"]
    assert seen == {**alice_token, "last_used_time": seen["last_used_time"]} and seen["last_used_time"]  # just above
    ok(http.delete(f"{TOKENS}/{alice_token['id']}", auth=ADMIN))
    refused(http.get(TOKENS, headers=bearer(alice_secret)))
    # A token may revoke itself (a job cleaning up after itself).
    ok(http.delete(f"{TOKENS}/{bob_token['id']}", headers=bearer(bob_secret)))
    refused(http.get(TOKENS, headers=bearer(bob_secret)))
    for bad in ("x", "-1", "1.5", "99999999999999999999", "²"):
        refused(http.delete(f"{TOKENS}/{bad}", auth=bob), 404, "RESOURCE_DOES_NOT_EXIST")


def test_a_new_token_needs_a_name_and_a_sensible_expiry(http) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(http)
    for body in (
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 256},
        {"name": 3},
        {"name": "ci", "expires_in_days": 0},
        {"name": "ci", "expires_in_days": -1},
        {"name": "ci", "expires_in_days": 3651},
        {"name": "ci", "expires_in_days": 1.5},
        {"name": "ci", "expires_in_days": True},
        {"name": "ci", "scope": "write"},
        {"name": "ci", "scope": ""},
    ):
        refused(http.post(TOKENS, json=body, auth=alice), 400, "INVALID_PARAMETER_VALUE")
    assert ok(http.get(TOKENS, auth=alice))["tokens"] == []
    _, token = new_token(http, alice, name="  padded  ")
    assert token["name"] == "padded" and token["expiration_time"] is None


def test_deleting_a_user_deletes_their_tokens(http, tables: Database) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(http)
    secret, _ = new_token(http, alice)
    new_token(http, alice)
    ok(http.request("DELETE", f"{API}/users/delete", json={"username": alice[0]}, auth=ADMIN))
    refused(http.get(f"{API}/users/current", headers=bearer(secret)))
    with tables.read() as conn:
        owners = {row[0] for row in conn.execute(select(s.access_tokens.c.user_id))}
        users = {row[0] for row in conn.execute(select(s.users.c.user_id))}
    assert owners <= users
    # A new user of the same name does not inherit them.
    ok(http.post(f"{API}/users/create", json={"username": alice[0], "password": "new-one"}, auth=ADMIN))
    refused(http.get(f"{API}/users/current", headers=bearer(secret)))
    assert ok(http.get(TOKENS, auth=(alice[0], "new-one")))["tokens"] == []


def test_basic_authentication_takes_a_token_as_its_users_password(http) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user(http), new_user(http)
    secret, _ = new_token(http, alice)
    me = ok(http.get(f"{API}/users/current", auth=(alice[0], secret)))["user"]
    assert me["username"] == alice[0]
    refused(http.get(f"{API}/users/current", auth=(bob[0], secret)))  # someone else's token
    refused(http.get(f"{API}/users/current", auth=(alice[0], secret + "x")))
    refused(http.post(TOKENS, json={"name": "next"}, auth=(alice[0], secret)), 403, "PERMISSION_DENIED")
    # Which is why no password may look like a token.
    made = http.post(
        f"{API}/users/create", json={"username": f"u{uuid.uuid4().hex[:6]}", "password": "tlk_x"}, auth=ADMIN
    )
    assert "tlk_" in refused(made, 400, "INVALID_PARAMETER_VALUE")


def test_a_tokens_last_use_is_noted_every_few_minutes_not_every_request(http, tables) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(http)
    secret, token = new_token(http, alice)
    assert token["last_used_time"] is None  # never used yet

    def last_used() -> int | None:
        (listed,) = ok(http.get(TOKENS, auth=alice))["tokens"]
        return listed["last_used_time"]  # type: ignore[no-any-return]

    assert last_used() is None  # asking with the password is no use of the token
    ok(http.get(f"{API}/experiments/search", params={"max_results": 1}, headers=bearer(secret)))
    first = last_used()
    assert first is not None and first >= token["creation_time"]
    for _ in range(3):  # within the next few minutes: no write for each request
        ok(http.get(f"{API}/experiments/search", params={"max_results": 1}, headers=bearer(secret)))
    assert last_used() == first
    # A use on record from long ago is brought up to date by the next request.
    with tables.write() as conn:
        conn.execute(
            update(s.access_tokens).where(s.access_tokens.c.token_id == int(token["id"])).values(last_used_time=1)
        )
    ok(http.get(f"{API}/experiments/search", params={"max_results": 1}, headers=bearer(secret)))
    assert last_used() >= first  # type: ignore[operator]


def test_an_admin_makes_a_token_for_another_user_such_as_a_ci_account(http) -> None:  # type: ignore[no-untyped-def]
    bot, alice = new_user(http), new_user(http)
    secret, token = new_token(http, ADMIN, name="nightly", username=bot[0])
    assert token["username"] == bot[0]
    me = ok(http.get(f"{API}/users/current", headers=bearer(secret)))
    assert me["user"]["username"] == bot[0]  # the token acts as the bot, not as the admin who made it
    assert [t["id"] for t in ok(http.get(TOKENS, auth=bot))["tokens"]] == [token["id"]]
    # Others may not make tokens in someone else's name; an unknown user has none to make.
    refused(http.post(TOKENS, json={"name": "mine", "username": bot[0]}, auth=alice), 403, "PERMISSION_DENIED")
    refused(
        http.post(TOKENS, json={"name": "x", "username": "no-such-user"}, auth=ADMIN), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert [t["id"] for t in ok(http.get(TOKENS, auth=bot))["tokens"]] == [token["id"]]


def test_a_read_only_token_reads_what_its_user_may_and_changes_nothing(http, token_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(http)
    experiment = ok(http.post(f"{API}/experiments/create", json={"name": f"r-{uuid.uuid4().hex[:6]}"}, auth=alice))
    experiment_id = experiment["experiment_id"]
    (tmp_path / "notes.txt").write_text("plots")
    # Alice logs with her password; the dashboard reads with a token of scope "read".
    writer = token_client(new_token(http, alice, name="training")[0])
    run_id = writer.create_run(experiment_id).info.run_id
    writer.log_metric(run_id, "loss", 0.5)
    writer.log_artifact(run_id, str(tmp_path / "notes.txt"))
    secret, token = new_token(http, alice, name="dashboard", scope="read")
    assert token["scope"] == "read"
    assert [t["scope"] for t in ok(http.get(TOKENS, auth=alice))["tokens"]] == ["all", "read"]

    reader = token_client(secret)
    assert reader.get_run(run_id).data.metrics == {"loss": 0.5}
    assert [r.info.run_id for r in reader.search_runs([experiment_id])] == [run_id]
    assert [m.value for m in reader.get_metric_history(run_id, "loss")] == [0.5]
    assert [a.path for a in reader.list_artifacts(run_id)] == ["notes.txt"]
    assert (Path(reader.download_artifacts(run_id, "notes.txt", str(tmp_path / "down")))).read_text() == "plots"
    assert experiment_id in [e.experiment_id for e in reader.search_experiments()]
    # Alice MANAGEs the experiment she made; asked with this token, what she may do is READ.
    mine = {"resource_type": "experiment", "resource_id": experiment_id}
    assert ok(http.get("/api/tracklet/permissions/mine", params=mine, auth=alice))["permission"] == "MANAGE"
    assert ok(http.get("/api/tracklet/permissions/mine", params=mine, headers=bearer(secret)))["permission"] == "READ"
    everywhere = ok(http.get("/api/tracklet/permissions/mine/all", headers=bearer(secret)))
    assert everywhere["experiments"][experiment_id] == "READ"

    for write in (
        lambda: reader.log_metric(run_id, "loss", 0.1),
        lambda: reader.set_tag(run_id, "k", "v"),
        lambda: reader.create_run(experiment_id),
        lambda: reader.create_experiment(f"new-{uuid.uuid4().hex[:6]}"),
        lambda: reader.log_artifact(run_id, str(tmp_path / "notes.txt"), "again"),
        lambda: reader.delete_run(run_id),
        lambda: reader.create_registered_model(f"m-{uuid.uuid4().hex[:6]}"),
    ):
        with pytest.raises((MlflowException, requests.HTTPError)) as caught:  # the artifact proxy: HTTPError
            write()
        assert "PERMISSION_DENIED" in str(caught.value) and "may only read" in str(caught.value)
    assert reader.get_run(run_id).data.metrics == {"loss": 0.5} and reader.get_run(run_id).data.tags.get("k") is None
    # Nor may it manage its user's tokens, even an admin's read-only token administer users.
    refused(http.delete(f"{TOKENS}/{token['id']}", headers=bearer(secret)), 403, "PERMISSION_DENIED")
    admin_reader, _ = new_token(http, ADMIN, name="audit", scope="read")
    assert ok(http.get(f"{API}/users/list", headers=bearer(admin_reader)))["users"]
    refused(
        http.post(f"{API}/users/create", json={"username": "x", "password": "y" * 12}, headers=bearer(admin_reader)),
        403,
        "PERMISSION_DENIED",
    )


def test_a_read_only_token_opens_the_web_ui_whose_files_change_nothing(http) -> None:  # type: ignore[no-untyped-def]
    """A browser signed in with a read-only token (as the password) loads the page and all its files; paths
    without an endpoint answer as they would anyone (404, 405), never "may only read"."""
    user = new_user(http)
    secret, _ = new_token(http, user, name="browser", scope="read")
    signed_in = (user[0], secret)
    assert '<script type="module"' in http.get("/", auth=signed_in).text
    for path in ("/static/js/app.js", "/static/js/webhooks.js", "/static/app.css"):
        assert http.get(path, auth=signed_in).status_code == 200, path
    assert http.get("/static/js/no-such-module.js", auth=signed_in).status_code == 404
    assert http.post("/static/js/app.js", content=b"x", auth=signed_in).status_code == 405
    assert http.get("/static/js/app.js").status_code == 401  # still not without credentials
