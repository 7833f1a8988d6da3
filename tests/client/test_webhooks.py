"""Registry webhooks from tracklet's own client, against a server and against the local store, whose
in-process app delivers them too."""

from __future__ import annotations

import uuid

import pytest

from tests.client.conftest import AGAINST_MLFLOW
from tests.support.receiver import Receiver
from tracklet import TrackletClient, errors

pytestmark = pytest.mark.skipif(AGAINST_MLFLOW, reason="MLflow's server allows only public https receivers")


def test_webhooks_from_the_client(tracking_uri: str) -> None:
    receiver = Receiver().start()
    client = TrackletClient(tracking_uri)
    try:
        path = f"/{uuid.uuid4().hex}"
        hook = client.create_webhook(
            f"h-{uuid.uuid4().hex[:8]}", receiver.url + path, ["registered_model.created", "model_version.created"],
            description="ci", secret="s",
        )  # fmt: skip
        assert [(e.entity, e.action) for e in hook.events] == [
            ("MODEL_VERSION", "CREATED"),
            ("REGISTERED_MODEL", "CREATED"),
        ]
        assert client.get_webhook(hook.webhook_id).description == "ci"
        assert hook.webhook_id in [w.webhook_id for w in client.list_webhooks()]

        name = f"m-{uuid.uuid4().hex[:8]}"
        client.create_model_version(name, "s3://bucket/model")  # creates the registered model first
        delivered = {d.event: d for d in receiver.wait_for(path, 2)}
        assert delivered["registered_model.created"].payload["data"] == {"name": name, "tags": {}, "description": ""}
        assert delivered["model_version.created"].payload["data"]["source"] == "s3://bucket/model"
        assert all(d.headers["X-MLflow-Signature"].startswith("v1,") for d in delivered.values())

        result = client.test_webhook(hook.webhook_id, "model_version_alias.deleted")
        assert (result.success, result.response_status) == (True, 200)
        assert receiver.on(path)[-1].event == "model_version_alias.deleted"

        updated = client.update_webhook(hook.webhook_id, status="DISABLED", description="", events=["prompt.created"])
        assert (updated.status, updated.description, len(updated.events)) == ("DISABLED", None, 1)
        client.delete_webhook(hook.webhook_id)
        with pytest.raises(errors.ResourceDoesNotExist):
            client.get_webhook(hook.webhook_id)
        with pytest.raises(errors.InvalidParameterValue):
            client.create_webhook("x", receiver.url, ["model_version"])
    finally:
        client.close()
        receiver.stop()
