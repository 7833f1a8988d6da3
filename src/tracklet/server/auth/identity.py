"""Who a request comes from, once `guard` admitted it, and what they may do with one resource."""

from __future__ import annotations

from starlette.requests import Request

from tracklet.errors import PermissionDenied, Unauthenticated
from tracklet.permissions import EXPERIMENT, Permission
from tracklet.store.store import Store
from tracklet.store.users import TokenHolder, User

USER_SCOPE_KEY = "tracklet.user"

TOKEN_SCOPE_KEY = "tracklet.token"  # the access token the request came with (`TokenHolder`); None: a password

NOT_AUTHENTICATED = (
    "You are not authenticated. Send a user name and password with HTTP Basic authentication "
    "(MLflow's clients: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD), or an access token as "
    "'Authorization: Bearer <token>' (MLflow's clients: MLFLOW_TRACKING_TOKEN)."
)
TOKEN_ADVICE = (
    "Ask for a new one (POST /api/tracklet/tokens, the web UI's users page, or `tracklet users create-token`)."
)
WRONG_TOKEN = f"Unknown or revoked access token. {TOKEN_ADVICE}"

_VERBS = {
    Permission.NO_PERMISSIONS: "see",
    Permission.READ: "read",
    Permission.USE: "use",
    Permission.EDIT: "edit",
    Permission.MANAGE: "manage",
}


def current_user(request: Request) -> User:
    user = request.scope.get(USER_SCOPE_KEY)
    if user is None:
        raise Unauthenticated(NOT_AUTHENTICATED)
    return user  # type: ignore[no-any-return]


def signed_in_with_token(request: Request) -> TokenHolder | None:
    """The access token the request was admitted with; None when it came with a password."""
    return request.scope.get(TOKEN_SCOPE_KEY)


def within_token_scope(request: Request, permission: Permission) -> Permission:
    """What the caller may do given their `permission`, on a request made with a read-only token: READ at most."""
    token = signed_in_with_token(request)
    return min(permission, Permission.READ) if token is not None and token.read_only else permission


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise PermissionDenied(f"Permission denied: only admins may do this, and '{user.username}' is not one")


def denied(user: User, level: Permission, resource_type: str, resource: object) -> PermissionDenied:
    what = f"experiment {resource}" if resource_type == EXPERIMENT else f"registered model {resource!r}"
    return PermissionDenied(f"Permission denied: user '{user.username}' cannot {_VERBS[level]} {what}")


def effective_permission(
    store: Store, user: User, resource_type: str, resource_id: str, default: Permission
) -> Permission:
    """What `user` may do with the resource: everything for admins, else their grant, else the default."""
    if user.is_admin:
        return Permission.MANAGE
    if resource_type == EXPERIMENT:
        experiment_id = int(resource_id)
        return store.experiment_grants(user.user_id, [experiment_id]).get(experiment_id, default)
    granted = store.registered_model_grant(user.user_id, resource_id)
    return default if granted is None else granted  # NO_PERMISSIONS is 0: never `or`
