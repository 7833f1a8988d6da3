"""What a user may do with an experiment (its runs, models, traces, artifacts) or a registered model.

MLflow's permission names, ordered: each level can do everything the ones below it can.

    NO_PERMISSIONS   nothing, not even see it
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
    READ = 1
    USE = 2
    EDIT = 3
    MANAGE = 4

    @classmethod
    def parse(cls, name: object, field: str = "permission") -> Permission:
        if isinstance(name, str) and name in cls.__members__:
            return cls[name]
        raise InvalidParameterValue(
            f"Invalid {field} {name!r}. Valid permissions are: {', '.join(p.name for p in cls)}"
        )


# What the server requires of an experiment or registered model for each kind of request.
READ = Permission.READ
EDIT = Permission.EDIT
MANAGE = Permission.MANAGE

# The resource types a permission is granted on (the names of MLflow's permission API).
EXPERIMENT = "experiment"
REGISTERED_MODEL = "registered_model"
RESOURCE_TYPES = (EXPERIMENT, REGISTERED_MODEL)
