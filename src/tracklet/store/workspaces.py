"""Workspaces (`--enable-workspaces`): their rows, the request's workspace, and deleting one with its contents.

The workspace a request works in travels as a context variable (`in_workspace`), set by the server for
the request when workspaces are on: the store methods that find things by name or list them
(experiments, registered models, datasets, webhooks) read it and add `WHERE workspace = …`. Unset
(workspaces off, `tracklet gc`, imports) they add nothing, so a server without the flag runs the same
statements as before. Runs, traces, logged models and scorers have no workspace of their own: they are
their experiment's, checked by the server where a request names one (`server/workspaces.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from tracklet.entities import TraceArchivalConfig, Workspace
from tracklet.errors import InvalidParameterValue, InvalidState, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import chunks, now_ms
from tracklet.store.database import Database

DEFAULT_WORKSPACE = s.DEFAULT_WORKSPACE
WORKSPACES_FOLDER = "workspaces"  # artifacts of a workspace live under `workspaces/<name>/`

_CURRENT: ContextVar[str | None] = ContextVar("tracklet_workspace", default=None)

# MLflow's rule (Kubernetes names): 2-63 lowercase letters, digits and inner hyphens; some names are
# path segments of the server's own URLs.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_RESERVED = frozenset({"workspaces", "api", "ajax-api", "static-files"})


class DeletionMode(StrEnum):
    """What deleting a workspace does to what is in it (MLflow's `WorkspaceDeletionMode`)."""

    SET_DEFAULT = "SET_DEFAULT"  # moved to `default`
    CASCADE = "CASCADE"  # deleted with it
    RESTRICT = "RESTRICT"  # refused while it holds anything


def current_workspace() -> str | None:
    """The workspace of the request being served; None when workspaces are off."""
    return _CURRENT.get()


@contextmanager
def in_workspace(name: str | None) -> Iterator[None]:
    token = _CURRENT.set(name)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def validate_workspace_name(name: object) -> str:
    """MLflow's `WorkspaceNameValidator`, in its words."""
    if not isinstance(name, str):
        raise InvalidParameterValue(f"Workspace name must be a string, got {type(name).__name__}.")
    if not 2 <= len(name) <= 63:
        raise InvalidParameterValue(f"Workspace name '{name}' must be between 2 and 63 characters.")
    if not _NAME.match(name):
        raise InvalidParameterValue(
            f"Workspace name '{name}' must match the pattern {_NAME_PATTERN} "
            "(lowercase alphanumeric with optional internal hyphens)."
        )
    if name in _RESERVED:
        raise InvalidParameterValue(f"Workspace name '{name}' is reserved and cannot be used.")
    return name


def workspace_artifact_prefix(workspace: str) -> str:
    return f"{WORKSPACES_FOLDER}/{workspace}"


# What a workspace holds directly, each with its `workspace` column and what a name conflict is about.
_OWNED = (
    (s.registered_models, "registered_models"),
    (s.experiments, "experiments"),
    (s.evaluation_datasets, "evaluation_datasets"),
    (s.webhooks, "webhooks"),
)
# Those whose names must be unique per workspace (SET_DEFAULT must not collide in `default`).
_NAMED = (s.registered_models, s.experiments)


def _workspace(row: Any) -> Workspace:
    archival = None
    if row.trace_archival_location is not None or row.trace_archival_retention is not None:
        archival = TraceArchivalConfig(location=row.trace_archival_location, retention=row.trace_archival_retention)
    return Workspace(
        name=row.name,
        description=row.description,
        default_artifact_root=row.default_artifact_root,
        trace_archival_config=archival,
    )


def _not_found(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Workspace '{name}' not found")


class WorkspaceStore:
    db: Database

    def list_workspaces(self) -> list[Workspace]:
        with self.db.read() as conn:
            return [_workspace(row) for row in conn.execute(select(s.workspaces).order_by(s.workspaces.c.name))]

    def get_workspace(self, name: str) -> Workspace:
        with self.db.read() as conn:
            return _workspace(self._workspace_row(conn, name))

    def _workspace_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(s.workspaces).where(s.workspaces.c.name == name)).first()
        if row is None:
            raise _not_found(name)
        return row

    def workspace_artifact_root(self, name: str) -> str | None:
        """The workspace's own artifact root (None: the server's, under `workspaces/<name>/`)."""
        with self.db.read() as conn:
            sql = self.db.sql("SELECT default_artifact_root FROM workspaces WHERE name = ?")
            rows = self.db.fetch_all(conn, sql, (name,))
        return rows[0][0] if rows and rows[0][0] else None

    def create_workspace(self, workspace: Workspace) -> Workspace:
        archival = workspace.trace_archival_config or TraceArchivalConfig()
        with self.db.write() as conn:
            if conn.execute(select(s.workspaces.c.name).where(s.workspaces.c.name == workspace.name)).first():
                raise ResourceAlreadyExists(f"Workspace '{workspace.name}' already exists.")
            try:
                conn.execute(
                    s.workspaces.insert().values(
                        name=workspace.name,
                        description=workspace.description,
                        default_artifact_root=workspace.default_artifact_root or None,
                        trace_archival_location=archival.location or None,
                        trace_archival_retention=archival.retention or None,
                    )
                )
            except IntegrityError:  # created meanwhile by another writer (PostgreSQL)
                raise ResourceAlreadyExists(f"Workspace '{workspace.name}' already exists.") from None
            return _workspace(self._workspace_row(conn, workspace.name))

    def update_workspace(self, name: str, changes: dict[str, str | None]) -> Workspace:
        """`changes`: the columns given; an empty string clears a value (as in MLflow)."""
        with self.db.write() as conn:
            self._workspace_row(conn, name)
            values = {
                column: (value if column == "description" else value or None)
                for column, value in changes.items()
                if value is not None
            }
            if values:
                conn.execute(update(s.workspaces).where(s.workspaces.c.name == name).values(**values))
            return _workspace(self._workspace_row(conn, name))

    def delete_workspace(self, name: str, mode: DeletionMode) -> None:
        """Delete a workspace, in one transaction: nothing changes when it is refused."""
        with self.db.write() as conn:
            self._workspace_row(conn, name)
            if mode is DeletionMode.RESTRICT:
                for table, label in _OWNED:
                    count = conn.execute(select(func.count()).where(table.c.workspace == name)).scalar()
                    if count:
                        raise InvalidState(
                            f"Cannot delete workspace '{name}': table '{label}' still contains {count} "
                            "resource(s). Remove or reassign them before deleting the workspace."
                        )
            elif mode is DeletionMode.SET_DEFAULT:
                self._refuse_name_conflicts(conn, name)
                for table, _ in _OWNED:
                    conn.execute(update(table).where(table.c.workspace == name).values(workspace=DEFAULT_WORKSPACE))
                grants = s.registered_model_permissions
                conn.execute(update(grants).where(grants.c.workspace == name).values(workspace=DEFAULT_WORKSPACE))
            else:
                _delete_contents(conn, name)
            conn.execute(delete(s.workspaces).where(s.workspaces.c.name == name))

    def _refuse_name_conflicts(self, conn: Connection, name: str) -> None:
        conflicts: list[str] = []
        for table in _NAMED:
            in_default = select(table.c.name).where(table.c.workspace == DEFAULT_WORKSPACE)
            clash = select(table.c.name).where(table.c.workspace == name, table.c.name.in_(in_default))
            conflicts += [
                f"  - {table.name}: {found!r}" for found in conn.execute(clash.order_by(table.c.name)).scalars()
            ]
        if conflicts:
            details = "\n".join(conflicts)
            raise InvalidState(
                f"Cannot reassign resources from workspace '{name}' to '{DEFAULT_WORKSPACE}': the following names "
                f"already exist in the default workspace and would cause conflicts:\n{details}\n"
                "Rename or remove the conflicting resources before retrying."
            )

    def refuse_other_workspaces(self) -> None:
        """Without `--enable-workspaces` everything must be `default`'s (names are unique only per workspace),
        as MLflow's server refuses to start otherwise."""
        with self.db.read() as conn:
            for table, label in _OWNED:
                if conn.execute(
                    select(table.c.workspace).where(table.c.workspace != DEFAULT_WORKSPACE).limit(1)
                ).first():
                    raise InvalidState(
                        f"Cannot disable workspaces because {label} exist outside the default workspace. Start the "
                        "server with --enable-workspaces, or delete those workspaces (mode SET_DEFAULT or CASCADE) "
                        "first."
                    )

    def experiments_within(self, workspace: str, experiment_ids: Sequence[int]) -> list[int]:
        """These experiment ids, less those of other workspaces (unknown ids stay: the search finds
        nothing there either), in their order."""
        with self.access() as access:  # type: ignore[attr-defined]
            outside = set(access.outside_workspace(workspace, "experiments", "experiment_id", experiment_ids))
        return [i for i in experiment_ids if i not in outside]


def _delete_contents(conn: Connection, workspace: str) -> None:
    """CASCADE: everything of the workspace, in the caller's transaction (its files stay for `tracklet gc`
    to find nothing pointing at them, as MLflow leaves them to `mlflow gc`)."""
    from tracklet.store.purge import LOGGED_MODELS, RUNS, delete_experiment_rows, delete_rows
    from tracklet.store.traces import delete_trace_rows

    experiments = s.experiments
    experiment_rows = conn.execute(
        select(experiments.c.experiment_id, experiments.c.name).where(experiments.c.workspace == workspace)
    ).all()
    experiment_ids = [row[0] for row in experiment_rows]
    for part in chunks(experiment_ids, 500):
        delete_rows(
            conn, RUNS, list(conn.execute(select(RUNS.id).where(RUNS.table.c.experiment_id.in_(part))).scalars())
        )
        delete_trace_rows(
            conn, list(conn.execute(select(s.traces.c.trace_id).where(s.traces.c.experiment_id.in_(part))).scalars())
        )
        delete_rows(
            conn,
            LOGGED_MODELS,
            list(conn.execute(select(LOGGED_MODELS.id).where(LOGGED_MODELS.table.c.experiment_id.in_(part))).scalars()),
        )
        delete_experiment_rows(conn, part)
    if experiment_rows:  # their ids are never given again (SQLite would reuse the highest)
        t = now_ms()
        conn.execute(
            s.purged_experiments.insert(),
            [{"experiment_id": i, "name": n, "purged_time": t} for i, n in experiment_rows],
        )

    models = select(s.registered_models.c.id).where(s.registered_models.c.workspace == workspace)
    for table in (s.model_version_tags, s.model_versions, s.registered_model_aliases, s.registered_model_tags):
        conn.execute(delete(table).where(table.c.registered_model_id.in_(models)))
    conn.execute(delete(s.registered_models).where(s.registered_models.c.workspace == workspace))
    grants = s.registered_model_permissions
    conn.execute(delete(grants).where(grants.c.workspace == workspace))

    datasets = select(s.evaluation_datasets.c.dataset_id).where(s.evaluation_datasets.c.workspace == workspace)
    for table in (s.evaluation_dataset_tags, s.evaluation_dataset_records, s.evaluation_dataset_experiments):
        conn.execute(delete(table).where(table.c.dataset_id.in_(datasets)))
    conn.execute(delete(s.evaluation_datasets).where(s.evaluation_datasets.c.workspace == workspace))

    hooks = select(s.webhooks.c.webhook_id).where(s.webhooks.c.workspace == workspace)
    conn.execute(delete(s.webhook_events).where(s.webhook_events.c.webhook_id.in_(hooks)))
    conn.execute(delete(s.webhooks).where(s.webhooks.c.workspace == workspace))
