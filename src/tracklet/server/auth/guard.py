"""Admitting a request with `--auth`: who sends it and whether its rule lets them; then what the answer
may show them.

Who: HTTP Basic with a user name and password (MLflow's clients: `MLFLOW_TRACKING_USERNAME`/`_PASSWORD`),
or an access token (`store/tokens.py`) as `Authorization: Bearer <token>` (`MLFLOW_TRACKING_TOKEN`) or,
for tools that speak only Basic, as the password of its owner's user name. A password never begins with
the tokens' prefix, so the two are told apart without checking a password hash.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tracklet.errors import PermissionDenied, Unauthenticated
from tracklet.permissions import EXPERIMENT, MANAGE, READ, Permission
from tracklet.server.auth.identity import (
    NOT_AUTHENTICATED,
    TOKEN_ADVICE,
    TOKEN_SCOPE_KEY,
    USER_SCOPE_KEY,
    WRONG_TOKEN,
    denied,
    require_admin,
)
from tracklet.server.auth.rules import Fields, Rule
from tracklet.server.protocol import json_response, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.store._util import now_ms
from tracklet.store.store import Store
from tracklet.store.tokens import looks_like_token, token_digest, use_worth_noting
from tracklet.store.users import Access, TokenHolder, User

# The user a request comes from, their grants on the experiments it touches, and the access token it
# came with (None: a password).
_Admitted = tuple[User, dict[int, Permission], TokenHolder | None]


@dataclass(frozen=True)
class Credentials:
    username: str | None  # None: a bearer token, which names its user itself
    secret: str  # a password or an access token

    @property
    def is_token(self) -> bool:
        return looks_like_token(self.secret)


def credentials_of(header: str | None) -> Credentials:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() == "bearer":
        token = value.strip()
        if not looks_like_token(token):
            raise Unauthenticated(WRONG_TOKEN)
        return Credentials(None, token)
    if scheme.lower() != "basic":
        raise Unauthenticated(NOT_AUTHENTICATED)
    try:
        username, colon, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated(NOT_AUTHENTICATED) from None
    if not colon:
        raise Unauthenticated(NOT_AUTHENTICATED)
    return Credentials(username, password)


def _user_and_grants(access: Access, credentials: Credentials, experiment_ids: list[int]) -> _Admitted:
    if not credentials.is_token:
        assert credentials.username is not None
        user, grants = access.user_and_grants(credentials.username, credentials.secret, experiment_ids)
        if user is None:
            raise Unauthenticated("Wrong user name or password.")
        return user, grants, None
    holder = access.token_user_and_grants(token_digest(credentials.secret), experiment_ids)
    if holder is None or credentials.username not in (None, holder.user.username):
        raise Unauthenticated(WRONG_TOKEN)
    if holder.expiration_time is not None and holder.expiration_time <= now_ms():
        expired = datetime.fromtimestamp(holder.expiration_time / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise Unauthenticated(f"This access token expired on {expired}. {TOKEN_ADVICE}")
    return holder.user, holder.grants, holder


def _decide(
    store: Store, credentials: Credentials, rule: Rule, fields: Fields, default: Permission
) -> tuple[User, TokenHolder | None]:
    """The user (and the access token they came with), if `rule` lets them send the request."""
    with store.access() as access:
        # What the request touches first, then the user with their grants there: one statement.
        located = [(need, need.locate(fields, access)) for need in rule.needs]
        experiment_ids = [i for need, found in located if need.resource_type == EXPERIMENT for i in found]
        user, grants, token = _user_and_grants(access, credentials, experiment_ids)
        if token is not None and token.read_only and rule.writes:
            raise PermissionDenied(f"Permission denied: this access token of '{user.username}' may only read")
        if user.is_admin:
            return user, token
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
    return user, token


async def admit(request: Request, rule: Rule, path_params: dict[str, Any], body_readable: bool) -> User | None:
    """The user the request comes from, if `rule` lets them send it; raises Unauthenticated or
    PermissionDenied otherwise. `body_readable`: the body may be read here and still reach the endpoint."""
    if rule.public:
        return None
    credentials = credentials_of(request.headers.get("authorization"))
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
    # A token costs a SHA-256 and a password checked before a dictionary lookup; a password not seen yet
    # costs ~0.1 s of scrypt, which must not hold the event loop.
    cheap = credentials.is_token or store.password_was_verified(credentials.username or "", credentials.secret)
    run = run_read if cheap else _in_thread
    user, token = await run(request, _decide, store, credentials, rule, fields, default)
    request.scope[USER_SCOPE_KEY] = user
    request.scope[TOKEN_SCOPE_KEY] = token
    if token is not None and use_worth_noting(token.last_used_time):
        await run_sync(store.note_token_use, token.token_id)
    return user  # type: ignore[no-any-return]


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
    # (an experiment id may be listed as a number: scorers' `experiment_id`)
    keyed = str if resource_type == EXPERIMENT else (lambda value: value)
    answer[list_field] = [item for item in answer.get(list_field, []) if grants.get(keyed(item[key]), default) >= READ]
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
