"""Users and permissions (`--auth` only): MLflow's basic-auth API, so `mlflow.server.get_app_client("basic-auth")`
works against tracklet.

- `/api/2.0/mlflow/users/*`: create, get, current, list, update-password, update-admin, delete.
- `/api/2.0/mlflow/{experiments,registered-models}/permissions/*`: create, get, update, delete (MLflow 2.x).
- `/api/3.0/mlflow/users/permissions/{grant,revoke,get}`: one resource's permission for one user (MLflow 3.x).
- `/api/tracklet/permissions`: every user's permission on one resource (tracklet's own, for the web UI).
- `/api/tracklet/permissions/mine`: the signed-in user's own permission on one resource (tracklet's own:
  the web UI shows only the controls of what the user may do).

Managing users is for admins (a user may read itself and change its own password); managing permissions
on a resource needs MANAGE on it (the rules of `server/auth/rules.py` check the 2.x routes; the 3.x
routes name the resource type in the request and check here).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue, PermissionDenied
from tracklet.permissions import EXPERIMENT, MANAGE, REGISTERED_MODEL, RESOURCE_TYPES, Permission
from tracklet.server.auth.identity import (
    current_user,
    denied,
    effective_permission,
    require_admin,
    within_token_scope,
)
from tracklet.server.protocol import json_response, read_json, read_query, read_request, run_sync
from tracklet.server.state import store_of
from tracklet.store.store import Store
from tracklet.store.users import User
from tracklet.validation import missing, parse_experiment_id


class Credentials(msgspec.Struct):
    username: str | None = None
    password: str | None = None
    current_password: str | None = None


class Username(msgspec.Struct):
    username: str | None = None


class AdminFlag(msgspec.Struct):
    username: str | None = None
    is_admin: bool | None = None


class PermissionArgs(msgspec.Struct):
    experiment_id: str | None = None  # an experiment's permission
    name: str | None = None  # a registered model's
    username: str | None = None
    permission: str | None = None


class ResourcePermissionArgs(msgspec.Struct):
    username: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    permission: str | None = None


def _required(value: Any, field: str) -> Any:
    if value is None or value == "":
        raise missing(field)
    return value


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.user_id, "username": user.username, "is_admin": user.is_admin}


# -- users ---------------------------------------------------------------------------------------------


async def create_user(request: Request) -> Response:
    require_admin(current_user(request))
    body = await read_json(request, Credentials)
    user = await run_sync(store_of(request).create_user, body.username, body.password)
    return json_response({"user": _user_json(user)})


async def get_user(request: Request) -> Response:
    caller = current_user(request)
    username = _required(read_query(request, Username).username, "username")
    if username != caller.username:
        require_admin(caller)
    store = store_of(request)
    user = await run_sync(store.get_user, username)
    granted = await run_sync(store.user_permissions, user.user_id)
    return json_response(
        {
            "user": {
                **_user_json(user),
                "experiment_permissions": [
                    {"experiment_id": str(e), "user_id": user.user_id, "permission": p.name}
                    for e, p in sorted(granted.experiments.items())
                ],
                "registered_model_permissions": [
                    {"name": n, "user_id": user.user_id, "permission": p.name}
                    for n, p in sorted(granted.registered_models.items())
                ],
            }
        }
    )


async def get_current_user(request: Request) -> Response:
    return json_response({"user": _user_json(current_user(request))})


async def list_users(request: Request) -> Response:
    require_admin(current_user(request))
    users = await run_sync(store_of(request).list_users)
    return json_response({"users": [_user_json(u) for u in users]})


async def update_password(request: Request) -> Response:
    caller = current_user(request)
    body = await read_json(request, Credentials)
    username = _required(body.username, "username")
    store = store_of(request)
    if username == caller.username:
        # Changing one's own password takes the current one: stolen session credentials are not enough.
        current = _required(body.current_password, "current_password")
        if await run_sync(store.authenticate, username, current) is None:
            raise PermissionDenied("Permission denied: current_password is wrong")
    else:
        require_admin(caller)
    await run_sync(store.update_user_password, username, body.password)
    return json_response({})


async def update_admin(request: Request) -> Response:
    require_admin(current_user(request))
    body = await read_json(request, AdminFlag)
    is_admin = _required(body.is_admin, "is_admin")
    await run_sync(store_of(request).update_user_admin, _required(body.username, "username"), is_admin)
    return json_response({})


async def delete_user(request: Request) -> Response:
    require_admin(current_user(request))
    body = await read_json(request, Username)
    await run_sync(store_of(request).delete_user, _required(body.username, "username"))
    return json_response({})


# -- permissions (MLflow 2.x: one route family per resource type) ----------------------------------------


def _permission_json(resource_type: str, resource_id: str, user_id: int, permission: Permission) -> dict[str, Any]:
    if resource_type == EXPERIMENT:
        return {
            "experiment_permission": {"experiment_id": resource_id, "user_id": user_id, "permission": permission.name}
        }
    return {"registered_model_permission": {"name": resource_id, "user_id": user_id, "permission": permission.name}}


async def _set(
    request: Request, resource_type: str, resource_id: str, username: str, raw: str | None, replace: bool
) -> Response:
    permission = Permission.parse(_required(raw, "permission"))
    store = store_of(request)
    if not replace:
        await run_sync(store.set_permission, resource_type, resource_id, username, permission, False)
        user = await run_sync(store.get_user, username)
        return json_response(_permission_json(resource_type, resource_id, user.user_id, permission))
    await run_sync(store.get_permission, resource_type, resource_id, username)  # 404 if there is none
    await run_sync(store.set_permission, resource_type, resource_id, username, permission)
    return json_response({})


Endpoint = Callable[[Request], Awaitable[Response]]


def _permission_family(resource_type: str) -> dict[str, tuple[Endpoint, str]]:
    """create, get, update and delete of one resource type's permissions: (endpoint, method) by path."""

    def resource_of(args: PermissionArgs) -> tuple[str, str]:
        if resource_type == EXPERIMENT:
            resource_id = str(parse_experiment_id(args.experiment_id))
        else:
            resource_id = _required(args.name, "name")
        return resource_id, _required(args.username, "username")

    async def create(request: Request) -> Response:
        args = await read_json(request, PermissionArgs)
        return await _set(request, resource_type, *resource_of(args), args.permission, replace=False)

    async def update(request: Request) -> Response:
        args = await read_json(request, PermissionArgs)
        return await _set(request, resource_type, *resource_of(args), args.permission, replace=True)

    async def get(request: Request) -> Response:
        return await _get(request, resource_type, *resource_of(read_query(request, PermissionArgs)))

    async def delete(request: Request) -> Response:
        resource_id, username = resource_of(await read_json(request, PermissionArgs))
        await run_sync(store_of(request).delete_permission, resource_type, resource_id, username)
        return json_response({})

    return {"create": (create, "POST"), "get": (get, "GET"), "update": (update, "PATCH"), "delete": (delete, "DELETE")}


EXPERIMENT_PERMISSIONS = _permission_family(EXPERIMENT)
REGISTERED_MODEL_PERMISSIONS = _permission_family(REGISTERED_MODEL)


async def _get(request: Request, resource_type: str, resource_id: str, username: str) -> Response:
    store = store_of(request)
    permission = await run_sync(store.get_permission, resource_type, resource_id, username)
    user = await run_sync(store.get_user, username)
    return json_response(_permission_json(resource_type, resource_id, user.user_id, permission))


# -- permissions (MLflow 3.x: the resource type named in the request) -----------------------------------


async def _resource(request: Request, args: ResourcePermissionArgs) -> tuple[str, str, str]:
    """(user name, resource type, resource id) of a 3.x permission request, once the caller is found to
    MANAGE the resource."""
    username = _required(args.username, "username")
    return (username, *await _managed_resource(request, args))


def _named_resource(args: ResourcePermissionArgs) -> tuple[str, str]:
    """(resource type, resource id) named by the request: a known type, an experiment id that parses."""
    resource_type = _required(args.resource_type, "resource_type")
    if resource_type not in RESOURCE_TYPES:
        raise InvalidParameterValue(
            f"Invalid resource type '{resource_type}'. Valid resource types are: {RESOURCE_TYPES}"
        )
    resource_id = _required(args.resource_id, "resource_id")
    if resource_type == EXPERIMENT:
        resource_id = str(parse_experiment_id(resource_id, "resource_id"))
    return resource_type, resource_id


async def _managed_resource(request: Request, args: ResourcePermissionArgs) -> tuple[str, str]:
    """(resource type, resource id) named by the request, once the caller is found to MANAGE it."""
    resource_type, resource_id = _named_resource(args)
    caller = current_user(request)
    default = request.app.state.default_permission
    store = store_of(request)
    if await run_sync(effective_permission, store, caller, resource_type, resource_id, default) < MANAGE:
        raise denied(caller, MANAGE, resource_type, resource_id)
    return resource_type, resource_id


async def grant_permission(request: Request) -> Response:
    body = await read_json(request, ResourcePermissionArgs)
    username, resource_type, resource_id = await _resource(request, body)
    permission = Permission.parse(_required(body.permission, "permission"))
    await run_sync(store_of(request).set_permission, resource_type, resource_id, username, permission)
    return json_response({})


async def revoke_permission(request: Request) -> Response:
    body = await read_json(request, ResourcePermissionArgs)
    username, resource_type, resource_id = await _resource(request, body)
    await run_sync(store_of(request).delete_permission, resource_type, resource_id, username, True)
    return json_response({})


async def get_permission(request: Request) -> Response:
    query = await read_request(request, ResourcePermissionArgs)
    caller = current_user(request)
    if query.username == caller.username:  # anyone may ask what they themselves may do
        username, (resource_type, resource_id) = caller.username, _named_resource(query)
    else:
        username, resource_type, resource_id = await _resource(request, query)
    store = store_of(request)
    user = await run_sync(store.get_user, username)
    permission = await run_sync(
        effective_permission, store, user, resource_type, resource_id, request.app.state.default_permission
    )
    return json_response({"allowed": permission >= Permission.READ, "permission": permission.name})


async def list_permissions(request: Request) -> Response:
    """tracklet's own: every user's explicit permission on one resource, and the level of everyone else
    (for the web UI's permissions panel; MLflow's API reads one user's permission at a time)."""
    resource_type, resource_id = await _managed_resource(request, read_query(request, ResourcePermissionArgs))
    granted = await run_sync(store_of(request).resource_permissions, resource_type, resource_id)
    return json_response(
        {
            "permissions": [{"username": username, "permission": level.name} for username, level in granted],
            "default_permission": request.app.state.default_permission.name,
        }
    )


def _own_permission(store: Store, user: User, resource_type: str, resource_id: str, default: Permission) -> Permission:
    """`user`'s effective permission on a resource that must exist (ResourceDoesNotExist otherwise)."""
    if resource_type == EXPERIMENT:
        store.get_experiment(int(resource_id))
    else:
        store.get_registered_model(resource_id)
    return effective_permission(store, user, resource_type, resource_id, default)


async def my_permission(request: Request) -> Response:
    """tracklet's own: what the signed-in user may do with one resource, which any user may ask about
    themselves (the web UI shows only the controls of what they may do)."""
    resource_type, resource_id = _named_resource(read_query(request, ResourcePermissionArgs))
    caller = current_user(request)
    store = store_of(request)
    default = request.app.state.default_permission
    permission = await run_sync(_own_permission, store, caller, resource_type, resource_id, default)
    return json_response({"permission": within_token_scope(request, permission).name, "is_admin": caller.is_admin})


async def my_permissions(request: Request) -> Response:
    """tracklet's own: the signed-in user's permissions everywhere in one answer, for the web UI's lists
    (a row's controls show by them): the resources granted explicitly, and the level of all others."""
    caller = current_user(request)
    if caller.is_admin:
        return json_response(
            {"is_admin": True, "default_permission": within_token_scope(request, Permission.MANAGE).name}
        )
    granted = await run_sync(store_of(request).user_permissions, caller.user_id)

    def level(permission: Permission) -> str:
        return within_token_scope(request, permission).name

    return json_response(
        {
            "is_admin": False,
            "default_permission": level(request.app.state.default_permission),
            "experiments": {str(i): level(p) for i, p in granted.experiments.items()},
            "registered_models": {name: level(p) for name, p in granted.registered_models.items()},
        }
    )


_USER_ENDPOINTS = [
    ("create", create_user, "POST"),
    ("get", get_user, "GET"),
    ("current", get_current_user, "GET"),
    ("list", list_users, "GET"),
    ("update-password", update_password, "PATCH"),
    ("update-admin", update_admin, "PATCH"),
    ("delete", delete_user, "DELETE"),
]
routes = [
    *(
        Route(f"{prefix}/2.0/mlflow/users/{path}", endpoint, methods=[method])
        for prefix in ("/api", "/ajax-api")
        for path, endpoint, method in _USER_ENDPOINTS
    ),
    *(
        Route(f"{prefix}/2.0/mlflow/{resource}/permissions/{path}", endpoint, methods=[method])
        for prefix in ("/api", "/ajax-api")
        for resource, family in (
            ("experiments", EXPERIMENT_PERMISSIONS),
            ("registered-models", REGISTERED_MODEL_PERMISSIONS),
        )
        for path, (endpoint, method) in family.items()
    ),
    *(
        Route(f"{prefix}/3.0/mlflow/users/permissions/{path}", endpoint, methods=[method])
        for prefix in ("/api", "/ajax-api")
        for path, endpoint, method in (
            ("grant", grant_permission, "POST"),
            ("revoke", revoke_permission, "POST"),
            ("get", get_permission, "GET"),
        )
    ),
    Route("/api/tracklet/permissions", list_permissions, methods=["GET"]),
    Route("/api/tracklet/permissions/mine", my_permission, methods=["GET"]),
    Route("/api/tracklet/permissions/mine/all", my_permissions, methods=["GET"]),
]
