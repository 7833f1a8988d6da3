"""Webhooks of the model registry for `TrackletClient`, with `MlflowClient`'s names: `create_webhook`,
`get_webhook`, `list_webhooks`, `update_webhook`, `delete_webhook`, `test_webhook`. Events are MLflow's
strings (`"model_version.created"`); webhooks come back as `entities.Webhook`, never with their secret."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import msgspec

from tracklet import entities, errors
from tracklet.client.paging import all_pages
from tracklet.client.runs import API
from tracklet.client.transport import Transport

__all__ = ["WebhooksMixin"]


def _event(event: str) -> dict[str, str]:
    entity, dot, action = event.partition(".")
    if not dot or not entity or not action:
        raise errors.InvalidParameterValue(
            f"Invalid event {event!r}: expected 'entity.action', e.g. 'model_version.created'"
        )
    return {"entity": entity.upper(), "action": action.upper()}


def _webhook(answer: dict[str, Any]) -> entities.Webhook:
    return msgspec.convert(answer["webhook"], entities.Webhook)


class WebhooksMixin:
    """`TrackletClient`'s registry webhooks."""

    transport: Transport

    def _webhook_path(self, webhook_id: str) -> str:
        return f"{API}/webhooks/{quote(webhook_id, safe='')}"

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[str],
        description: str | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> entities.Webhook:
        """A webhook POSTing `events` (`"model_version.created"`, `"model_version_alias.created"`, …) to `url`,
        signed with `secret` if given; ACTIVE unless `status="DISABLED"`."""
        body: dict[str, Any] = {"name": name, "url": url, "events": [_event(e) for e in events]}
        optional = {"description": description, "secret": secret, "status": status}
        body.update({k: v for k, v in optional.items() if v is not None})
        return _webhook(self.transport.post(f"{API}/webhooks", body))

    def get_webhook(self, webhook_id: str) -> entities.Webhook:
        return _webhook(self.transport.get(self._webhook_path(webhook_id)))

    def list_webhooks(self, max_results: int | None = None) -> list[entities.Webhook]:
        """All webhooks, newest first (up to `max_results`), following the pages."""

        def page(size: int, token: str | None) -> tuple[list[entities.Webhook], str | None]:
            body = self.transport.get(f"{API}/webhooks", max_results=size, page_token=token)
            found = [msgspec.convert(w, entities.Webhook) for w in body.get("webhooks", [])]
            return found, body.get("next_page_token")

        return all_pages(page, max_results)

    def update_webhook(
        self,
        webhook_id: str,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[str] | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> entities.Webhook:
        """Change what is given; `description=""` or `secret=""` clears it."""
        body: dict[str, Any] = {
            "name": name,
            "description": description,
            "url": url,
            "secret": secret,
            "status": status,
        }
        body = {k: v for k, v in body.items() if v is not None}
        if events is not None:
            body["events"] = [_event(e) for e in events]
        return _webhook(self.transport.request("PATCH", self._webhook_path(webhook_id), json=body))

    def delete_webhook(self, webhook_id: str) -> None:
        self.transport.request("DELETE", self._webhook_path(webhook_id))

    def test_webhook(self, webhook_id: str, event: str | None = None) -> entities.WebhookTestResult:
        """Send MLflow's example payload of `event` (default: the webhook's first) now; what came back."""
        body = {"event": _event(event)} if event else {}
        answer = self.transport.post(self._webhook_path(webhook_id) + "/test", body)
        return msgspec.convert(answer["result"], entities.WebhookTestResult)
