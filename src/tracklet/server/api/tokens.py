"""Personal access tokens (`--auth` only; tracklet's own API): a user's secret for jobs that should not
hold their password, sent as `Authorization: Bearer <token>` (MLflow's clients: MLFLOW_TRACKING_TOKEN).

- `POST /api/tracklet/tokens` {name, expires_in_days?, scope? ("all", default, or "read"), username?}: a new token of the caller (admins:
  of any user, e.g. an account for CI); the answer holds its secret, the only time it is shown. Only a user signed in with their password may make one: a token
  that leaked must not be able to make itself a successor that outlives its revocation or expiry.
- `GET /api/tracklet/tokens`: the caller's tokens (admins: `?username=` anyone's), without secrets.
- `DELETE /api/tracklet/tokens/<id>`: revoke one of the caller's tokens (admins: anyone's).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import PermissionDenied, ResourceDoesNotExist
from tracklet.server.auth.identity import current_user, require_admin, signed_in_with_token
from tracklet.server.protocol import json_response, read_json, read_query, run_sync
from tracklet.server.state import store_of
from tracklet.store.tokens import AccessToken
from tracklet.store.users import FULL_SCOPE

PATH = "/api/tracklet/tokens"


class NewToken(msgspec.Struct):
    name: str | None = None
    expires_in_days: int | None = None
    scope: str = FULL_SCOPE  # or "read": only what reads (dashboards, reports)
    username: str | None = None  # whose token: the caller's, or (admins) another user's, e.g. a CI account


class TokenOwner(msgspec.Struct):
    username: str | None = None


def token_json(token: AccessToken) -> dict[str, Any]:
    return {
        "id": str(token.token_id),
        "name": token.name,
        "username": token.username,
        "creation_time": token.creation_time,
        "expiration_time": token.expiration_time,
        "last_used_time": token.last_used_time,  # to within `USE_NOTED_EVERY_MS`; None: never used
        "scope": token.scope,
    }


async def create_token(request: Request) -> Response:
    caller = current_user(request)
    if signed_in_with_token(request) is not None:
        raise PermissionDenied("Permission denied: access tokens are made by a user signed in with their password")
    body = await read_json(request, NewToken)
    owner = body.username or caller.username
    if owner != caller.username:
        require_admin(caller)
    token, secret = await run_sync(store_of(request).create_token, owner, body.name, body.expires_in_days, body.scope)
    return json_response({"token": token_json(token), "secret": secret})


async def list_tokens(request: Request) -> Response:
    caller = current_user(request)
    username = read_query(request, TokenOwner).username or caller.username
    if username != caller.username:
        require_admin(caller)
    tokens = await run_sync(store_of(request).list_tokens, username)
    return json_response({"tokens": [token_json(t) for t in tokens]})


async def revoke_token(request: Request) -> Response:
    caller = current_user(request)
    raw = request.path_params["token_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ResourceDoesNotExist(f"No access token with id={raw}")
    owner = None if caller.is_admin else caller.username  # another user's token is as unknown as none
    await run_sync(store_of(request).revoke_token, int(raw), owner)
    return json_response({})


routes = [
    Route(PATH, create_token, methods=["POST"]),
    Route(PATH, list_tokens, methods=["GET"]),
    Route(PATH + "/{token_id}", revoke_token, methods=["DELETE"]),
]
