"""Experiments: create, read, rename, tag, soft-delete/restore, search."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from tracklet.entities import Experiment, KeyValue
from tracklet.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import LOAD_CHUNK, chunks, now_ms, read_page
from tracklet.store.database import Database
from tracklet.store.workspaces import DEFAULT_WORKSPACE, current_workspace, workspace_artifact_prefix

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"


_COLUMNS = "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace"


def _experiment(row: tuple, tags: list[KeyValue]) -> Experiment:  # type: ignore[type-arg]
    experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace = row
    return Experiment(
        experiment_id=str(experiment_id),
        name=name,
        artifact_location=artifact_location,
        lifecycle_stage=lifecycle_stage,
        creation_time=creation_time,
        last_update_time=last_update_time,
        tag_list=tags,
        workspace=workspace,
    )


class ExperimentStore:
    db: Database
    default_artifact_root: str

    def _artifact_location(self, experiment_id: int, workspace: str | None = None) -> str:
        """`<root>/<id>`; in a workspace (with workspaces on) `<its own root>/<id>` or, as MLflow,
        `<root>/workspaces/<name>/<id>`."""
        if workspace is None:
            return f"{self.default_artifact_root.rstrip('/')}/{experiment_id}"
        own_root = self.workspace_artifact_root(workspace)  # type: ignore[attr-defined]
        if own_root:
            return f"{own_root.rstrip('/')}/{experiment_id}"
        return f"{self.default_artifact_root.rstrip('/')}/{workspace_artifact_prefix(workspace)}/{experiment_id}"

    def ensure_default_experiment(self) -> None:
        with self.db.write() as conn:
            exists = conn.execute(
                select(s.experiments.c.experiment_id).where(s.experiments.c.experiment_id == DEFAULT_EXPERIMENT_ID)
            ).first()
            if exists is None:
                t = now_ms()
                conn.execute(
                    self.db.insert(s.experiments).on_conflict_do_nothing(),
                    dict(
                        experiment_id=DEFAULT_EXPERIMENT_ID,
                        name=DEFAULT_EXPERIMENT_NAME,
                        artifact_location=self._artifact_location(DEFAULT_EXPERIMENT_ID),
                        lifecycle_stage="active",
                        creation_time=t,
                        last_update_time=t,
                    ),
                )

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: list[KeyValue] | None = None
    ) -> str:
        if artifact_location and artifact_location.startswith("runs:"):
            raise InvalidParameterValue("Artifact location cannot be a runs:/ URI.")
        workspace = current_workspace()
        if workspace is not None and artifact_location:  # a workspace's artifacts stay under its root
            raise InvalidParameterValue("artifact_location cannot be specified when workspaces are enabled")
        t = now_ms()
        with self.db.write() as conn:
            taken = conn.execute(
                select(s.experiments.c.experiment_id).where(
                    s.experiments.c.name == name, s.experiments.c.workspace == (workspace or DEFAULT_WORKSPACE)
                )
            ).first()
            if taken is not None:
                raise ResourceAlreadyExists(f"Experiment '{name}' already exists.")
            try:
                result = conn.execute(
                    s.experiments.insert().values(
                        **self._next_experiment_id(conn),
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage="active",
                        creation_time=t,
                        last_update_time=t,
                        workspace=workspace or DEFAULT_WORKSPACE,
                    )
                )
            except IntegrityError:
                # A concurrent writer took the name between our check and insert (PostgreSQL).
                raise ResourceAlreadyExists(f"Experiment '{name}' already exists.") from None
            assert result.inserted_primary_key is not None
            experiment_id = int(result.inserted_primary_key[0])
            if not artifact_location:
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == experiment_id)
                    .values(artifact_location=self._artifact_location(experiment_id, workspace))
                )
            if tags:
                last = {tag.key: tag.value for tag in tags}  # the last value of a repeated key wins
                conn.execute(
                    s.experiment_tags.insert(),
                    [{"experiment_id": experiment_id, "key": key, "value": value} for key, value in last.items()],
                )
        return str(experiment_id)

    def _next_experiment_id(self, conn: Connection) -> dict[str, int]:
        """On SQLite, the id past every experiment there is or was (SQLite alone would give a purged
        experiment's id again); PostgreSQL's sequence needs no help."""
        if not self.db.is_sqlite:
            return {}
        ids = (
            select(func.max(s.experiments.c.experiment_id))
            .union_all(select(func.max(s.purged_experiments.c.experiment_id)))
            .subquery()
        )
        highest = conn.execute(select(func.max(ids.c[0]))).scalar()
        return {"experiment_id": (highest or 0) + 1}

    def import_experiment(
        self,
        name: str,
        tags: list[KeyValue],
        lifecycle_stage: str,
        creation_time: int | None,
        last_update_time: int | None,
    ) -> tuple[int, bool]:
        """An experiment copied from elsewhere, found by name: an existing one is reused and gains the tags
        it lacks (its own values win); a new one keeps the given stage and times. Returns (id, created)."""
        with self.db.write() as conn:
            found = conn.execute(
                select(s.experiments.c.experiment_id).where(
                    s.experiments.c.name == name, s.experiments.c.workspace == DEFAULT_WORKSPACE
                )
            ).first()
            created = found is None
            if found is None:
                t = now_ms()
                result = conn.execute(
                    s.experiments.insert().values(
                        **self._next_experiment_id(conn),
                        name=name,
                        artifact_location="",
                        lifecycle_stage="deleted" if lifecycle_stage == "deleted" else "active",
                        creation_time=creation_time or t,
                        last_update_time=last_update_time or creation_time or t,
                    )
                )
                assert result.inserted_primary_key is not None
                experiment_id = int(result.inserted_primary_key[0])
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == experiment_id)
                    .values(artifact_location=self._artifact_location(experiment_id))
                )
            else:
                experiment_id = int(found[0])
            if tags:
                last = {tag.key: tag.value for tag in tags}
                conn.execute(
                    self.db.insert(s.experiment_tags).on_conflict_do_nothing(),
                    [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in last.items()],
                )
        return experiment_id, created

    def _experiment_row(self, conn: Connection, experiment_id: int):  # type: ignore[no-untyped-def]
        row = conn.execute(select(s.experiments).where(s.experiments.c.experiment_id == experiment_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return row

    def _active_experiment_row(self, conn: Connection, experiment_id: int):  # type: ignore[no-untyped-def]
        """The experiment's row, for writes into it: a deleted experiment takes none."""
        row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != "active":
            raise InvalidParameterValue(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is {row.lifecycle_stage}."
            )
        return row

    def _load_experiments(self, conn: Connection, ids: list[int]) -> list[Experiment]:
        """These experiments with their tags, in this order; unknown ids are left out. Hand-written SQL
        through the driver: SQLAlchemy Core's statement building cost ~0.5 ms of the 0.6 ms of a
        `get_experiment` here, and every MLflow script's `set_experiment` reads one."""
        rows: dict[int, tuple] = {}  # type: ignore[type-arg]
        tags: dict[int, list[KeyValue]] = defaultdict(list)
        for part in chunks(ids, LOAD_CHUNK):
            marks = self.db.marks(len(part))
            rows.update(
                (row[0], row)
                for row in self.db.fetch_all(
                    conn, f"SELECT {_COLUMNS} FROM experiments WHERE experiment_id IN ({marks})", tuple(part)
                )
            )
            sql = f"SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ({marks})"
            for experiment_id, key, value in self.db.fetch_all(conn, sql, tuple(part)):
                tags[experiment_id].append(KeyValue(key=key, value=value))
        return [_experiment(rows[i], tags.get(i, [])) for i in ids if i in rows]

    def get_experiment(self, experiment_id: int) -> Experiment:
        with self.db.read() as conn:
            found = self._load_experiments(conn, [experiment_id])
        if not found:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment:
        with self.db.read() as conn:
            found = self.db.fetch_all(
                conn,
                self.db.sql("SELECT experiment_id FROM experiments WHERE name = ? AND workspace = ?"),
                (name, current_workspace() or DEFAULT_WORKSPACE),
            )
            if not found:
                raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")
            return self._load_experiments(conn, [found[0][0]])[0]

    def _set_stage(self, experiment_id: int, stage: str) -> None:
        t = now_ms()
        with self.db.write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage == stage:
                word = "deleted" if stage == "deleted" else "active"
                raise ResourceDoesNotExist(f"Experiment with id={experiment_id} is already {word}.")
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == experiment_id)
                .values(lifecycle_stage=stage, last_update_time=t)
            )
            # Deleting an experiment deletes its runs; restoring it restores all of them.
            conn.execute(
                update(s.runs)
                .where(s.runs.c.experiment_id == experiment_id)
                .values(lifecycle_stage=stage, deleted_time=t if stage == "deleted" else None)
            )

    def delete_experiment(self, experiment_id: int) -> None:
        self._set_stage(experiment_id, "deleted")

    def restore_experiment(self, experiment_id: int) -> None:
        self._set_stage(experiment_id, "active")

    def rename_experiment(self, experiment_id: int, new_name: str) -> None:
        with self.db.write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != "active":
                from tracklet.errors import InvalidState

                raise InvalidState("Cannot rename a non-active experiment.")
            taken = conn.execute(
                select(s.experiments.c.experiment_id).where(
                    s.experiments.c.name == new_name,
                    s.experiments.c.workspace == row.workspace,
                    s.experiments.c.experiment_id != experiment_id,
                )
            ).first()
            if taken is not None:
                raise ResourceAlreadyExists(f"Experiment '{new_name}' already exists.")
            try:
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == experiment_id)
                    .values(name=new_name, last_update_time=now_ms())
                )
            except IntegrityError:
                raise ResourceAlreadyExists(f"Experiment '{new_name}' already exists.") from None

    def set_experiment_tag(self, experiment_id: int, key: str, value: str) -> None:
        with self.db.write() as conn:
            self._active_experiment_row(conn, experiment_id)
            stmt = self.db.insert(s.experiment_tags).values(experiment_id=experiment_id, key=key, value=value)
            conn.execute(stmt.on_conflict_do_update(index_elements=["experiment_id", "key"], set_={"value": value}))

    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        with self.db.write() as conn:
            self._active_experiment_row(conn, experiment_id)
            result = conn.execute(
                delete(s.experiment_tags).where(
                    s.experiment_tags.c.experiment_id == experiment_id, s.experiment_tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with name: {key} in experiment with id {experiment_id}")

    def search_experiments(
        self,
        filter_string: str,
        view_type: str,
        order_by: list[str] | None,
        max_results: int,
        page_token: str | None,
    ) -> tuple[list[Experiment], str | None]:
        from tracklet.store import search_sql

        return read_page(
            self.db,
            lambda limit, offset: search_sql.experiment_search_select(
                filter_string, view_type, order_by, limit, offset
            ),
            self._load_experiments,
            max_results,
            page_token,
        )
