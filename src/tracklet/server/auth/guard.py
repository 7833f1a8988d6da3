"""Admitting a request with `--auth`: who sends it (HTTP Basic, as MLflow's clients send
`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`) and whether its rule lets them; then what the
answer may show them."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tracklet.errors import PermissionDenied, Unauthenticated
from tracklet.permissions import EXPERIMENT, MANAGE, READ, Permission
from tracklet.server.auth.identity import NOT_AUTHENTICATED, USER_SCOPE_KEY, denied, require_admin
from tracklet.server.auth.rules import Fields, Rule
from tracklet.server.protocol import json_response, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.store.store import Store
from tracklet.store.users import User


def basic_credentials(header: str | None) -> tuple[str, str]:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        raise Unauthenticated(NOT_AUTHENTICATED)
    try:
        username, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated(NOT_AUTHENTICATED) from None
    if not colon:
        raise Unauthenticated(NOT_AUTHENTICATED)
    return username, password


def _decide(store: Store, credentials: tuple[str, str], rule: Rule, fields: Fields, default: Permission) -> User:
    with store.access() as access:
        # What the request touches first, then the user with their grants there: one statement.
        located = [(need, need.locate(fields, access)) for need in rule.needs]
        experiment_ids = [i for need, found in located if need.resource_type == EXPERIMENT for i in found]
        user, grants = access.user_and_grants(*credentials, experiment_ids)
        if user is None:
            raise Unauthenticated("Wrong user name or password.")
        if user.is_admin:
            return user
        if rule.admin:
            require_admin(user)
        for need, found in located:
            if not found and need.must_locate:
                raise PermissionDenied(f"Permission denied: user '{user.username}' cannot reach this path")
            for resource in found:
                if need.resource_type == EXPERIMENT:
                    level = grants.get(resource, default)
                else:
                    granted = access.registered_model_grant(user.user_id, resource)
                    level = default if granted is None else granted  # NO_PERMISSIONS is 0: never `or`
                if level < need.level:
                    raise denied(user, need.level, need.resource_type, resource)
    return user


async def admit(request: Request, rule: Rule, path_params: dict[str, Any], body_readable: bool) -> User | None:
    """The user the request comes from, if `rule` lets them send it; raises Unauthenticated or
    PermissionDenied otherwise. `body_readable`: the body may be read here and still reach the endpoint."""
    if rule.public:
        return None
    credentials = basic_credentials(request.headers.get("authorization"))
    body = None
    query = request.query_params if request.method in ("GET", "HEAD") else None
    if query is None and body_readable and rule.reads_body:
        try:
            decoded = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:  # the endpoint refuses it
            decoded = None
        body = decoded if isinstance(decoded, dict) else {}
    fields = Fields(path_params, query, body, request.headers)
    store = store_of(request)
    default: Permission = request.app.state.default_permission
    # A password checked before costs a dictionary lookup; one not seen yet costs ~0.1 s of scrypt, which
    # must not hold the event loop.
    run = run_read if store.password_was_verified(*credentials) else _in_thread
    user: User = await run(request, _decide, store, credentials, rule, fields, default)
    request.scope[USER_SCOPE_KEY] = user
    return user


async def _in_thread(request: Request, fn: Any, *args: Any) -> Any:
    return await run_sync(fn, *args)


# -- after the endpoint ---------------------------------------------------------------------------------


def _answer(response: Response) -> Any:
    return msgspec.json.decode(bytes(response.body))


def _grant_creator(store: Store, user: User, rule: Rule, response: Response) -> None:
    assert rule.grant_created is not None
    resource_type, holder, key = rule.grant_created
    answer = _answer(response)
    created = answer.get(holder) if holder else answer
    store.set_permission(resource_type, str(created[key]), user.username, MANAGE)


def _visible(store: Store, user: User, rule: Rule, response: Response, default: Permission) -> Response:
    assert rule.filter_listed is not None
    resource_type, list_field, key = rule.filter_listed
    granted = store.user_permissions(user.user_id)
    grants: dict[Any, Permission] = dict(
        granted.experiments if resource_type == EXPERIMENT else granted.registered_models
    )
    if default >= READ and all(level >= READ for level in grants.values()):
        return response  # everything listed is visible: the answer goes as it is
    answer = _answer(response)
    if resource_type == EXPERIMENT:
        grants = {str(k): v for k, v in grants.items()}
    answer[list_field] = [item for item in answer.get(list_field, []) if grants.get(item[key], default) >= READ]
    return json_response(answer)


async def after(request: Request, rule: Rule, user: User | None, response: Response) -> Response:
    """Grant the creator MANAGE on what it created; keep out of a listing what the user may not read."""
    if user is None or response.status_code != 200:
        return response
    store = store_of(request)
    if rule.grant_created:
        await run_sync(_grant_creator, store, user, rule, response)
    if rule.filter_listed and not user.is_admin:
        return await run_sync(_visible, store, user, rule, response, request.app.state.default_permission)  # type: ignore[no-any-return]
    return response
