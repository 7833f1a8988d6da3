"""The webhooks page in a real headless Chromium against a real `tracklet server`: webhooks the official
client made (`MlflowClient.create_webhook`) listed, and made, changed, tested and deleted from the page,
each change checked through the official client and, for tests, at a real receiver on a loopback port.
With `--auth`: admins only, a clear message for others, and a read-only token's refusals said plainly."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities.webhook import WebhookStatus
from mlflow.exceptions import MlflowException
from mlflow.webhooks.constants import WEBHOOK_DELIVERY_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER
from mlflow.webhooks.delivery import _generate_hmac_signature

from tests.support.processes import TrackletServer, free_port
from tests.support.receiver import Received, Receiver
from tests.ui.browsing import UNLABELLED, goto, shot
from tests.ui.conftest import SeededServer

pytestmark = pytest.mark.browser

ADMIN = ("admin", "admin-password-webhooks")
SECRET = "s3cret-never-shown"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def signed_with(delivery: Received, secret: str) -> bool:
    """Whether a delivery carries the signature MLflow's own code makes with `secret`."""
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    if WEBHOOK_SIGNATURE_HEADER.lower() not in headers:
        return False
    expected = _generate_hmac_signature(
        secret, headers[WEBHOOK_DELIVERY_ID_HEADER.lower()], headers[WEBHOOK_TIMESTAMP_HEADER.lower()], delivery.body
    )
    return hmac.compare_digest(headers[WEBHOOK_SIGNATURE_HEADER.lower()], expected)


def hook_row(name: str) -> str:
    return f"#webhooks tr[data-webhook='{name}']"


def texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")  # type: ignore[no-any-return]


def fill_form(page: Any, name: str, url: str, events: list[str], description: str = "", secret: str = "") -> None:
    page.fill("#webhook-name", name)
    page.fill("#webhook-url", url)
    for box in page.query_selector_all("#webhook-events input.webhook-event"):
        if (box.get_attribute("value") in events) != box.is_checked():
            box.click()
    page.fill("#webhook-description", description)
    page.fill("#webhook-secret", secret)


def test_the_webhooks_page_lists_webhooks_and_never_shows_a_secret(
    page: Any, ui_server: SeededServer, receiver: Receiver
) -> None:
    client = MlflowClient(ui_server.url)
    made = client.create_webhook(
        "ci-on-new-versions", receiver.url + "/ci", ["model_version.created", "model_version_alias.created"],
        description="Runs CI on every new version", secret=SECRET,
    )  # fmt: skip
    goto(page, "/")
    page.click("header nav a:has-text('Webhooks')")
    row = page.wait_for_selector(hook_row(made.name))
    assert row.get_attribute("data-webhook-id") == made.webhook_id
    assert receiver.url + "/ci" in row.inner_text()
    assert texts(page, f"{hook_row(made.name)} .tag-chip.event") == [
        "model_version.created", "model_version_alias.created",
    ]  # fmt: skip
    assert page.inner_text(f"{hook_row(made.name)} .webhook-status") == "ACTIVE"
    assert "Runs CI on every new version" in row.inner_text()
    assert SECRET not in page.content()
    # The form offers the events MLflow allows, and says which tracklet never sends.
    page.click("#new-webhook")
    boxes = texts(page, "#webhook-events label.event-choice")
    assert "registered_model.created" in boxes and "prompt_alias.deleted" in boxes and len(boxes) == 15
    assert [b for b in boxes if "never sent" in b] == ["budget_policy.exceeded (never sent by tracklet)"]
    assert page.evaluate(UNLABELLED) == []
    page.click("#cancel-webhook")
    assert page.locator("#webhook-form").count() == 0
    page.click(f"{hook_row(made.name)} button.test-webhook")
    page.wait_for_selector("#webhook-test-result .test-result.ok")
    assert "model_version.created" in page.inner_text("#webhook-test-result")  # the first event, chosen
    assert receiver.wait_for("/ci")[-1].event == "model_version.created"
    shot(page, "webhooks", doc=True)
    client.delete_webhook(made.webhook_id)


def test_a_webhook_is_created_edited_tested_and_deleted_from_the_page(
    page: Any, ui_server: SeededServer, receiver: Receiver
) -> None:
    client = MlflowClient(ui_server.url)
    name = f"made-in-browser-{uuid.uuid4().hex[:6]}"
    goto(page, "/webhooks")
    page.click("#new-webhook")
    # Nothing ticked: the page says so and sends nothing; a bad name: the server's message.
    fill_form(page, name, receiver.url + "/made", [])
    page.click("#save-webhook")
    page.wait_for_selector("#toast.error:has-text('Choose at least one event')")
    fill_form(page, "bad name!", receiver.url + "/made", ["registered_model.created"])
    page.click("#save-webhook")
    page.wait_for_selector("#toast.error:has-text('is invalid')")
    assert all(h.name != "bad name!" for h in client.list_webhooks())

    fill_form(page, name, receiver.url + "/made", ["registered_model.created", "prompt.created"],
              description="made here", secret=SECRET)  # fmt: skip
    page.select_option("#webhook-status", "DISABLED")
    page.evaluate("document.getElementById('toast').hidden = true")  # the refusals' message
    shot(page, "webhook-form", doc=True)
    page.click("#save-webhook")
    page.wait_for_selector(hook_row(name))
    hook_id = page.get_attribute(hook_row(name), "data-webhook-id")
    stored = client.get_webhook(hook_id)
    assert {str(e) for e in stored.events} == {"registered_model.created", "prompt.created"}
    assert (stored.url, stored.description, stored.status) == (
        receiver.url + "/made",
        "made here",
        WebhookStatus.DISABLED,
    )
    assert page.inner_text(f"{hook_row(name)} .webhook-status") == "DISABLED"

    # Send test, with the event chosen in the row: the receiver gets it, signed with the secret.
    page.select_option(f"{hook_row(name)} select.test-event", label="prompt.created")
    page.click(f"{hook_row(name)} button.test-webhook")
    page.wait_for_selector("#webhook-test-result .test-result.ok")
    assert "HTTP 200" in page.inner_text("#webhook-test-result")
    assert "received /made" in page.inner_text("#webhook-test-result")  # the receiver's answer
    delivery = receiver.wait_for("/made")[-1]
    assert delivery.event == "prompt.created" and signed_with(delivery, SECRET)

    # Edit: the form comes filled in (never the secret); what is not changed stays, the secret included.
    page.click(f"button[aria-label='Edit webhook {name}']")
    assert page.input_value("#webhook-name") == name
    assert page.input_value("#webhook-secret") == ""
    assert page.is_checked("#webhook-events input[value='prompt.created']")
    page.fill("#webhook-url", receiver.url + "/edited")
    page.click("#webhook-events input[value='prompt.created']")  # untick
    page.select_option("#webhook-status", "ACTIVE")
    page.click("#save-webhook")
    page.wait_for_selector(f"{hook_row(name)} .webhook-status:has-text('ACTIVE')")
    stored = client.get_webhook(hook_id)
    assert [str(e) for e in stored.events] == ["registered_model.created"]
    assert (stored.url, stored.description, stored.status) == (
        receiver.url + "/edited",
        "made here",
        WebhookStatus.ACTIVE,
    )
    page.click(f"{hook_row(name)} button.test-webhook")  # one event: no choice to make
    page.wait_for_selector("#webhook-test-result .test-result.ok")
    assert signed_with(receiver.wait_for("/edited")[-1], SECRET)  # the secret kept

    # Remove the secret: deliveries are no longer signed.
    page.click(f"button[aria-label='Edit webhook {name}']")
    page.check("#webhook-clear-secret")
    page.click("#save-webhook")
    page.wait_for_selector("#toast:has-text('Saved webhook')")
    page.click(f"{hook_row(name)} button.test-webhook")
    page.wait_for_selector("#webhook-test-result .test-result.ok")
    assert not signed_with(receiver.wait_for("/edited", 2)[-1], SECRET)
    assert SECRET not in page.content()

    # A receiver that answers 503, and one that is not there: the result says so.
    client.update_webhook(hook_id, url=receiver.url + "/status/503")
    page.reload()
    page.click(f"{hook_row(name)} button.test-webhook")
    page.wait_for_selector("#webhook-test-result .test-result.failed")
    assert "HTTP 503" in page.inner_text("#webhook-test-result")
    client.update_webhook(hook_id, url=f"http://127.0.0.1:{free_port()}/nobody")
    page.reload()
    page.click(f"{hook_row(name)} button.test-webhook")
    page.wait_for_selector("#webhook-test-result .test-result.failed .test-error")
    assert "Failed to test webhook" in page.inner_text("#webhook-test-result .test-error")

    page.click(f"button[aria-label='Delete webhook {name}']")  # the confirmation is accepted
    page.wait_for_selector(hook_row(name), state="detached")
    with pytest.raises(MlflowException, match="not found"):
        client.get_webhook(hook_id)


# ---- with --auth ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackletServer]:
    tmp: Path = tmp_path_factory.mktemp("ui-webhooks-auth")
    env = {"TRACKLET_AUTH": "1", "TRACKLET_ADMIN_PASSWORD": ADMIN[1]}
    server = TrackletServer(f"sqlite:///{tmp / 'tracklet.db'}", str(tmp / "artifacts"), env=env).start()
    yield server
    server.stop()


def _page_as(browser: Any, server: TrackletServer, credentials: tuple[str, str]) -> Any:
    context = browser.new_context(
        http_credentials={"username": credentials[0], "password": credentials[1]},
        viewport={"width": 1400, "height": 900},
    )
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.base = server.url
    return page


def _webhook_names(server: TrackletServer) -> set[str]:
    answer = httpx.get(f"{server.url}/api/2.0/mlflow/webhooks", auth=ADMIN)
    answer.raise_for_status()
    return {w["name"] for w in answer.json().get("webhooks", [])}


def test_with_auth_only_admins_manage_webhooks_and_others_are_told_so(
    browser: Any, guarded: TrackletServer, receiver: Receiver
) -> None:
    page = _page_as(browser, guarded, ADMIN)
    goto(page, "/webhooks")
    page.click("#new-webhook")
    fill_form(page, "admin-hook", receiver.url + "/admin", ["model_version.created"])
    page.click("#save-webhook")
    page.wait_for_selector(hook_row("admin-hook"))
    assert "admin-hook" in _webhook_names(guarded)
    assert not page.errors
    page.context.close()

    user = (f"user{uuid.uuid4().hex[:6]}", uuid.uuid4().hex)
    made = httpx.post(
        f"{guarded.url}/api/2.0/mlflow/users/create", json={"username": user[0], "password": user[1]}, auth=ADMIN
    )
    made.raise_for_status()
    page = _page_as(browser, guarded, user)
    goto(page, "/webhooks")
    page.wait_for_selector("#webhooks-admins-only")
    assert f"{user[0]} is not one" in page.inner_text("#webhooks-admins-only")
    assert page.locator("#webhooks, #new-webhook").count() == 0
    assert not page.errors
    shot(page, "webhooks-not-admin")
    page.context.close()
    # What the page does not offer, the server refuses anyway, in MLflow's error shape.
    refused = httpx.get(f"{guarded.url}/api/2.0/mlflow/webhooks", auth=user)
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"


def test_with_a_read_only_token_an_admin_sees_webhooks_and_each_change_is_refused_plainly(
    browser: Any, guarded: TrackletServer, receiver: Receiver
) -> None:
    hook = httpx.post(
        f"{guarded.url}/api/2.0/mlflow/webhooks",
        json={
            "name": "kept-hook",
            "url": receiver.url + "/kept",
            "events": [{"entity": "prompt", "action": "created"}],
        },
        auth=ADMIN,
    )
    hook.raise_for_status()
    token = httpx.post(f"{guarded.url}/api/tracklet/tokens", json={"name": "read", "scope": "read"}, auth=ADMIN)
    token.raise_for_status()
    page = _page_as(browser, guarded, (ADMIN[0], token.json()["secret"]))
    goto(page, "/webhooks")
    page.wait_for_selector(hook_row("kept-hook"))  # reading is allowed

    page.click("#new-webhook")
    fill_form(page, "token-hook", receiver.url + "/token", ["prompt.created"])
    page.click("#save-webhook")
    page.wait_for_selector("#toast.error:has-text('Not allowed to create webhooks')")
    assert "may only read" in page.inner_text("#toast")
    page.click("#cancel-webhook")
    page.click("button[aria-label='Delete webhook kept-hook']")
    page.wait_for_selector("#toast.error:has-text('Not allowed to delete webhooks')")
    before = len(receiver.on("/kept"))
    page.click(f"{hook_row('kept-hook')} button.test-webhook")
    page.wait_for_selector("#toast.error:has-text('Not allowed to test webhooks')")
    assert len(receiver.on("/kept")) == before  # nothing was sent
    assert _webhook_names(guarded) >= {"kept-hook"} and "token-hook" not in _webhook_names(guarded)
    page.wait_for_selector(hook_row("kept-hook"))  # the page stays whole
    assert not page.errors
    page.context.close()
