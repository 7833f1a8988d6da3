"""The workspace API and the `X-MLflow-Workspace` header over raw HTTP: MLflow's validation, codes and
words; a server without `--enable-workspaces` answering as MLflow's does; workspaces with `--auth`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import BACKENDS, _store_uri
from tests.http.conftest import ADMIN, check_answer, error, ok
from tests.support.processes import TrackletServer

WS = "/api/3.0/mlflow/workspaces"
API = "/api/2.0/mlflow"
PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def _name() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", params=BACKENDS)
def ws_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    tmp = tmp_path_factory.mktemp("ws")
    env = {"TRACKLET_ENABLE_WORKSPACES": "true"}
    server = TrackletServer(_store_uri(request.param, tmp, request), str(tmp / "artifacts"), env=env).start()
    yield server
    server.stop()


@pytest.fixture
def http(ws_server: TrackletServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ws_server.url, timeout=60, event_hooks={"response": [check_answer]}) as client:
        yield client


def in_ws(name: str) -> dict[str, str]:
    return {"X-MLflow-Workspace": name}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing value for required parameter 'name'."),
        ({"name": "default"}, "The 'default' workspace is reserved and cannot be created"),
        ({"name": "a"}, "Workspace name 'a' must be between 2 and 63 characters."),
        ({"name": "x" * 64}, f"Workspace name '{'x' * 64}' must be between 2 and 63 characters."),
        ({"name": "Team_A"}, f"Workspace name 'Team_A' must match the pattern {PATTERN}"),
        ({"name": "-team"}, f"Workspace name '-team' must match the pattern {PATTERN}"),
        ({"name": "api"}, "Workspace name 'api' is reserved and cannot be used."),
        ({"name": "workspaces"}, "Workspace name 'workspaces' is reserved and cannot be used."),
        ({"name": 5}, "Invalid value for parameter 'name' supplied"),
        ({"name": "team-r", "default_artifact_root": "relative/path"}, "Invalid value for 'default_artifact_root'."),
        ({"name": "team-r", "trace_archival_config": {"retention": "30 days"}}, "Expected a duration in the form"),
    ],
)
def test_a_workspace_that_breaks_mlflows_rules_is_refused(http: httpx.Client, body: dict, message: str) -> None:  # type: ignore[type-arg]
    assert message in error(http.post(WS, json=body))
    assert "team-r" not in {w["name"] for w in ok(http.get(WS))["workspaces"]}


def test_the_api_answers_with_mlflows_fields_and_codes(http: httpx.Client) -> None:
    name = _name()
    created = http.post(
        WS,
        json={"name": name, "description": "d", "trace_archival_config": {"location": "s3://b/a", "retention": "30d"}},
    )
    assert created.status_code == 201
    assert created.json() == {
        "workspace": {
            "name": name,
            "description": "d",
            "trace_archival_config": {"location": "s3://b/a", "retention": "30d"},
        }
    }
    assert ok(http.get(f"/ajax-api/3.0/mlflow/workspaces/{name}"))["workspace"]["description"] == "d"
    assert "Workspace update must have at least one key" in error(http.patch(f"{WS}/{name}", json={}))
    patched = ok(http.patch(f"{WS}/{name}", json={"description": "", "trace_archival_config": {"retention": ""}}))
    assert patched == {
        "workspace": {"name": name, "description": "", "trace_archival_config": {"location": "s3://b/a"}}
    }
    assert (
        error(http.post(WS, json={"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
        == f"Workspace '{name}' already exists."
    )
    assert error(http.get(f"{WS}/nope-{name}"), 404, "RESOURCE_DOES_NOT_EXIST") == f"Workspace 'nope-{name}' not found"
    assert f"must match the pattern {PATTERN}" in error(http.get(f"{WS}/Bad"))
    assert "'default' workspace is reserved and cannot be deleted" in error(http.delete(f"{WS}/default"))
    assert error(http.delete(f"{WS}/{name}?mode=FOO")) == (
        "Invalid deletion mode 'FOO'. Must be one of: SET_DEFAULT, CASCADE, RESTRICT"
    )
    deleted = http.delete(f"{WS}/{name}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert error(http.delete(f"{WS}/{name}"), 404, "RESOURCE_DOES_NOT_EXIST") == f"Workspace '{name}' not found"


def test_the_default_workspace_may_be_described_but_not_made_or_removed(http: httpx.Client) -> None:
    described = ok(http.patch(f"{WS}/default", json={"description": "everything from before"}))
    assert described["workspace"] == {"name": "default", "description": "everything from before"}
    assert {"name": "default", "description": "everything from before"} in ok(http.get(WS))["workspaces"]


def test_a_header_naming_no_workspace_is_answered_as_mlflow_does(http: httpx.Client) -> None:
    found = http.get(f"{API}/experiments/get", params={"experiment_id": "0"}, headers=in_ws("no-such-ws"))
    assert error(found, 404, "RESOURCE_DOES_NOT_EXIST") == "Workspace 'no-such-ws' not found"
    bad = http.get(f"{API}/experiments/get", params={"experiment_id": "0"}, headers=in_ws("Bad_Name"))
    assert f"must match the pattern {PATTERN}" in error(bad)
    # server-info answers whatever the header says (the client asks it before anything else)
    info = ok(http.get("/api/3.0/mlflow/server-info", headers=in_ws("no-such-ws")))
    assert info["workspaces_enabled"] is True
    # No header (or a blank one) is the default workspace.
    assert ok(http.get(f"{API}/experiments/get", params={"experiment_id": "0"}))["experiment"]["workspace"] == "default"


def test_searches_leave_out_experiments_of_other_workspaces(http: httpx.Client) -> None:
    a, b = _name(), _name()
    for name in (a, b):
        assert http.post(WS, json={"name": name}).status_code == 201
    experiment_a = ok(http.post(f"{API}/experiments/create", json={"name": "e"}, headers=in_ws(a)))["experiment_id"]
    experiment_b = ok(http.post(f"{API}/experiments/create", json={"name": "e"}, headers=in_ws(b)))["experiment_id"]
    for experiment_id, workspace in ((experiment_a, a), (experiment_b, b)):
        ok(http.post(f"{API}/runs/create", json={"experiment_id": experiment_id}, headers=in_ws(workspace)))
    both = {"experiment_ids": [experiment_a, experiment_b]}
    runs = ok(http.post(f"{API}/runs/search", json=both, headers=in_ws(a)))["runs"]
    assert {r["info"]["experiment_id"] for r in runs} == {experiment_a}
    assert ok(http.post(f"{API}/runs/search", json={"experiment_ids": [experiment_b]}, headers=in_ws(a))) == {}
    assert ok(http.post(f"{API}/logged-models/search", json={"experiment_ids": [experiment_b]}, headers=in_ws(a))) == {}
    names = ok(http.post(f"{API}/experiments/search", json={"max_results": 100}, headers=in_ws(a)))["experiments"]
    assert [(e["experiment_id"], e["workspace"]) for e in names] == [(experiment_a, a)]
    # An experiment given an artifact location is refused in a workspace, as in MLflow.
    refused = http.post(
        f"{API}/experiments/create", json={"name": "f", "artifact_location": "/tmp/x"}, headers=in_ws(a)
    )
    assert error(refused) == "artifact_location cannot be specified when workspaces are enabled"


def test_a_server_without_workspaces_answers_as_mlflows_does(server: TrackletServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for method, path, rule in (
            ("GET", WS, "/api/3.0/mlflow/workspaces"),
            ("POST", WS, "/api/3.0/mlflow/workspaces"),
            ("GET", f"{WS}/team-a", "/api/3.0/mlflow/workspaces/<workspace_name>"),
            ("PATCH", f"{WS}/team-a", "/api/3.0/mlflow/workspaces/<workspace_name>"),
            ("DELETE", f"{WS}/team-a", "/api/3.0/mlflow/workspaces/<workspace_name>"),
            ("GET", "/ajax-api/3.0/mlflow/workspaces", "/ajax-api/3.0/mlflow/workspaces"),
        ):
            answer = http.request(method, path, json={"name": "team-a"} if method in ("POST", "PATCH") else None)
            assert answer.status_code == 503
            assert answer.text == (
                f"Endpoint: {rule} disabled because the server is running without workspaces support. To enable "
                "workspace, run `mlflow server` with `--enable-workspaces`"
            )
        named = http.get(f"{API}/experiments/get", params={"experiment_id": "0"}, headers=in_ws("team-a"))
        assert named.status_code == 400
        assert named.json() == {
            "error_code": "FEATURE_DISABLED",
            "message": "Workspace APIs are not available: workspaces are not enabled on this server",
        }
        info = http.get("/api/3.0/mlflow/server-info", headers=in_ws("team-a"))
        assert info.json()["workspaces_enabled"] is False
        experiment = http.get(f"{API}/experiments/get", params={"experiment_id": "0"}).json()["experiment"]
        assert experiment["workspace"] == "default"


def test_the_official_client_refuses_a_workspace_on_a_server_without(server: TrackletServer) -> None:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(server.url)
    mlflow.set_workspace("team-a")
    try:
        with pytest.raises(MlflowException) as excinfo:
            client.search_experiments()
        assert excinfo.value.error_code == "FEATURE_DISABLED"
    finally:
        mlflow.set_workspace(None)


@pytest.fixture(scope="module", params=BACKENDS)
def guarded_ws(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    tmp = tmp_path_factory.mktemp("auth-ws")
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": ADMIN[1], "TRACKLET_ENABLE_WORKSPACES": "true"}
    server = TrackletServer(_store_uri(request.param, tmp, request), str(tmp / "artifacts"), env=env).start()
    yield server
    server.stop()


def test_with_auth_only_admins_manage_workspaces_and_grants_stay_in_theirs(guarded_ws: TrackletServer) -> None:
    with httpx.Client(base_url=guarded_ws.url, timeout=60, auth=ADMIN) as admin:
        a, b = _name(), _name()
        for name in (a, b):
            assert admin.post(WS, json={"name": name}).status_code == 201
        ok(admin.post(f"{API}/users/create", json={"username": "alice", "password": "alice-password-1"}))
        # a model named alike in both workspaces; alice may edit only a's
        for name in (a, b):
            ok(admin.post(f"{API}/registered-models/create", json={"name": "shared"}, headers=in_ws(name)))
        grant = {"name": "shared", "username": "alice", "permission": "EDIT"}
        ok(admin.post(f"{API}/registered-models/permissions/create", json=grant, headers=in_ws(a)))
        experiment_b = ok(admin.post(f"{API}/experiments/create", json={"name": "e"}, headers=in_ws(b)))

    with httpx.Client(base_url=guarded_ws.url, timeout=60, auth=("alice", "alice-password-1")) as alice:
        assert error(alice.post(WS, json={"name": _name()}), 403, "PERMISSION_DENIED")
        assert error(alice.delete(f"{WS}/{a}"), 403, "PERMISSION_DENIED")
        assert error(alice.patch(f"{WS}/{a}", json={"description": "x"}), 403, "PERMISSION_DENIED")
        assert {a, b} <= {w["name"] for w in ok(alice.get(WS))["workspaces"]}
        described = {"name": "shared", "description": "edited"}
        ok(alice.patch(f"{API}/registered-models/update", json=described, headers=in_ws(a)))
        refused = alice.patch(f"{API}/registered-models/update", json=described, headers=in_ws(b))
        assert error(refused, 403, "PERMISSION_DENIED")
        # b's experiment is not found from a, whoever asks
        hidden = alice.get(
            f"{API}/experiments/get", params={"experiment_id": experiment_b["experiment_id"]}, headers=in_ws(a)
        )
        assert error(hidden, 404, "RESOURCE_DOES_NOT_EXIST")


def test_webhooks_are_a_workspaces_own(http: httpx.Client) -> None:
    a, b = _name(), _name()
    for name in (a, b):
        assert http.post(WS, json={"name": name}).status_code == 201
    hook = {"name": "hook", "url": "http://127.0.0.1:9/x", "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}
    made = ok(http.post(f"{API}/webhooks", json=hook, headers=in_ws(a)))["webhook"]
    assert [h["webhook_id"] for h in ok(http.get(f"{API}/webhooks", headers=in_ws(a)))["webhooks"]] == [
        made["webhook_id"]
    ]
    assert ok(http.get(f"{API}/webhooks", headers=in_ws(b))) == {}
    hidden = http.get(f"{API}/webhooks/{made['webhook_id']}", headers=in_ws(b))
    assert error(hidden, 404, "RESOURCE_DOES_NOT_EXIST")
    assert error(http.delete(f"{API}/webhooks/{made['webhook_id']}", headers=in_ws(b)), 404, "RESOURCE_DOES_NOT_EXIST")
    # RESTRICT counts it; CASCADE deletes it with the workspace.
    assert "table 'webhooks' still contains 1 resource(s)" in error(http.delete(f"{WS}/{a}"), 400, "INVALID_STATE")
    assert http.delete(f"{WS}/{a}?mode=CASCADE").status_code == 204
    assert all(h["webhook_id"] != made["webhook_id"] for h in ok(http.get(f"{API}/webhooks")).get("webhooks", []))


def test_a_store_with_other_workspaces_is_not_served_without_the_option(store_uri: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"TRACKLET_ENABLE_WORKSPACES": "true"}
    server = TrackletServer(store_uri, str(tmp_path / "artifacts"), env=env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.post(WS, json={"name": "team-a"}).status_code == 201
            ok(http.post(f"{API}/experiments/create", json={"name": "e"}, headers=in_ws("team-a")))
    finally:
        server.stop()
    without = TrackletServer(store_uri, str(tmp_path / "artifacts"))
    with pytest.raises(RuntimeError, match="Cannot disable workspaces because experiments exist outside"):
        without.start()


def test_bad_ids_get_the_endpoints_own_answer_in_a_workspace(http: httpx.Client) -> None:
    huge = "99999999999999999999"
    found = http.get(f"{API}/experiments/get", params={"experiment_id": huge}, headers=in_ws("default"))
    assert error(found) == f"Experiment ID must be a valid integer, got '{huge}' for 'experiment_id'"
    garbage = http.post(f"{API}/runs/log-batch", content=b"{", headers={"Content-Type": "application/json"})
    assert error(garbage).startswith("Malformed request")


def test_labeling_keeps_to_its_workspace(http: httpx.Client) -> None:
    """Issues, review queues and label schemas are their experiment's: another workspace neither finds
    them by id nor lists them, even in a search of every experiment's issues."""
    a, b = _name(), _name()
    for name in (a, b):
        assert http.post(WS, json={"name": name}).status_code == 201
    experiment = ok(http.post(f"{API}/experiments/create", json={"name": "labels"}, headers=in_ws(a)))["experiment_id"]
    issue = ok(
        http.post(
            "/api/3.0/mlflow/issues",
            json={"experiment_id": experiment, "name": "slow", "description": "d"},
            headers=in_ws(a),
        )
    )
    issue_id = issue["issue"]["issue_id"]
    search = "/api/3.0/mlflow/issues/search"
    assert [i["issue_id"] for i in ok(http.post(search, json={}, headers=in_ws(a)))["issues"]] == [issue_id]
    assert ok(http.post(search, json={}, headers=in_ws(b))).get("issues", []) == []
    refused = http.get(f"/api/3.0/mlflow/issues/{issue_id}", headers=in_ws(b))
    assert error(refused, 404, "RESOURCE_DOES_NOT_EXIST") == f"Issue with ID '{issue_id}' not found"
    queue = {"experiment_id": experiment, "name": "triage", "queue_type": "CUSTOM"}
    queue_id = ok(http.post("/api/3.0/mlflow/review-queues/create", json=queue, headers=in_ws(a)))["review_queue"]
    refused = http.get("/api/3.0/mlflow/review-queues/get", params={"queue_id": queue_id["queue_id"]}, headers=in_ws(b))
    assert error(refused, 404, "RESOURCE_DOES_NOT_EXIST") == f"Review queue with id '{queue_id['queue_id']}' not found."


def test_a_workspace_deleted_with_its_contents_takes_its_labeling_along(http: httpx.Client) -> None:
    name = _name()
    assert http.post(WS, json={"name": name}).status_code == 201
    experiment = ok(http.post(f"{API}/experiments/create", json={"name": "e"}, headers=in_ws(name)))["experiment_id"]
    schema = {"experiment_id": experiment, "name": "q", "type": "EXPECTATION", "input": {"text": {}}}
    ok(http.post("/api/3.0/mlflow/label-schemas/create", json=schema, headers=in_ws(name)))
    queue = {"experiment_id": experiment, "name": "triage", "queue_type": "CUSTOM"}
    ok(http.post("/api/3.0/mlflow/review-queues/create", json=queue, headers=in_ws(name)))
    issue = {"experiment_id": experiment, "name": "slow", "description": "d"}
    issue_id = ok(http.post("/api/3.0/mlflow/issues", json=issue, headers=in_ws(name)))["issue"]["issue_id"]

    assert http.delete(f"{WS}/{name}", params={"mode": "CASCADE"}).status_code == 204
    assert http.get(f"/api/3.0/mlflow/issues/{issue_id}").status_code == 404  # gone, not moved to default
