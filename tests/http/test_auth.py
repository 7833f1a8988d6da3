"""`tracklet server --auth`: users sign in with HTTP Basic, as MLflow's clients do from
MLFLOW_TRACKING_USERNAME/PASSWORD, and may do with each experiment and registered model what their
permission allows. Driven by the official client (`MlflowClient`, `mlflow.server.auth.client`) and by
raw HTTP for what a client never sends (a request built to slip past the check)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import httpx
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient

from tests.http.conftest import ADMIN
from tests.support.processes import TrackletServer

API = "/api/2.0/mlflow"


@pytest.fixture
def sign_in(guarded: TrackletServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`sign_in(user, password)`: the official clients send these credentials from now on."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    def sign_in(username: str, password: str) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        return MlflowClient(guarded.url)

    return sign_in


@pytest.fixture
def admin(guarded: TrackletServer, sign_in) -> AuthServiceClient:  # type: ignore[no-untyped-def]
    sign_in(*ADMIN)
    return AuthServiceClient(guarded.url)


def new_user(admin: AuthServiceClient, sign_in) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    credentials = (f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    sign_in(*ADMIN)
    admin.create_user(*credentials)
    return credentials


def denied(call) -> None:  # type: ignore[no-untyped-def]
    """`call` is refused with 403 PERMISSION_DENIED (the artifact calls raise `requests`' error)."""
    with pytest.raises((MlflowException, requests.HTTPError)) as caught:
        call()
    if isinstance(caught.value, MlflowException):
        assert caught.value.error_code == "PERMISSION_DENIED", caught.value
    else:
        assert caught.value.response.status_code == 403 and "PERMISSION_DENIED" in caught.value.response.text


def test_a_request_without_credentials_is_asked_for_them_in_mlflows_error_shape(guarded: TrackletServer) -> None:
    answer = httpx.get(f"{guarded.url}{API}/experiments/get", params={"experiment_id": "0"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic ")
    assert answer.json()["error_code"] == "UNAUTHENTICATED"
    wrong = httpx.get(f"{guarded.url}{API}/experiments/get", params={"experiment_id": "0"}, auth=(ADMIN[0], "nope"))
    assert wrong.status_code == 401 and wrong.json()["error_code"] == "UNAUTHENTICATED"
    garbled = httpx.get(f"{guarded.url}/", headers={"Authorization": "Basic %%%"})
    assert garbled.status_code == 401
    # The web UI's page and files need a user too; the health probe does not.
    assert httpx.get(f"{guarded.url}/").status_code == 401
    assert httpx.get(f"{guarded.url}/health").status_code == 200


def test_a_user_logs_a_run_with_the_official_client_and_others_read_it_by_default(
    admin, sign_in, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user(admin, sign_in), new_user(admin, sign_in)
    client = sign_in(*alice)
    experiment_id = client.create_experiment(f"alice-{uuid.uuid4().hex[:6]}")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "alpha", "0.5")
    for step in range(3):
        client.log_metric(run.info.run_id, "loss", 1 / (step + 1), step=step)
    (tmp_path / "notes.txt").write_text("hello")
    client.log_artifact(run.info.run_id, str(tmp_path / "notes.txt"))

    reader = sign_in(*bob)  # the default permission is READ
    assert reader.get_run(run.info.run_id).data.params == {"alpha": "0.5"}
    assert [m.value for m in reader.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.5, 1 / 3]
    assert Path(reader.download_artifacts(run.info.run_id, "notes.txt", str(tmp_path / "down"))).read_text() == "hello"
    assert run.info.run_id in {r.info.run_id for r in reader.search_runs([experiment_id])}
    denied(lambda: reader.log_metric(run.info.run_id, "loss", 0.0))
    denied(lambda: reader.set_tag(run.info.run_id, "k", "v"))
    denied(lambda: reader.delete_run(run.info.run_id))
    denied(lambda: reader.log_artifact(run.info.run_id, str(tmp_path / "notes.txt"), "more"))
    denied(lambda: reader.create_run(experiment_id))
    # Nothing was changed by the refused calls.
    after = sign_in(*alice).get_run(run.info.run_id)
    assert after.info.lifecycle_stage == "active" and "k" not in after.data.tags
    assert len(after.data.metrics) == 1 and after.data.metrics["loss"] == pytest.approx(1 / 3)


def test_permissions_granted_on_an_experiment_decide_what_a_user_may_do(admin, sign_in) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user(admin, sign_in), new_user(admin, sign_in)
    owner = sign_in(*alice)
    name = f"shared-{uuid.uuid4().hex[:6]}"
    experiment_id = owner.create_experiment(name)
    run_id = owner.create_run(experiment_id).info.run_id
    manager = AuthServiceClient(admin.tracking_uri)  # as alice: the creator MANAGEs the experiment
    assert manager.get_user_permission(alice[0], "experiment", experiment_id).permission == "MANAGE"

    manager.grant_user_permission(bob[0], "experiment", experiment_id, "EDIT")
    other = sign_in(*bob)
    other.log_metric(run_id, "acc", 0.9)
    other.create_run(experiment_id)
    denied(lambda: other.delete_experiment(experiment_id))
    denied(
        lambda: AuthServiceClient(admin.tracking_uri).grant_user_permission(
            bob[0], "experiment", experiment_id, "MANAGE"
        )
    )

    sign_in(*alice)
    manager.grant_user_permission(bob[0], "experiment", experiment_id, "NO_PERMISSIONS")
    assert manager.get_user_permission(bob[0], "experiment", experiment_id).permission == "NO_PERMISSIONS"
    other = sign_in(*bob)
    denied(lambda: other.get_run(run_id))
    denied(lambda: other.get_experiment(experiment_id))
    denied(lambda: other.get_experiment_by_name(name))
    denied(lambda: other.search_runs([experiment_id]))
    assert experiment_id not in {e.experiment_id for e in other.search_experiments()}

    sign_in(*alice)
    manager.revoke_user_permission(bob[0], "experiment", experiment_id)  # back to the default: READ
    other = sign_in(*bob)
    assert other.get_run(run_id).info.run_id == run_id
    assert experiment_id in {e.experiment_id for e in other.search_experiments()}


def test_registered_models_have_permissions_of_their_own(admin, sign_in, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user(admin, sign_in), new_user(admin, sign_in)
    owner = sign_in(*alice)
    model = f"model-{uuid.uuid4().hex[:6]}"
    owner.create_registered_model(model)
    run = owner.create_run(owner.create_experiment(f"e-{uuid.uuid4().hex[:6]}"))
    owner.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id)

    other = sign_in(*bob)
    assert other.get_registered_model(model).name == model
    denied(lambda: other.set_registered_model_tag(model, "k", "v"))
    denied(lambda: other.delete_registered_model(model))
    denied(lambda: other.set_registered_model_alias(model, "champion", "1"))

    sign_in(*alice)
    AuthServiceClient(admin.tracking_uri).grant_user_permission(bob[0], "registered_model", model, "NO_PERMISSIONS")
    other = sign_in(*bob)
    denied(lambda: other.get_registered_model(model))
    denied(lambda: other.get_model_version(model, "1"))
    assert model not in {m.name for m in other.search_registered_models()}
    assert model not in {v.name for v in other.search_model_versions()}

    # The permission follows the model when it is renamed.
    renamed = f"{model}-v2"
    sign_in(*alice).rename_registered_model(model, renamed)
    denied(lambda: sign_in(*bob).get_registered_model(renamed))


def test_admins_manage_users_and_users_only_themselves(admin, sign_in) -> None:  # type: ignore[no-untyped-def]
    alice = new_user(admin, sign_in)
    user = admin.get_user(alice[0])
    assert user.username == alice[0] and user.is_admin is False
    with pytest.raises(MlflowException) as taken:
        admin.create_user(*alice)
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as empty:
        admin.create_user(f"x{uuid.uuid4().hex[:6]}", "")
    assert empty.value.error_code == "INVALID_PARAMETER_VALUE"

    sign_in(*alice)
    denied(lambda: admin.create_user(f"y{uuid.uuid4().hex[:6]}", "pw"))
    denied(lambda: admin.get_user(ADMIN[0]))
    denied(lambda: admin.update_user_admin(alice[0], True))
    assert admin.get_user(alice[0]).username == alice[0]  # itself
    # A user changes its own password only with the current one.
    denied(lambda: admin.update_user_password(alice[0], "new-password", current_password="wrong"))
    admin.update_user_password(alice[0], "new-password", current_password=alice[1])
    with pytest.raises(MlflowException) as old:
        sign_in(*alice).get_experiment("0")
    assert old.value.error_code == "UNAUTHENTICATED"
    assert sign_in(alice[0], "new-password").get_experiment("0").name == "Default"

    sign_in(*ADMIN)
    admin.update_user_admin(alice[0], True)
    assert sign_in(alice[0], "new-password").search_experiments() is not None
    assert AuthServiceClient(admin.tracking_uri).get_user(ADMIN[0]).is_admin is True  # admins read anyone
    sign_in(*ADMIN)
    admin.delete_user(alice[0])
    with pytest.raises(MlflowException) as gone:
        sign_in(alice[0], "new-password").get_experiment("0")
    assert gone.value.error_code == "UNAUTHENTICATED"


def test_the_last_admin_cannot_be_demoted_or_deleted(admin, sign_in) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MlflowException) as demote:
        admin.update_user_admin(ADMIN[0], False)
    assert demote.value.error_code == "INVALID_PARAMETER_VALUE" and "last admin" in demote.value.message
    with pytest.raises(MlflowException):
        admin.delete_user(ADMIN[0])
    assert admin.get_user(ADMIN[0]).is_admin is True


def test_mlflow_2_permission_routes(admin, sign_in, guarded: TrackletServer) -> None:  # type: ignore[no-untyped-def]
    bob = new_user(admin, sign_in)
    with httpx.Client(base_url=guarded.url + API, auth=ADMIN) as http:
        experiment_id = http.post("/experiments/create", json={"name": f"p-{uuid.uuid4().hex[:6]}"}).json()[
            "experiment_id"
        ]
        args = {"experiment_id": experiment_id, "username": bob[0]}
        created = http.post("/experiments/permissions/create", json={**args, "permission": "EDIT"})
        assert created.json()["experiment_permission"]["permission"] == "EDIT"
        again = http.post("/experiments/permissions/create", json={**args, "permission": "EDIT"})
        assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
        assert http.patch("/experiments/permissions/update", json={**args, "permission": "READ"}).status_code == 200
        assert (
            http.get("/experiments/permissions/get", params=args).json()["experiment_permission"]["permission"]
            == "READ"
        )
        bad = http.patch("/experiments/permissions/update", json={**args, "permission": "OWNER"})
        assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert http.request("DELETE", "/experiments/permissions/delete", json=args).status_code == 200
        assert http.get("/experiments/permissions/get", params=args).status_code == 404
        unknown = http.post(
            "/experiments/permissions/create", json={**args, "experiment_id": "999999", "permission": "READ"}
        )
        assert unknown.status_code == 404


GRANT = "/api/3.0/mlflow/users/permissions/grant"


def owned_by_alice(admin, sign_in, guarded: TrackletServer):  # type: ignore[no-untyped-def]
    """Three new users, an experiment and a registered model that the first one (alice) created, and
    on which she granted the second (bob) EDIT."""
    alice, bob, carol = (new_user(admin, sign_in) for _ in range(3))
    owner = sign_in(*alice)
    experiment_id = owner.create_experiment(f"owned-{uuid.uuid4().hex[:6]}")
    model = f"owned-{uuid.uuid4().hex[:6]}"
    owner.create_registered_model(model)
    for resource_type, resource_id in (("experiment", experiment_id), ("registered_model", model)):
        grant = {"resource_type": resource_type, "resource_id": resource_id, "username": bob[0], "permission": "EDIT"}
        httpx.post(guarded.url + GRANT, json=grant, auth=alice).raise_for_status()
    return alice, bob, carol, experiment_id, model


def test_a_resources_permissions_are_listed_to_those_who_manage_it(admin, sign_in, guarded: TrackletServer) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol, experiment_id, model = owned_by_alice(admin, sign_in, guarded)
    listing = f"{guarded.url}/api/tracklet/permissions"
    for resource_type, resource_id in (("experiment", experiment_id), ("registered_model", model)):
        where = {"resource_type": resource_type, "resource_id": resource_id}
        listed = httpx.get(listing, params=where, auth=alice).json()
        # The creator was granted MANAGE when creating it; everyone else gets the server's default.
        assert listed["permissions"] == sorted(
            [{"username": alice[0], "permission": "MANAGE"}, {"username": bob[0], "permission": "EDIT"}],
            key=lambda p: p["username"],
        )
        assert listed["default_permission"] == "READ"
        assert httpx.get(listing, params=where, auth=ADMIN).json() == listed
        # Those who do not manage it learn nothing about who else may use it.
        for outsider in (bob, carol):
            refused = httpx.get(listing, params=where, auth=outsider)
            assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    missing = httpx.get(listing, params={"resource_type": "experiment", "resource_id": "999999"}, auth=ADMIN)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad = httpx.get(listing, params={"resource_type": "run", "resource_id": "1"}, auth=ADMIN)
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert httpx.get(listing, params={"resource_type": "experiment"}, auth=ADMIN).status_code == 400


def test_a_user_reads_their_own_permission_on_a_resource(admin, sign_in, guarded: TrackletServer) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol, experiment_id, model = owned_by_alice(admin, sign_in, guarded)
    mine = f"{guarded.url}/api/tracklet/permissions/mine"
    for resource_type, resource_id in (("experiment", experiment_id), ("registered_model", model)):
        where = {"resource_type": resource_type, "resource_id": resource_id}

        def asks(credentials: tuple[str, str], where: dict[str, str] = where) -> dict[str, object]:
            answer = httpx.get(mine, params=where, auth=credentials)
            assert answer.status_code == 200, answer.text
            return answer.json()  # type: ignore[no-any-return]

        assert asks(ADMIN) == {"permission": "MANAGE", "is_admin": True}  # admins may do everything
        assert asks(alice) == {"permission": "MANAGE", "is_admin": False}  # the creator's grant
        assert asks(bob) == {"permission": "EDIT", "is_admin": False}  # granted
        assert asks(carol) == {"permission": "READ", "is_admin": False}  # the server's default
        httpx.post(
            guarded.url + GRANT, json={**where, "username": carol[0], "permission": "NO_PERMISSIONS"}, auth=alice
        ).raise_for_status()
        assert asks(carol)["permission"] == "NO_PERMISSIONS"  # still told, though she may not read it
        # Not signed in: asked to, in MLflow's error shape.
        anonymous = httpx.get(mine, params=where)
        assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHENTICATED"
    for where in (
        {"resource_type": "experiment", "resource_id": "999999"},
        {"resource_type": "registered_model", "resource_id": f"no-such-{uuid.uuid4().hex[:6]}"},
    ):
        unknown = httpx.get(mine, params=where, auth=bob)
        assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for params in (
        {"resource_type": "run", "resource_id": "1"},
        {"resource_type": "experiment", "resource_id": "one"},
        {"resource_type": "experiment"},
        {"resource_id": experiment_id},
    ):
        bad = httpx.get(mine, params=params, auth=bob)
        assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE", params


def test_a_user_reads_their_own_permissions_everywhere_in_one_answer(admin, sign_in, guarded: TrackletServer) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol, experiment_id, model = owned_by_alice(admin, sign_in, guarded)
    everywhere = f"{guarded.url}/api/tracklet/permissions/mine/all"

    def asks(credentials: tuple[str, str]) -> dict[str, object]:
        answer = httpx.get(everywhere, auth=credentials)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    assert asks(ADMIN) == {"is_admin": True, "default_permission": "MANAGE"}  # admins may do everything
    assert asks(alice) == {
        "is_admin": False,
        "default_permission": "READ",  # the server's, for all that is not granted
        "experiments": {experiment_id: "MANAGE"},  # the creator's grants
        "registered_models": {model: "MANAGE"},
    }
    assert asks(bob) == {
        "is_admin": False,
        "default_permission": "READ",
        "experiments": {experiment_id: "EDIT"},
        "registered_models": {model: "EDIT"},
    }
    assert asks(carol) == {"is_admin": False, "default_permission": "READ", "experiments": {}, "registered_models": {}}
    # Each user's own, whatever they ask for: nothing names another user.
    assert httpx.get(everywhere, params={"username": alice[0]}, auth=carol).json()["experiments"] == {}
    anonymous = httpx.get(everywhere)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHENTICATED"


def test_a_user_asking_mlflows_api_about_themselves_names_an_experiment_by_its_id(
    admin, sign_in, guarded: TrackletServer
) -> None:  # type: ignore[no-untyped-def]
    # `users/permissions/get` about oneself skipped the id check others go through: a 500 for "one".
    alice, _, _, experiment_id, _ = owned_by_alice(admin, sign_in, guarded)
    get = f"{guarded.url}/api/3.0/mlflow/users/permissions/get"
    where = {"username": alice[0], "resource_type": "experiment"}
    answer = httpx.get(get, params={**where, "resource_id": experiment_id}, auth=alice)
    assert answer.status_code == 200 and answer.json()["permission"] == "MANAGE", answer.text
    for resource_id in ("one", "01a22a07a0b17b22b6b60905b1a366ca", "9" * 30):
        bad = httpx.get(get, params={**where, "resource_id": resource_id}, auth=alice)
        assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE", bad.text


def test_requests_built_to_slip_past_the_check_are_refused(admin, sign_in, guarded: TrackletServer) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user(admin, sign_in), new_user(admin, sign_in)
    owner = sign_in(*alice)
    secret = owner.create_experiment(f"secret-{uuid.uuid4().hex[:6]}")
    secret_run = owner.create_run(secret).info.run_id
    AuthServiceClient(admin.tracking_uri).grant_user_permission(bob[0], "experiment", secret, "NO_PERMISSIONS")
    mine = sign_in(*bob).create_experiment(f"bob-{uuid.uuid4().hex[:6]}")
    my_run = sign_in(*bob).create_run(mine).info.run_id
    point = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}

    with httpx.Client(base_url=guarded.url, auth=bob) as http:
        # The id in the query of a POST is not the one the endpoint reads.
        sneaky = http.post(f"{API}/runs/log-metric", params={"run_id": my_run}, json={**point, "run_id": secret_run})
        assert sneaky.status_code == 403
        # A JSON key given twice: the last one counts, for the check as for the endpoint.
        twice = f'{{"run_id": "{my_run}", "run_id": "{secret_run}", "key": "m", "value": 1, "timestamp": 1}}'
        doubled = http.post(f"{API}/runs/log-metric", content=twice, headers={"Content-Type": "application/json"})
        assert doubled.status_code == 403
        # run_id wins over run_uuid in the endpoint, so in the check.
        both = http.post(f"{API}/runs/log-metric", json={**point, "run_id": secret_run, "run_uuid": my_run})
        assert both.status_code == 403
        # A HEAD with a body naming another run is judged on its query only, and its body is not read.
        head = http.request("HEAD", f"{API}/runs/get", params={"run_id": my_run}, json={"run_id": secret_run})
        assert head.status_code in (200, 405)
        # Artifact paths outside any experiment's folder, or in a forbidden one.
        assert http.get(f"{API[:-7]}/mlflow-artifacts/artifacts", params={"path": ""}).status_code == 403
        assert http.get(f"/api/2.0/mlflow-artifacts/artifacts/{secret}/{secret_run}/artifacts/x").status_code == 403
        assert (
            http.put(f"/api/2.0/mlflow-artifacts/artifacts/{secret}/{secret_run}/artifacts/x", content=b"x").status_code
            == 403
        )
        # Searches over no experiment at all find nothing of anyone's.
        nothing = http.post(f"{API}/runs/search", json={"experiment_ids": []})
        assert nothing.status_code in (200, 400) and not nothing.json().get("runs")
        empty_table = http.post("/api/tracklet/runs/table", json={"experiment_ids": []})
        assert empty_table.status_code in (200, 400) and not empty_table.json().get("rows")
        # The UI's own API keeps the same rules.
        table = http.post("/api/tracklet/runs/table", json={"experiment_ids": [secret]})
        assert table.status_code == 403
        listed = http.get("/api/tracklet/experiments").json()["experiments"]
        assert secret not in {e["experiment_id"] for e in listed} and mine in {e["experiment_id"] for e in listed}
        # OTLP names its experiment in a header.
        otlp = http.post(
            "/v1/traces",
            content=b"",
            headers={"x-mlflow-experiment-id": secret, "Content-Type": "application/x-protobuf"},
        )
        assert otlp.status_code == 403
        # ... and may link the traces to a run of another experiment.
        linked = http.post(
            "/v1/traces",
            content=b"",
            headers={
                "x-mlflow-experiment-id": mine,
                "x-mlflow-run-id": secret_run,
                "Content-Type": "application/x-protobuf",
            },
        )
        assert linked.status_code == 403
        # A model version made from a run the user may not read.
        model = f"bob-model-{uuid.uuid4().hex[:6]}"
        assert http.post(f"{API}/registered-models/create", json={"name": model}).status_code == 200
        version = {"name": model, "source": f"runs:/{secret_run}/model", "run_id": secret_run}
        assert http.post(f"{API}/model-versions/create", json=version).status_code == 403
    assert sign_in(*alice).get_run(secret_run).data.metrics == {}


def test_a_run_created_without_an_experiment_goes_to_the_default_one_and_is_checked_there(
    admin, sign_in, guarded: TrackletServer
) -> None:  # type: ignore[no-untyped-def]
    bob = new_user(admin, sign_in)
    sign_in(*ADMIN)
    AuthServiceClient(admin.tracking_uri).grant_user_permission(bob[0], "experiment", "0", "READ")
    answer = httpx.post(f"{guarded.url}{API}/runs/create", json={}, auth=bob)
    assert answer.status_code == 403
    sign_in(*ADMIN)
    AuthServiceClient(admin.tracking_uri).grant_user_permission(bob[0], "experiment", "0", "EDIT")
    assert httpx.post(f"{guarded.url}{API}/runs/create", json={}, auth=bob).status_code == 200


def test_the_server_refuses_to_start_without_a_first_admin_password(tmp_path: Path) -> None:
    server = TrackletServer(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "a"), env={"TRACKLET_AUTH": "1"})
    with pytest.raises(RuntimeError, match="TRACKLET_ADMIN_PASSWORD"):
        server.start()


def test_a_password_changed_through_one_worker_is_checked_by_every_worker(tmp_path: Path) -> None:
    env = {"TRACKLET_AUTH": "true", "TRACKLET_ADMIN_PASSWORD": ADMIN[1]}
    server = TrackletServer(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "a"), workers=2, env=env).start()
    try:
        url = f"{server.url}{API}/experiments/get?experiment_id=0"
        token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        for _ in range(10):  # new connections: both workers learn the password
            assert httpx.get(url, headers={"Authorization": f"Basic {token}"}).status_code == 200
        changed = httpx.patch(
            f"{server.url}{API}/users/update-password",
            json={"username": ADMIN[0], "password": "rotated", "current_password": ADMIN[1]},
            auth=ADMIN,
        )
        assert changed.status_code == 200
        for _ in range(10):
            assert httpx.get(url, auth=ADMIN).status_code == 401
            assert httpx.get(url, auth=(ADMIN[0], "rotated")).status_code == 200
    finally:
        server.stop()


def test_trackets_own_client_signs_in_like_mlflows(
    admin, sign_in, guarded: TrackletServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import tracklet
    from tracklet.errors import Unauthenticated

    alice = new_user(admin, sign_in)
    sign_in(alice[0], "wrong")  # read when a client is made
    with pytest.raises(Unauthenticated):
        tracklet.TrackletClient(guarded.url).create_experiment(f"t-{uuid.uuid4().hex[:6]}")
    sign_in(*alice)
    tracklet.set_tracking_uri(guarded.url)
    try:
        tracklet.set_experiment(f"t-{uuid.uuid4().hex[:6]}")
        with tracklet.start_run() as run:
            for step in range(100):
                tracklet.log_metric("loss", 1 / (step + 1), step=step)  # queued; sent by the background thread
        history = sign_in(*alice).get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == list(range(100))
    finally:
        tracklet.set_tracking_uri(None)


def test_auth_and_prometheus_metrics_together(tmp_path: Path) -> None:
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": ADMIN[1], "TRACKLET_EXPOSE_PROMETHEUS": str(tmp_path / "m")}
    server = TrackletServer(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "a"), env=env).start()
    try:
        url = f"{server.url}{API}/experiments/get?experiment_id=0"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, auth=ADMIN).status_code == 200
        metrics = httpx.get(f"{server.url}/metrics")  # public, like /health
        assert metrics.status_code == 200
        counted = [line for line in metrics.text.splitlines() if line.startswith("tracklet_http_requests_total{")]
        assert any('status="401"' in line and "experiments/get" in line for line in counted), counted
        assert any('status="200"' in line and "experiments/get" in line for line in counted), counted
    finally:
        server.stop()


def test_an_experiment_found_by_a_name_it_took_over_is_judged_as_itself(admin, sign_in) -> None:  # type: ignore[no-untyped-def]
    """Names move (renames, and a purged experiment's name can be taken again): a name is looked up anew
    on every request, never remembered like a run's experiment."""
    alice, bob = new_user(admin, sign_in), new_user(admin, sign_in)
    name = f"taken-over-{uuid.uuid4().hex[:6]}"
    mine = sign_in(*bob).create_experiment(name)
    assert sign_in(*bob).get_experiment_by_name(name).experiment_id == mine  # looked up once as bob's
    owner = sign_in(*alice)
    secret = owner.create_experiment(f"secret-{uuid.uuid4().hex[:6]}")
    AuthServiceClient(admin.tracking_uri).grant_user_permission(bob[0], "experiment", secret, "NO_PERMISSIONS")
    sign_in(*bob).rename_experiment(mine, f"{name}-moved")
    sign_in(*alice).rename_experiment(secret, name)  # alice's experiment now has the name bob looked up
    denied(lambda: sign_in(*bob).get_experiment_by_name(name))


def test_webhooks_are_for_admins(admin, sign_in, guarded: TrackletServer) -> None:  # type: ignore[no-untyped-def]
    """As in MLflow's basic-auth app: a webhook sends registry events wherever it says, signed."""
    hook = sign_in(*ADMIN).create_webhook(f"h{uuid.uuid4().hex[:8]}", "http://127.0.0.1:9/x", ["model_version.created"])
    user = sign_in(*new_user(admin, sign_in))
    denied(lambda: user.create_webhook("mine", "http://127.0.0.1:9/x", ["model_version.created"]))
    denied(lambda: user.list_webhooks())
    denied(lambda: user.get_webhook(hook.webhook_id))
    denied(lambda: user.update_webhook(hook.webhook_id, status="DISABLED"))
    denied(lambda: user.test_webhook(hook.webhook_id))
    denied(lambda: user.delete_webhook(hook.webhook_id))
    assert httpx.get(f"{guarded.url}{API}/webhooks").status_code == 401
    admin_client = sign_in(*ADMIN)
    assert admin_client.get_webhook(hook.webhook_id).status.value == "ACTIVE"
    admin_client.delete_webhook(hook.webhook_id)
