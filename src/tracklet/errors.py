"""Tracklet's error tree. Each class carries MLflow's error code and the HTTP status it maps to.

    TrackletError                    INTERNAL_ERROR           500
    ├── InvalidParameterValue        INVALID_PARAMETER_VALUE  400
    │   └── InvalidState             INVALID_STATE            400 (MLflow uses 500; 5xx makes clients retry)
    ├── ResourceAlreadyExists        RESOURCE_ALREADY_EXISTS  400 (not 409: clients depend on it)
    ├── ResourceDoesNotExist         RESOURCE_DOES_NOT_EXIST  404
    ├── Unauthenticated              UNAUTHENTICATED          401 (with `--auth`: no or wrong credentials)
    ├── PermissionDenied             PERMISSION_DENIED        403 (with `--auth`: not allowed to the resource)
    ├── EndpointNotFound             ENDPOINT_NOT_FOUND       404
    ├── FeatureDisabled              FEATURE_DISABLED         400 (MLflow uses 500: workspaces asked of a server without)
    ├── NotImplementedByServer       NOT_IMPLEMENTED          501
    └── TemporarilyUnavailable       TEMPORARILY_UNAVAILABLE  503
        └── WorkspacesDisabled       (plain text)             503 (a workspace endpoint without `--enable-workspaces`)

The server turns them into `{"error_code", "message"}` in one place (`tracklet.server.app`);
the client rebuilds the same classes from that JSON (`from_error_code`).
"""

from __future__ import annotations


class TrackletError(Exception):
    error_code = "INTERNAL_ERROR"
    http_status = 500
    headers: dict[str, str] = {}
    plain_text = False  # answered as its message alone, not as MLflow's error JSON

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


class InvalidParameterValue(TrackletError):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class InvalidState(InvalidParameterValue):
    error_code = "INVALID_STATE"
    http_status = 400


class ResourceAlreadyExists(TrackletError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class ResourceDoesNotExist(TrackletError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class Unauthenticated(TrackletError):
    error_code = "UNAUTHENTICATED"
    http_status = 401
    # Browsers ask for a user name and password on this header; MLflow's server sends the same.
    headers = {"WWW-Authenticate": 'Basic realm="tracklet"'}


class PermissionDenied(TrackletError):
    error_code = "PERMISSION_DENIED"
    http_status = 403


class EndpointNotFound(TrackletError):
    error_code = "ENDPOINT_NOT_FOUND"
    http_status = 404


class FeatureDisabled(TrackletError):
    error_code = "FEATURE_DISABLED"
    http_status = 400


class NotImplementedByServer(TrackletError):
    error_code = "NOT_IMPLEMENTED"
    http_status = 501


class TemporarilyUnavailable(TrackletError):
    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class WorkspacesDisabled(TemporarilyUnavailable):
    """MLflow's server answers its workspace endpoints this way when started without workspaces: a 503
    whose body is the message alone."""

    plain_text = True


_BY_CODE: dict[str, type[TrackletError]] = {
    cls.error_code: cls
    for cls in (
        TrackletError,
        InvalidParameterValue,
        InvalidState,
        ResourceAlreadyExists,
        ResourceDoesNotExist,
        Unauthenticated,
        PermissionDenied,
        EndpointNotFound,
        FeatureDisabled,
        NotImplementedByServer,
        TemporarilyUnavailable,
    )
}


def from_error_code(error_code: str, message: str) -> TrackletError:
    """Rebuild the exception a server reported (unknown codes become a plain TrackletError)."""
    cls = _BY_CODE.get(error_code, TrackletError)
    err = cls(message)
    if cls is TrackletError:
        err.error_code = error_code
    return err
