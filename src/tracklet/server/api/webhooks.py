"""`/api/2.0/mlflow/webhooks`: webhooks of the model registry (MLflow 3's webhook API).

- `POST webhooks` {name, url, events, description?, secret?, status?}: a new webhook (ACTIVE unless said).
- `GET webhooks` ?max_results (1-1000, default 100)&page_token: all webhooks, newest first.
- `GET`, `PATCH`, `DELETE webhooks/{webhook_id}`: one webhook; PATCH changes only what it is given
  (a description or secret of "" clears it; an empty name, URL or event list changes nothing, as in MLflow).
- `POST webhooks/{webhook_id}/test` {event?}: sends MLflow's example payload of the event (default: the
  webhook's first) once, now, and answers what the receiver said: `{"result": {"success",
  "response_status", "response_body"}}`, or `error_message` when nothing was received.

A secret is write-only: no answer holds it. With `--auth` all of it is for admins, as in MLflow's
basic-auth app. Every route also answers under `/ajax-api/2.0/mlflow/`, as in MLflow.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.server.protocol import Int64, json_response, read_json, read_query, run_read, run_sync
from tracklet.server.state import store_of, webhooks_of
from tracklet.validation import check_length, missing
from tracklet.webhooks.destinations import check_url
from tracklet.webhooks.events import Event, parse_event

MAX_DESCRIPTION_LENGTH = 1000  # MLflow's columns
MAX_URL_LENGTH = 500
MAX_SECRET_LENGTH = 1000
MAX_PAGE = 1000
DEFAULT_PAGE = 100
STATUSES = ("ACTIVE", "DISABLED")

# MLflow's rule: 1 to 63 letters, digits, dots, underscores and hyphens, starting and ending with a
# letter or digit.
_NAME_RE = re.compile(r"^(?=.{1,63}$)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)


class EventRef(msgspec.Struct):
    entity: str | Int64 | None = None
    action: str | Int64 | None = None


class WebhookFields(msgspec.Struct):
    name: str | None = None
    url: str | None = None
    events: list[EventRef] | None = None
    description: str | None = None
    secret: str | None = None
    status: str | Int64 | None = None


class ListWebhooks(msgspec.Struct):
    max_results: Int64 | None = None
    page_token: str | None = None


class TestWebhook(msgspec.Struct):
    event: EventRef | None = None


def _name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidParameterValue(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, be less than 63 "
            "characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-)."
        )
    return name


async def _url(request: Request, url: str) -> str:
    check_length(url, MAX_URL_LENGTH, "url")
    if not url.isprintable():
        raise InvalidParameterValue(f"Invalid webhook URL {url!r}: it holds control characters")
    await check_url(url, webhooks_of(request).destinations)
    return url


def _events(events: list[EventRef]) -> list[tuple[str, str]]:
    if not events:
        raise InvalidParameterValue("Webhook events must be a non-empty list of WebhookEvent objects: [].")
    parsed = [parse_event(e.entity, e.action, f"events[{i}]") for i, e in enumerate(events)]
    return [(e.entity, e.action) for e in parsed]


def _status(status: str | int) -> str:
    if isinstance(status, int) and 1 <= status <= len(STATUSES):
        return STATUSES[status - 1]  # protobuf's enum numbers
    if isinstance(status, str) and status.upper() in STATUSES:
        return status.upper()
    raise InvalidParameterValue(
        f"Invalid value {status!r} for parameter 'status' supplied: it must be ACTIVE or DISABLED"
    )


def _secret(request: Request, secret: str) -> str | None:
    check_length(secret, MAX_SECRET_LENGTH, "secret")  # (unpaired surrogates are refused while decoding)
    return webhooks_of(request).secrets.seal(secret)


def _webhook_id(request: Request) -> str:
    return str(request.path_params["webhook_id"])


async def create(request: Request) -> Response:
    body = await read_json(request, WebhookFields)
    for field in ("name", "url", "events"):
        if getattr(body, field) is None:
            raise missing(field)
    assert body.name is not None and body.url is not None and body.events is not None
    name = _name(body.name)
    url = await _url(request, body.url)
    events = _events(body.events)
    check_length(body.description, MAX_DESCRIPTION_LENGTH, "description")
    status = "ACTIVE" if body.status is None else _status(body.status)
    secret = _secret(request, body.secret) if body.secret else None
    webhook = await run_sync(store_of(request).create_webhook, name, url, events, body.description, secret, status)
    return json_response({"webhook": webhook})


async def list_webhooks(request: Request) -> Response:
    query = read_query(request, ListWebhooks)
    max_results = query.max_results or DEFAULT_PAGE
    if not 1 <= max_results <= MAX_PAGE:
        raise InvalidParameterValue(f"max_results must be between 1 and {MAX_PAGE}.")
    webhooks, token = await run_sync(store_of(request).list_webhooks, max_results, query.page_token)
    payload: dict[str, Any] = {"webhooks": webhooks} if webhooks else {}
    if token:
        payload["next_page_token"] = token
    return json_response(payload)


async def get(request: Request) -> Response:
    webhook = await run_read(request, store_of(request).get_webhook, _webhook_id(request))
    return json_response({"webhook": webhook})


async def update(request: Request) -> Response:
    webhook_id = _webhook_id(request)
    # MLflow takes a PATCH without a body as an update of nothing.
    body = await read_json(request, WebhookFields) if await request.body() else WebhookFields()
    changes: dict[str, Any] = {}
    if body.name:
        changes["name"] = _name(body.name)
    if body.url:
        changes["url"] = await _url(request, body.url)
    if body.events:
        changes["events"] = _events(body.events)
    if body.description is not None:
        check_length(body.description, MAX_DESCRIPTION_LENGTH, "description")
        changes["description"] = body.description
    if body.secret:
        changes["secret"] = _secret(request, body.secret)
    elif body.secret is not None:
        changes["clear_secret"] = True
    if body.status is not None:
        changes["status"] = _status(body.status)
    store = store_of(request)
    webhook = await run_sync(lambda: store.update_webhook(webhook_id, **changes))
    return json_response({"webhook": webhook})


async def delete(request: Request) -> Response:
    await run_sync(store_of(request).delete_webhook, _webhook_id(request))
    return json_response()


async def test(request: Request) -> Response:
    webhook_id = _webhook_id(request)
    body = await read_json(request, TestWebhook)
    webhook, secret = await run_sync(store_of(request).webhook_secret, webhook_id)
    if body.event is not None:
        event = parse_event(body.event.entity, body.event.action, "event")
    else:
        first = webhook.events[0]
        event = Event(first.entity.lower(), first.action.lower())
    result = await webhooks_of(request).test(webhook.url, secret, event)
    return json_response({"result": result})


PATH = "/2.0/mlflow/webhooks"
ENDPOINTS = (create, list_webhooks, get, update, delete, test)
routes = [
    route
    for prefix in ("/api", "/ajax-api")
    for route in (
        Route(prefix + PATH, create, methods=["POST"]),
        Route(prefix + PATH, list_webhooks, methods=["GET"]),
        Route(prefix + PATH + "/{webhook_id}", get, methods=["GET"]),
        Route(prefix + PATH + "/{webhook_id}", update, methods=["PATCH"]),
        Route(prefix + PATH + "/{webhook_id}", delete, methods=["DELETE"]),
        Route(prefix + PATH + "/{webhook_id}/test", test, methods=["POST"]),
    )
]
