"""`/api/3.0/mlflow/review-queues/*`: MLflow 3's review queues (`mlflow.genai.review_queues`), traces of
an experiment waiting for people to review them. Every route also answers under `/ajax-api/`, as in
MLflow.

Fields are checked here with MLflow's limits and messages: names and item ids are stripped, users
stripped and lowercased, lists kept without repeats. With `--auth` a queue's owner (`created_by`) is the
user who made it and an item's `completed_by` the user who completed or declined it, whatever the client
sends, as in MLflow; without it the client's `completed_by` is taken.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.permissions import EXPERIMENT, MANAGE
from tracklet.server.api.label_schemas import enum_number, experiment, page_size, required
from tracklet.server.auth.identity import USER_SCOPE_KEY, denied, effective_permission, within_token_scope
from tracklet.server.protocol import Int64, json_response, read_json, read_request, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.store.review_queues import PENDING, USER, QueueChanges, ReviewQueue, ReviewQueueItem
from tracklet.store.users import User

NAME_MAX_LENGTH = 250
USER_MAX_LENGTH = 250
SCHEMA_ID_MAX_LENGTH = 36
ITEM_ID_MAX_LENGTH = 50
MAX_USERS = 10
RESERVED_NAME = "default"
DEFAULT_PAGE = 1000
QUEUE_TYPES = ("REVIEW_QUEUE_TYPE_UNSPECIFIED", "USER", "CUSTOM")
ITEM_TYPES = ("REVIEW_ITEM_TYPE_UNSPECIFIED", "TRACE")
STATUSES = ("REVIEW_STATUS_UNSPECIFIED", "PENDING", "COMPLETE", "DECLINED")


class CreateQueue(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    queue_type: str | int | None = None
    created_by: str | None = None  # ignored, as in MLflow: the owner is who makes it
    users: list[str] = []
    schema_ids: list[str] = []


class UserQueue(msgspec.Struct):
    experiment_id: str | None = None
    user: str | None = None
    created_by: str | None = None  # ignored: a user's queue is its user's


class QueueRef(msgspec.Struct):
    queue_id: str | None = None


class QueueByName(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None


class ListQueues(msgspec.Struct):
    experiment_id: str | None = None
    user: str | None = None
    item_id: str | None = None
    max_results: Int64 | None = None
    page_token: str | None = None


class UpdateQueue(msgspec.Struct):
    queue_id: str | None = None
    update_users: bool = False
    users: list[str] = []
    update_schema_ids: bool = False
    schema_ids: list[str] = []
    name: str | None = None
    new_owner: str | None = None


class AddItems(msgspec.Struct):
    queue_id: str | None = None
    item_type: str | int | None = None
    item_ids: list[str] = []


class RemoveItems(msgspec.Struct):
    queue_id: str | None = None
    item_ids: list[str] = []


class ListItems(msgspec.Struct):
    queue_id: str | None = None
    status: str | int | None = None
    max_results: Int64 | None = None
    page_token: str | None = None


class SetStatus(msgspec.Struct):
    queue_id: str | None = None
    item_id: str | None = None
    status: str | int | None = None
    completed_by: str | None = None


# -- checks ---------------------------------------------------------------------------------------------


def _non_empty(value: str, field: str, limit: int) -> str:
    if not value:
        raise InvalidParameterValue(f"`{field}` must be a non-empty string; got {value!r}.")
    if len(value) > limit:
        raise InvalidParameterValue(f"`{field}` must be at most {limit} characters; got {len(value)}.")
    return value


def _users(users: list[str]) -> list[str]:
    normalized = list(dict.fromkeys(_non_empty(u.strip().lower(), "user", USER_MAX_LENGTH) for u in users))
    if len(normalized) > MAX_USERS:
        raise InvalidParameterValue(
            f"A review queue can have at most {MAX_USERS} assigned users; got {len(normalized)}."
        )
    return normalized


def _schema_ids(schema_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(_non_empty(i.strip(), "schema_id", SCHEMA_ID_MAX_LENGTH) for i in schema_ids))


def _item_ids(item_ids: list[str]) -> list[str]:
    if not item_ids:
        raise InvalidParameterValue(f"`item_ids` must be a non-empty list; got {item_ids!r}.")
    return list(dict.fromkeys(_non_empty(i.strip(), "item_id", ITEM_ID_MAX_LENGTH) for i in item_ids))


def _custom_name(name: str) -> str:
    stripped = _non_empty(name.strip(), "name", NAME_MAX_LENGTH)
    if stripped.lower() == RESERVED_NAME:
        raise InvalidParameterValue(f"`{stripped}` is a reserved queue name and cannot be used for a custom queue.")
    return stripped


def _queue_type(value: str | int | None) -> str:
    number = enum_number(value, QUEUE_TYPES)
    if number not in (1, 2):
        raise InvalidParameterValue(f"`queue_type` must be one of USER or CUSTOM; got proto enum value {number}.")
    return QUEUE_TYPES[number].lower()


def _status(value: str | int | None) -> str:
    number = enum_number(value, STATUSES)
    if number not in (1, 2, 3):
        raise InvalidParameterValue(
            f"`status` must be one of PENDING, COMPLETE, or DECLINED; got proto enum value {number}."
        )
    return STATUSES[number].lower()


def _signed_in(request: Request) -> User | None:
    """The user of the request with `--auth`; None without."""
    return request.scope.get(USER_SCOPE_KEY)


async def _not_a_username(request: Request, name: str, doing: str) -> None:
    """With `--auth`, as in MLflow: a custom queue named after a user (whatever the case) would pass for
    that user's own queue."""
    if _signed_in(request) is None:
        return
    users = await run_sync(store_of(request).list_users)
    if matched := next((u.username for u in users if u.username.strip().lower() == name.lower()), None):
        action = "use a username as its name" if doing == "use" else "be renamed to a username"
        raise InvalidParameterValue(
            f"'{matched}' is a registered user. A custom review queue cannot {action}; "
            "assign that user to a queue instead."
        )


# -- answers --------------------------------------------------------------------------------------------


def queue_json(queue: ReviewQueue) -> dict[str, Any]:
    """MLflow's `ReviewQueue` message (empty lists left out)."""
    out: dict[str, Any] = {
        "queue_id": queue.queue_id,
        "experiment_id": str(queue.experiment_id),
        "name": queue.name,
        "queue_type": queue.queue_type.upper(),
    }
    if queue.created_by is not None:
        out["created_by"] = queue.created_by
    out["creation_time_ms"] = queue.creation_time_ms
    out["last_update_time_ms"] = queue.last_update_time_ms
    if queue.users:
        out["users"] = queue.users
    if queue.schema_ids:
        out["schema_ids"] = queue.schema_ids
    return out


def item_json(item: ReviewQueueItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "queue_id": item.queue_id,
        "item_type": item.item_type.upper(),
        "item_id": item.item_id,
        "status": item.status.upper(),
    }
    if item.completed_by is not None:
        out["completed_by"] = item.completed_by
    if item.completed_time_ms is not None:
        out["completed_time_ms"] = item.completed_time_ms
    out["creation_time_ms"] = item.creation_time_ms
    out["last_update_time_ms"] = item.last_update_time_ms
    return out


# -- endpoints ------------------------------------------------------------------------------------------


async def create(request: Request) -> Response:
    body = await read_json(request, CreateQueue)
    experiment_id = experiment(body.experiment_id)
    name = required(body.name, "name")
    queue_type = _queue_type(body.queue_type)
    users, schema_ids = _users(body.users), _schema_ids(body.schema_ids)
    if queue_type == USER:
        name = _non_empty(name.strip().lower(), "name", NAME_MAX_LENGTH)
        if not users:
            users = [name]
        elif users != [name]:
            raise InvalidParameterValue(
                "A user queue must have exactly one assigned user equal to its name; "
                f"got name={name!r} and users={users!r}."
            )
        if schema_ids:
            raise InvalidParameterValue(
                "A user queue cannot have explicitly-attached schemas; it resolves to all of the experiment's "
                "label schemas."
            )
    else:
        name = _custom_name(name)
        await _not_a_username(request, name, "use")
    user = _signed_in(request)
    owner = None if user is None else user.username
    store = store_of(request)
    made = await run_sync(store.create_review_queue, experiment_id, name, queue_type, owner, users, schema_ids)
    return json_response({"review_queue": queue_json(made)})


async def get_or_create_user(request: Request) -> Response:
    body = await read_json(request, UserQueue)
    experiment_id = experiment(body.experiment_id)
    user = _non_empty(required(body.user, "user").strip().lower(), "name", NAME_MAX_LENGTH)
    found = await run_sync(store_of(request).get_or_create_user_queue, experiment_id, user)
    return json_response({"review_queue": queue_json(found)})


async def get(request: Request) -> Response:
    query = await read_request(request, QueueRef)
    found = await run_read(request, store_of(request).get_review_queue, required(query.queue_id, "queue_id"))
    return json_response({"review_queue": queue_json(found)})


async def get_by_name(request: Request) -> Response:
    query = await read_request(request, QueueByName)
    experiment_id, name = experiment(query.experiment_id), required(query.name, "name")
    found = await run_read(request, store_of(request).get_review_queue_by_name, experiment_id, name)
    return json_response({"review_queue": queue_json(found)})


async def list_queues(request: Request) -> Response:
    query = await read_request(request, ListQueues)
    experiment_id = experiment(query.experiment_id)
    size = page_size(query.max_results, DEFAULT_PAGE)
    user = None if query.user is None else query.user.strip().lower()
    found, token = await run_sync(
        store_of(request).list_review_queues, experiment_id, user, query.item_id, size, query.page_token or None
    )
    return json_response({"review_queues": [queue_json(q) for q in found], "next_page_token": token or ""})


async def update(request: Request) -> Response:
    body = await read_json(request, UpdateQueue)
    queue_id = required(body.queue_id, "queue_id")
    new_owner = None if body.new_owner is None else _non_empty(body.new_owner.strip(), "new_owner", USER_MAX_LENGTH)
    changes = QueueChanges(
        name=None if body.name is None else _custom_name(body.name),
        new_owner=new_owner,
        users=_users(body.users) if body.update_users else None,
        schema_ids=_schema_ids(body.schema_ids) if body.update_schema_ids else None,
    )
    store = store_of(request)
    user = _signed_in(request)
    if changes.name is not None and user is not None:
        queue = await run_read(request, store.get_review_queue, queue_id)
        if queue.queue_type != USER:  # a user's own queue cannot be renamed at all: the store says so
            await _not_a_username(request, changes.name, "rename")
    if new_owner is not None and user is not None:
        # As in MLflow: giving a queue to someone else is for the experiment's managers only.
        queue = await run_read(request, store.get_review_queue, queue_id)
        default = request.app.state.default_permission
        level = effective_permission(store, user, EXPERIMENT, str(queue.experiment_id), default)
        if within_token_scope(request, level) < MANAGE:
            raise denied(user, MANAGE, EXPERIMENT, queue.experiment_id)
    updated = await run_sync(store.update_review_queue, queue_id, changes)
    return json_response({"review_queue": queue_json(updated)})


async def delete(request: Request) -> Response:
    body = await read_json(request, QueueRef)
    await run_sync(store_of(request).delete_review_queue, required(body.queue_id, "queue_id"))
    return json_response()


async def add_items(request: Request) -> Response:
    body = await read_json(request, AddItems)
    queue_id = required(body.queue_id, "queue_id")
    item_ids = _item_ids(body.item_ids)
    item_type = enum_number(body.item_type, ITEM_TYPES)
    if item_type not in (0, 1):  # unset: a trace, the only kind there is
        raise InvalidParameterValue(f"`item_type` must be TRACE; got proto enum value {item_type}.")
    added = await run_sync(store_of(request).add_items_to_review_queue, queue_id, item_ids, "trace")
    return json_response({"items": [item_json(i) for i in added]})


async def remove_items(request: Request) -> Response:
    body = await read_json(request, RemoveItems)
    queue_id = required(body.queue_id, "queue_id")
    await run_sync(store_of(request).remove_items_from_review_queue, queue_id, _item_ids(body.item_ids))
    return json_response()


async def list_items(request: Request) -> Response:
    query = await read_request(request, ListItems)
    queue_id = required(query.queue_id, "queue_id")
    size = page_size(query.max_results, DEFAULT_PAGE)
    status = None if enum_number(query.status, STATUSES) == 0 else _status(query.status)
    found, token = await run_sync(
        store_of(request).list_review_queue_items, queue_id, status, size, query.page_token or None
    )
    return json_response({"items": [item_json(i) for i in found], "next_page_token": token or ""})


async def set_status(request: Request) -> Response:
    body = await read_json(request, SetStatus)
    queue_id, item_id = required(body.queue_id, "queue_id"), required(body.item_id, "item_id").strip()
    status = _status(body.status)
    user = _signed_in(request)
    if user is not None:  # who did it is who asks, never what the client says
        completed_by = None if status == PENDING else user.username.strip().lower()
    else:
        completed_by = None if body.completed_by is None else body.completed_by.strip().lower()
    if status == PENDING and completed_by is not None:
        raise InvalidParameterValue("`completed_by` must not be set when reopening an item to `pending`.")
    if status != PENDING and not completed_by:
        raise InvalidParameterValue(f"`completed_by` is required when setting status to `{status}`.")
    if completed_by is not None and len(completed_by) > USER_MAX_LENGTH:
        raise InvalidParameterValue(
            f"`completed_by` must be at most {USER_MAX_LENGTH} characters; got {len(completed_by)}."
        )
    item = await run_sync(store_of(request).set_review_queue_item_status, queue_id, item_id, status, completed_by)
    return json_response({"item": item_json(item)})


_PATHS = [
    ("create", create, "POST"),
    ("get-or-create-user", get_or_create_user, "POST"),
    ("get", get, "GET"),
    ("get-by-name", get_by_name, "GET"),
    ("list", list_queues, "GET"),
    ("update", update, "POST"),
    ("delete", delete, "POST"),
    ("items/add", add_items, "POST"),
    ("items/remove", remove_items, "POST"),
    ("items/list", list_items, "GET"),
    ("items/set-status", set_status, "POST"),
]
routes = [
    Route(f"{prefix}/3.0/mlflow/review-queues/{path}", endpoint, methods=[method])
    for prefix in ("/api", "/ajax-api")
    for path, endpoint, method in _PATHS
]
