"""Webhooks over HTTP: the answers' shapes, MLflow's validation and error codes, and what clients never send."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.http.conftest import API, error, ok, post
from tests.support.receiver import Receiver

EVENT = {"entity": "MODEL_VERSION", "action": "CREATED"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def new_hook(api: httpx.Client, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    body = {"name": f"h-{uuid.uuid4().hex[:8]}", "url": receiver.url + "/http", "events": [EVENT], **fields}
    return ok(post(api, "/webhooks", body))["webhook"]  # type: ignore[no-any-return]


def create(api: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"name": "hook", "url": "http://127.0.0.1:9/x", "events": [EVENT], **fields}
    return post(api, "/webhooks", {k: v for k, v in body.items() if v is not ...})


def test_a_webhook_is_answered_in_mlflows_shape_without_its_secret(api, receiver):
    hook = new_hook(api, receiver, secret="never-shown", description="d")
    assert list(hook) == [
        "webhook_id", "name", "description", "url", "events", "status", "creation_timestamp", "last_updated_timestamp",
    ]  # fmt: skip
    assert hook["events"] == [EVENT] and hook["status"] == "ACTIVE"
    assert uuid.UUID(hook["webhook_id"])
    for answer in (
        api.get(f"{API}/webhooks/{hook['webhook_id']}"),
        api.get(f"{API}/webhooks", params={"max_results": 1000}),
        api.patch(f"{API}/webhooks/{hook['webhook_id']}", json={"secret": "still-never-shown"}),
        api.get(f"/ajax-api/2.0/mlflow/webhooks/{hook['webhook_id']}"),
    ):
        assert answer.status_code == 200
        assert "never-shown" not in answer.text and '"secret"' not in answer.text
    plain = new_hook(api, receiver)
    assert "description" not in plain  # omitted when empty, as MLflow does


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ...}, "Missing value for required parameter 'name'"),
        ({"url": ...}, "Missing value for required parameter 'url'"),
        ({"events": ...}, "Missing value for required parameter 'events'"),
        ({"events": []}, "Webhook events must be a non-empty list of WebhookEvent objects: []."),
        ({"events": [{"action": "CREATED"}]}, "Missing value for required parameter 'events[0].entity'"),
        (
            {"events": [{"entity": "MODEL_VERSION", "action": 0}]},
            "Missing value for required parameter 'events[0].action'",
        ),
        ({"events": [{"entity": "RUN", "action": "CREATED"}]}, "Invalid value 'RUN' for parameter 'events[0].entity'"),
        ({"events": [{"entity": 11, "action": 1}]}, "Invalid value 11 for parameter 'events[0].entity'"),
        (
            {"events": [EVENT, {"entity": "REGISTERED_MODEL", "action": "DELETED"}]},
            "Invalid action 'deleted' for entity 'registered_model'. Valid actions are: ['created']",
        ),
        ({"events": [{"entity": "PROMPT_TAG", "action": "UPDATED"}]}, "Valid actions are: ['deleted', 'set']"),
        ({"name": "-x"}, "Webhook name '-x' is invalid. It must start and end with a letter or digit"),
        ({"name": "a b"}, "is invalid"),
        ({"name": "a" * 64}, "is invalid"),
        ({"name": 5}, "Invalid value for parameter 'name' supplied"),
        ({"url": " "}, "Webhook URL cannot be empty or just whitespace"),
        ({"url": "ftp://127.0.0.1/x"}, "Invalid webhook URL scheme: 'ftp'. Allowed schemes are: http, https."),
        ({"url": "127.0.0.1:80/x"}, "Invalid webhook URL scheme"),
        ({"url": "http:///x"}, "Webhook URL must include a hostname: 'http:///x'"),
        ({"url": "http://127.1/x"}, "Webhook URL host '127.1' is not a canonical IP address literal."),
        ({"url": "http://[::1/x"}, "Invalid webhook URL"),
        ({"url": "http://127.0.0.1:99999/x"}, "Invalid webhook URL"),
        ({"url": "http://127.0.0.1/a\r\nX-Injected: 1"}, "it holds control characters"),
        ({"url": "http://127.0.0.1/" + "x" * 500}, "'url' exceeds the maximum length of 500 characters"),
        # The test servers may send to this machine only: nothing else is tried, no other name resolved.
        ({"url": "http://10.0.0.1/x"}, "must not resolve to an address outside this machine"),
        ({"url": "http://169.254.169.254/latest"}, "must not resolve to an address outside this machine"),
        ({"url": "http://example.com/x"}, "is not localhost or a loopback address"),
        ({"description": "d" * 1001}, "'description' exceeds the maximum length of 1000 characters"),
        ({"secret": "s" * 1001}, "'secret' exceeds the maximum length of 1000 characters"),
        ({"status": "PAUSED"}, "Invalid value 'PAUSED' for parameter 'status' supplied: it must be ACTIVE or DISABLED"),
        ({"status": 3}, "for parameter 'status'"),
    ],
)
def test_invalid_webhooks_are_refused_with_mlflows_messages(api, fields, message):
    assert message in error(create(api, **fields))


def test_unpaired_surrogates_are_refused(api):
    for field in ("url", "secret"):
        body = '{"name": "hook", "url": "http://127.0.0.1/", "events": [{"entity": 2, "action": 1}], "%s": "x\\ud800"}'
        answer = api.post(
            f"{API}/webhooks", content=(body % field).encode(), headers={"Content-Type": "application/json"}
        )
        error(answer)  # refused while decoding: no such text can be stored or sent


def test_what_mlflow_accepts_besides_its_own_client(api, receiver):
    """Enum numbers (protobuf JSON), names in any case, a repeated event (MLflow's database refuses it),
    a status by number, an event for MLflow's AI gateway that tracklet never emits."""
    hook = new_hook(
        api, receiver,
        events=[{"entity": 2, "action": 1}, {"entity": "model_version", "action": "created"},
                {"entity": "BUDGET_POLICY", "action": "EXCEEDED"}],
        status=2,
    )  # fmt: skip
    assert hook["events"] == [{"entity": "BUDGET_POLICY", "action": "EXCEEDED"}, EVENT]
    assert hook["status"] == "DISABLED"
    assert new_hook(api, receiver, url="http://localhost:9/x", status=None, description=None)["status"] == "ACTIVE"


def test_updates_change_what_they_are_given(api, receiver):
    hook = new_hook(api, receiver, description="keep", secret="s")
    path = f"{API}/webhooks/{hook['webhook_id']}"
    # An empty name, URL or event list changes nothing (MLflow reads them as unset); nor does no body.
    same = ok(api.patch(path, json={"name": "", "url": "", "events": []}))["webhook"]
    assert {k: same[k] for k in ("name", "url", "events", "description")} == {
        k: hook[k] for k in ("name", "url", "events", "description")
    }
    assert ok(api.patch(path))["webhook"]["name"] == hook["name"]
    cleared = ok(api.patch(path, json={"description": ""}))["webhook"]
    assert "description" not in cleared
    assert "Invalid action" in error(api.patch(path, json={"events": [{"entity": "PROMPT", "action": "SET"}]}))
    assert "is invalid" in error(api.patch(path, json={"name": "no spaces"}))
    assert "scheme" in error(api.patch(path, json={"url": "file:///etc/passwd"}))
    assert ok(api.get(path))["webhook"]["name"] == hook["name"]  # a refused update wrote nothing


def test_a_secret_set_or_cleared_decides_the_signature(api, receiver):
    hook = new_hook(api, receiver, url=receiver.url + "/signed-or-not", secret="first")
    path = f"{API}/webhooks/{hook['webhook_id']}"

    def signature_sent() -> str | None:
        assert ok(post(api, f"/webhooks/{hook['webhook_id']}/test", {}))["result"]["success"] is True
        return receiver.on("/signed-or-not")[-1].headers.get("X-MLflow-Signature")

    assert (signature_sent() or "").startswith("v1,")
    ok(api.patch(path, json={"secret": ""}))
    assert signature_sent() is None
    ok(api.patch(path, json={"secret": "second"}))
    assert (signature_sent() or "").startswith("v1,")


def test_the_test_endpoint(api, receiver):
    hook = new_hook(api, receiver, url=receiver.url + "/status/404")
    result = ok(post(api, f"/webhooks/{hook['webhook_id']}/test", {}))["result"]
    assert result == {"success": False, "response_status": 404, "response_body": "received /status/404"}
    body = {"event": {"entity": "REGISTERED_MODEL", "action": "DELETED"}}
    assert "Invalid action" in error(post(api, f"/webhooks/{hook['webhook_id']}/test", body))
    body = {"event": {"entity": "BUDGET_POLICY", "action": "EXCEEDED"}}
    assert ok(post(api, f"/webhooks/{hook['webhook_id']}/test", body))["result"]["response_status"] == 404
    assert receiver.on("/status/404")[-1].payload["data"]["budget_policy_id"] == "bp-abc123"
    error(api.post(f"{API}/webhooks/{hook['webhook_id']}/test"), 400)  # no Content-Type, as MLflow
    error(post(api, "/webhooks/unknown/test", {}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_pages_and_unknown_ids(api, receiver):
    made = [new_hook(api, receiver)["webhook_id"] for _ in range(3)]
    page = ok(api.get(f"{API}/webhooks", params={"max_results": 2}))
    assert len(page["webhooks"]) == 2 and page["next_page_token"]
    assert ok(api.get(f"{API}/webhooks", params={"max_results": 0}))["webhooks"]  # 0: the default, as MLflow
    for bad in (-1, 1001):
        assert (
            error(api.get(f"{API}/webhooks", params={"max_results": bad})) == "max_results must be between 1 and 1000."
        )
    assert "Invalid page token" in error(api.get(f"{API}/webhooks", params={"page_token": "zzz"}))
    assert "max_results" in error(api.get(f"{API}/webhooks", params={"max_results": "abc"}))
    for method in ("GET", "DELETE"):
        message = error(api.request(method, f"{API}/webhooks/nope"), 404, "RESOURCE_DOES_NOT_EXIST")
        assert message == "Webhook with ID nope not found."
    error(api.patch(f"{API}/webhooks/nope", json={}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert api.put(f"{API}/webhooks", json={}).status_code == 405
    for webhook_id in made:
        assert ok(api.delete(f"{API}/webhooks/{webhook_id}")) == {}
        error(api.get(f"{API}/webhooks/{webhook_id}"), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(("auth", "allowed"), [(False, False), (True, True)])
def test_without_auth_webhooks_may_send_to_public_addresses_only_unless_told(tmp_path, auth, allowed):
    """Without --auth anyone who reaches the server may make a webhook: by default it may not make the
    server send into its network. With --auth only admins make them, and the network is theirs."""
    from tests.support.processes import TrackletServer

    env = {"TRACKLET_WEBHOOK_DESTINATIONS": ""}  # unset (the suite sets loopback for every server)
    if auth:
        env |= {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": "admin-pw"}
    server = TrackletServer(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "a"), env=env).start()
    try:
        with httpx.Client(base_url=server.url, auth=("admin", "admin-pw") if auth else None) as api:
            answer = create(api, url="http://10.0.0.1/x")
            if allowed:
                assert answer.status_code == 200, answer.text
            else:
                assert "must not resolve to a non-public address" in error(answer)
                assert "TRACKLET_WEBHOOK_DESTINATIONS=public" in error(answer)
    finally:
        server.stop()
