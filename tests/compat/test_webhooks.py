"""Webhooks of the model registry through the official client (`MlflowClient.create_webhook` …), and what
they deliver to a real receiver on a loopback port: MLflow's payloads and headers, signatures that MLflow's
own signing code reproduces, nothing for a disabled webhook, and registry calls that never wait on a
receiver."""

from __future__ import annotations

import hmac
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.entities.webhook import WebhookEvent, WebhookStatus
from mlflow.exceptions import MlflowException
from mlflow.webhooks.constants import WEBHOOK_DELIVERY_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER
from mlflow.webhooks.delivery import _generate_hmac_signature

from tests.compat.conftest import error_code, unique_name
from tests.support.processes import TrackletServer
from tests.support.receiver import Received, Receiver

MODEL_EVENTS = [
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
]
PROMPT_EVENTS = [
    "prompt.created",
    "prompt_version.created",
    "prompt_tag.set",
    "prompt_tag.deleted",
    "prompt_version_tag.set",
    "prompt_version_tag.deleted",
    "prompt_alias.created",
    "prompt_alias.deleted",
]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def hook_name() -> str:
    return unique_name("hook")


def assert_signed(delivery: Received, secret: str) -> None:
    """As a receiver written for MLflow checks a delivery: the signature MLflow's own code makes of the
    delivery id, timestamp and raw body, compared in constant time."""
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    expected = _generate_hmac_signature(
        secret,
        headers[WEBHOOK_DELIVERY_ID_HEADER.lower()],
        headers[WEBHOOK_TIMESTAMP_HEADER.lower()],
        delivery.body,
    )
    assert hmac.compare_digest(headers[WEBHOOK_SIGNATURE_HEADER.lower()], expected)
    assert abs(int(headers[WEBHOOK_TIMESTAMP_HEADER.lower()]) - time.time()) < 120


# ---- the API ----------------------------------------------------------------------------------


def test_create_get_update_delete(mlflow_client, receiver):
    name = hook_name()
    hook = mlflow_client.create_webhook(
        name, receiver.url + "/crud", ["model_version.created", "registered_model.created"],
        description="CI on new versions", secret="s3cret",
    )  # fmt: skip
    assert hook.name == name
    assert hook.url == receiver.url + "/crud"
    assert hook.description == "CI on new versions"
    assert hook.status == WebhookStatus.ACTIVE
    assert {str(e) for e in hook.events} == {"model_version.created", "registered_model.created"}
    assert hook.creation_timestamp == hook.last_updated_timestamp > 0
    assert hook.secret is None  # write-only

    got = mlflow_client.get_webhook(hook.webhook_id)
    assert (got.webhook_id, got.name, got.url, got.description) == (hook.webhook_id, name, hook.url, hook.description)
    assert [str(e) for e in got.events] == ["model_version.created", "registered_model.created"]  # sorted

    time.sleep(0.002)
    updated = mlflow_client.update_webhook(
        hook.webhook_id, name=name + "-2", description="", events=["model_version_alias.created"], status="DISABLED"
    )
    assert updated.name == name + "-2"
    assert updated.description is None
    assert [str(e) for e in updated.events] == ["model_version_alias.created"]
    assert updated.status == WebhookStatus.DISABLED
    assert updated.last_updated_timestamp > updated.creation_timestamp == hook.creation_timestamp
    assert mlflow_client.update_webhook(hook.webhook_id, status="ACTIVE").status == WebhookStatus.ACTIVE
    assert mlflow_client.get_webhook(hook.webhook_id).name == name + "-2"  # untouched by the second update

    mlflow_client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException) as missing:
        mlflow_client.get_webhook(hook.webhook_id)
    assert error_code(missing) == "RESOURCE_DOES_NOT_EXIST"
    assert f"Webhook with ID {hook.webhook_id} not found." in str(missing.value)
    with pytest.raises(MlflowException) as again:
        mlflow_client.delete_webhook(hook.webhook_id)
    assert error_code(again) == "RESOURCE_DOES_NOT_EXIST"


def test_list_pages_newest_first(mlflow_client, receiver):
    made = [
        mlflow_client.create_webhook(hook_name(), receiver.url + "/list", ["prompt.created"]).webhook_id
        for _ in range(5)
    ]
    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.list_webhooks(max_results=2, page_token=token)
        assert len(page) <= 2
        seen += [w.webhook_id for w in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert len(seen) == len(set(seen)) and pages >= 3
    assert [i for i in seen if i in made] == made[::-1]
    everything = mlflow_client.list_webhooks(max_results=1000)
    assert [w.webhook_id for w in everything] == seen and not everything.token
    for webhook_id in made:
        mlflow_client.delete_webhook(webhook_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "Webhook name 'bad name' is invalid"),
        ({"name": "x" * 64}, "is invalid"),
        ({"url": "ftp://127.0.0.1/x"}, "Invalid webhook URL scheme: 'ftp'. Allowed schemes are: http, https."),
        ({"url": "http:///x"}, "Webhook URL must include a hostname"),
        ({"url": "http://10.1.2.3/x"}, "must not resolve to an address outside this machine"),
        ({"events": []}, "Missing value for required parameter 'events'"),
        ({"description": "d" * 1001}, "'description' exceeds the maximum length of 1000"),
    ],
)
def test_invalid_webhooks_are_refused(mlflow_client, receiver, kwargs, message):
    fields = {"name": hook_name(), "url": receiver.url + "/bad", "events": ["model_version.created"], **kwargs}
    with pytest.raises(MlflowException) as refused:
        mlflow_client.create_webhook(**fields)
    assert error_code(refused) == "INVALID_PARAMETER_VALUE"
    assert message in str(refused.value)


def test_invalid_pages_and_unknown_ids(mlflow_client):
    for max_results in (1001, -1):
        with pytest.raises(MlflowException, match="max_results must be between 1 and 1000") as refused:
            mlflow_client.list_webhooks(max_results=max_results)
        assert error_code(refused) == "INVALID_PARAMETER_VALUE"
    for call in (mlflow_client.get_webhook, mlflow_client.test_webhook):
        with pytest.raises(MlflowException) as missing:
            call("00000000-0000-0000-0000-000000000000")
        assert error_code(missing) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as missing:
        mlflow_client.update_webhook("nope", description="x")
    assert error_code(missing) == "RESOURCE_DOES_NOT_EXIST"


# ---- test_webhook -----------------------------------------------------------------------------


def test_test_webhook_reports_what_the_receiver_answered(mlflow_client, receiver):
    hook = mlflow_client.create_webhook(hook_name(), receiver.url + "/tested", MODEL_EVENTS, secret="k3y")
    result = mlflow_client.test_webhook(hook.webhook_id)
    assert (result.success, result.response_status, result.response_body) == (True, 200, "received /tested")
    assert result.error_message is None
    sent = receiver.on("/tested")[-1]
    assert sent.payload["entity"] == "model_version" and sent.payload["action"] == "created"  # the first event
    assert sent.payload["data"]["name"] == "example_model"
    assert_signed(sent, "k3y")

    result = mlflow_client.test_webhook(hook.webhook_id, event=WebhookEvent("prompt_alias", "deleted"))
    assert result.success
    assert receiver.on("/tested")[-1].payload == {
        **receiver.on("/tested")[-1].payload,
        "entity": "prompt_alias",
        "action": "deleted",
        "data": {"name": "example_prompt", "alias": "example_alias"},
    }

    failing_path = "/status/500/" + unique_name("t")
    failing = mlflow_client.create_webhook(hook_name(), receiver.url + failing_path, MODEL_EVENTS)
    result = mlflow_client.test_webhook(failing.webhook_id)
    assert (result.success, result.response_status) == (False, 500)
    time.sleep(0.5)
    assert len(receiver.on(failing_path)) == 1  # a test is sent once: no retries

    closed = mlflow_client.create_webhook(hook_name(), "http://127.0.0.1:9/closed", MODEL_EVENTS)
    result = mlflow_client.test_webhook(closed.webhook_id)
    assert result.success is False and result.response_status is None
    assert result.error_message.startswith("Failed to test webhook: ConnectError")
    for h in (hook, failing, closed):
        mlflow_client.delete_webhook(h.webhook_id)


# ---- deliveries -------------------------------------------------------------------------------


def test_registry_events_are_delivered_signed(mlflow_client, receiver):
    path = "/" + unique_name("models")
    hook = mlflow_client.create_webhook(hook_name(), receiver.url + path, MODEL_EVENTS, secret="topsecret")
    model = unique_name("model")
    mlflow_client.create_registered_model(model, tags={"team": "vision"}, description="a model")
    version = mlflow_client.create_model_version(model, "s3://bucket/model", tags={"t": "1"}, description="v one")
    mlflow_client.set_model_version_tag(model, version.version, "validated", "yes")
    mlflow_client.delete_model_version_tag(model, version.version, "validated")
    mlflow_client.set_registered_model_alias(model, "champion", version.version)
    mlflow_client.delete_registered_model_alias(model, "champion")
    mlflow_client.set_registered_model_tag(model, "not", "an event")  # a model's own tags: only prompts' are

    deliveries = receiver.wait_for(path, 6)
    time.sleep(0.3)
    by_event = {d.event: d for d in receiver.on(path)}
    assert len(receiver.on(path)) == 6 and set(by_event) == set(MODEL_EVENTS)
    assert by_event["registered_model.created"].payload["data"] == {
        "name": model,
        "tags": {"team": "vision"},
        "description": "a model",
    }
    assert by_event["model_version.created"].payload["data"] == {
        "name": model,
        "version": "1",
        "source": "s3://bucket/model",
        "run_id": None,
        "tags": {"t": "1"},
        "description": "v one",
    }
    assert by_event["model_version_tag.set"].payload["data"] == {
        "name": model,
        "version": "1",
        "key": "validated",
        "value": "yes",
    }
    assert by_event["model_version_tag.deleted"].payload["data"] == {"name": model, "version": "1", "key": "validated"}
    assert by_event["model_version_alias.created"].payload["data"] == {
        "name": model,
        "alias": "champion",
        "version": "1",
    }
    assert by_event["model_version_alias.deleted"].payload["data"] == {"name": model, "alias": "champion"}
    for delivery in deliveries:
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        assert headers["content-type"] == "application/json"
        assert set(delivery.payload) == {"entity", "action", "timestamp", "data"}
        assert delivery.payload["timestamp"].endswith("+00:00")
        assert_signed(delivery, "topsecret")
    assert len({d.headers[WEBHOOK_DELIVERY_ID_HEADER] for d in deliveries}) == 6
    mlflow_client.delete_webhook(hook.webhook_id)


def test_prompt_events_are_delivered_as_prompt_events(mlflow_client, receiver, server):
    prompts, models = "/" + unique_name("prompts"), "/" + unique_name("models")
    prompt_hook = mlflow_client.create_webhook(hook_name(), receiver.url + prompts, PROMPT_EVENTS)
    model_hook = mlflow_client.create_webhook(hook_name(), receiver.url + models, MODEL_EVENTS)
    name = unique_name("prompt")
    mlflow.set_tracking_uri(server.url)
    mlflow.genai.register_prompt(name, "Hello {{name}}", commit_message="first", tags={"lang": "en"})
    mlflow.genai.set_prompt_alias(name, "production", 1)
    mlflow.genai.delete_prompt_alias(name, "production")
    mlflow_client.set_prompt_version_tag(name, "1", "checked", "yes")
    mlflow_client.set_prompt_tag(name, "owner", "nlp")

    receiver.wait_for(prompts, 6)
    time.sleep(0.3)
    by_event = {d.event: d.payload["data"] for d in receiver.on(prompts)}
    assert by_event["prompt.created"]["name"] == name
    assert by_event["prompt_version.created"] == {
        "name": name,
        "version": "1",
        "template": "Hello {{name}}",
        "tags": {"lang": "en"},
        "description": "first",
    }
    assert by_event["prompt_alias.created"] == {"name": name, "alias": "production", "version": "1"}
    assert by_event["prompt_alias.deleted"] == {"name": name, "alias": "production"}
    assert by_event["prompt_version_tag.set"] == {"name": name, "version": "1", "key": "checked", "value": "yes"}
    assert by_event["prompt_tag.set"]["name"] == name
    assert receiver.on(models) == []  # prompts are not models to the webhooks either
    for hook in (prompt_hook, model_hook):
        mlflow_client.delete_webhook(hook.webhook_id)


def test_a_disabled_webhook_receives_nothing(mlflow_client, receiver):
    path = "/" + unique_name("disabled")
    hook = mlflow_client.create_webhook(
        hook_name(), receiver.url + path, ["registered_model.created"], status="DISABLED"
    )
    mlflow_client.create_registered_model(unique_name("quiet"))
    time.sleep(1.0)
    assert receiver.on(path) == []
    mlflow_client.update_webhook(hook.webhook_id, status="ACTIVE")
    loud = unique_name("loud")
    mlflow_client.create_registered_model(loud)
    assert [d.payload["data"]["name"] for d in receiver.wait_for(path)] == [loud]
    mlflow_client.delete_webhook(hook.webhook_id)
    mlflow_client.create_registered_model(unique_name("after"))
    time.sleep(1.0)
    assert len(receiver.on(path)) == 1


def test_receivers_that_hang_or_refuse_do_not_slow_or_fail_the_registry(mlflow_client, receiver):
    hanging = "/hang/" + unique_name("h")
    receiver.release.clear()  # (set by this test on the other backend)
    hooks = [
        mlflow_client.create_webhook(hook_name(), receiver.url + hanging, ["model_version.created"]),
        mlflow_client.create_webhook(hook_name(), "http://127.0.0.1:9/closed", ["model_version.created"]),
    ]
    model = unique_name("busy")
    mlflow_client.create_registered_model(model)
    started = time.monotonic()
    for _ in range(5):
        mlflow_client.create_model_version(model, "s3://bucket/model")
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"5 versions took {elapsed:.2f}s"
    assert [v.version for v in mlflow_client.search_model_versions(f"name = '{model}'")] == ["5", "4", "3", "2", "1"]
    receiver.wait_for(hanging, 5)  # all five are on their way, none answered
    receiver.release.set()
    for hook in hooks:
        mlflow_client.delete_webhook(hook.webhook_id)


def test_a_failed_delivery_is_retried_with_the_same_delivery_id(mlflow_client, receiver):
    path = "/flaky/503/" + unique_name("r")
    hook = mlflow_client.create_webhook(hook_name(), receiver.url + path, ["registered_model.created"], secret="s")
    mlflow_client.create_registered_model(unique_name("retried"))
    first, second = receiver.wait_for(path, 2, timeout=10)
    assert first.headers[WEBHOOK_DELIVERY_ID_HEADER] == second.headers[WEBHOOK_DELIVERY_ID_HEADER]
    assert first.body == second.body
    assert_signed(second, "s")
    time.sleep(0.5)
    assert len(receiver.on(path)) == 2  # answered 200 the second time: no more
    mlflow_client.delete_webhook(hook.webhook_id)


# ---- servers of their own ---------------------------------------------------------------------


@pytest.mark.slow
def test_every_worker_delivers_and_sees_changes_at_once(tmp_path: Path, receiver):
    from mlflow import MlflowClient

    server = TrackletServer(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "artifacts"), workers=2).start()
    try:
        client = MlflowClient(server.url)
        path = "/" + unique_name("workers")
        hook = client.create_webhook(hook_name(), receiver.url + path, ["registered_model.created"])
        names = [unique_name("w") for _ in range(12)]
        for name in names:
            client.create_registered_model(name)
        assert sorted(d.payload["data"]["name"] for d in receiver.wait_for(path, 12)) == sorted(names)
        client.update_webhook(hook.webhook_id, status="DISABLED")
        for _ in range(8):  # whichever worker answers, it reads the webhook as disabled
            client.create_registered_model(unique_name("off"))
        time.sleep(1.0)
        assert len(receiver.on(path)) == 12
    finally:
        server.stop()


@pytest.mark.slow
def test_secrets_are_encrypted_at_rest_with_a_key(tmp_path: Path, receiver):
    from cryptography.fernet import Fernet
    from mlflow import MlflowClient

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db = tmp_path / "t.db"
    env = {"TRACKLET_WEBHOOK_SECRET_KEY": old}
    server = TrackletServer(f"sqlite:///{db}", str(tmp_path / "artifacts"), env=env).start()
    path = "/" + unique_name("sealed")
    try:
        client = MlflowClient(server.url)
        hook = client.create_webhook(
            hook_name(), receiver.url + path, ["registered_model.created"], secret="plain-s3cret"
        )
    finally:
        server.stop()
    stored = sqlite3.connect(db).execute("SELECT secret FROM webhooks").fetchone()[0]
    assert stored.startswith("fernet:") and "plain-s3cret" not in stored

    # A new key first, the old one after it: the server re-encrypts under the new key as it starts.
    env = {"TRACKLET_WEBHOOK_SECRET_KEY": f"{new},{old}"}
    server = TrackletServer(f"sqlite:///{db}", str(tmp_path / "artifacts"), env=env).start()
    try:
        client = MlflowClient(server.url)
        client.create_registered_model(unique_name("signed"))
        assert_signed(receiver.wait_for(path)[0], "plain-s3cret")
    finally:
        server.stop()
    rotated = sqlite3.connect(db).execute("SELECT secret FROM webhooks").fetchone()[0]
    assert rotated != stored
    assert Fernet(new.encode()).decrypt(rotated.removeprefix("fernet:").encode()) == b"plain-s3cret"

    # Without the key the secret cannot be read: nothing is sent unsigned, and the test says why.
    server = TrackletServer(
        f"sqlite:///{db}", str(tmp_path / "artifacts"), env={"TRACKLET_WEBHOOK_SECRET_KEY": ""}
    ).start()
    try:
        client = MlflowClient(server.url)
        client.create_registered_model(unique_name("unsigned"))
        result = client.test_webhook(hook.webhook_id)
        assert result.success is False and "TRACKLET_WEBHOOK_SECRET_KEY" in result.error_message
        time.sleep(1.0)
        assert len(receiver.on(path)) == 1
    finally:
        server.stop()
