"""What a user may do with an experiment (its runs, models, traces, artifacts) or a registered model.

MLflow's permission names, ordered: each level can do everything the ones below it can.

    NO_PERMISSIONS   nothing, not even see it (MLflow 3.17 grants it as DENY: accepted as the same)
    READ             see it
    USE              see it (MLflow's level for using gateway endpoints; tracklet has none)
    EDIT             see it, log into it, change it
    MANAGE           all of that, delete and restore it, and grant others permissions on it
"""

from __future__ import annotations

from enum import IntEnum

from tracklet.errors import InvalidParameterValue


class Permission(IntEnum):
    NO_PERMISSIONS = 0
    DENY = 0  # an alias: MLflow 3.17's name for an explicit NO_PERMISSIONS (it overrides its roles; tracklet has none)
    READ = 1
    USE = 2
    EDIT = 3
    MANAGE = 4

    @classmethod
    def parse(cls, name: object, field: str = "permission") -> Permission:
        if isinstance(name, str) and name in cls.__members__:
            return cls[name]
        raise InvalidParameterValue(f"Invalid {field} {name!r}. Valid permissions are: {', '.join(cls.__members__)}")


# What the server requires of an experiment or registered model for each kind of request.
READ = Permission.READ
EDIT = Permission.EDIT
MANAGE = Permission.MANAGE

# The resource types a permission is granted on (the names of MLflow's permission API).
EXPERIMENT = "experiment"
REGISTERED_MODEL = "registered_model"
RESOURCE_TYPES = (EXPERIMENT, REGISTERED_MODEL)
