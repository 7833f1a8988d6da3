"""MLflow 3's registered scorers (`Scorer.register`, `mlflow.genai.scorers.list_scorers`, `get_scorer`,
`delete_scorer`): versions of a named scorer in an experiment, each the client's serialized scorer.

As in MLflow: the experiment must exist and be active; a registration adds version (highest + 1) and
creates the scorer on its first; listing gives each scorer's latest version, ordered by experiment and
name; deleting without a version deletes the scorer with all its versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, func, select

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import insert_rows, now_ms
from tracklet.store.database import Database


class ScorerVersion(msgspec.Struct):
    """MLflow's `Scorer` message (`experiment_id` is a number there)."""

    experiment_id: int
    scorer_name: str
    scorer_version: int
    serialized_scorer: str
    creation_time: int
    scorer_id: str


class ScorerStore:
    db: Database

    def _scorers_experiment(self, conn: Connection, experiment_id: int) -> None:
        """That the experiment exists and is active, as MLflow asks of every scorer call."""
        table = s.experiments
        stage = conn.execute(select(table.c.lifecycle_stage).where(table.c.experiment_id == experiment_id)).scalar()
        if stage is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        if stage != "active":
            raise InvalidParameterValue(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
            )

    def _scorer_id(self, conn: Connection, experiment_id: int, name: str, lock: bool = False) -> str | None:
        table = s.scorers
        query = select(table.c.scorer_id).where(table.c.experiment_id == experiment_id, table.c.scorer_name == name)
        return conn.execute(query.with_for_update() if lock else query).scalar()

    def register_scorer(self, experiment_id: int, name: str, serialized: str) -> ScorerVersion:
        versions = s.scorer_versions
        with self.db.write() as conn:
            self._scorers_experiment(conn, experiment_id)
            # The scorer, made by its first registration (a concurrent first one makes it once); on
            # PostgreSQL its row locked, so that two registrations number their versions in turn.
            new = {"scorer_id": str(uuid.uuid4()), "experiment_id": experiment_id, "scorer_name": name}
            conn.execute(self.db.insert(s.scorers).values(new).on_conflict_do_nothing())
            scorer_id = self._scorer_id(conn, experiment_id, name, lock=True)
            assert scorer_id is not None
            highest = conn.execute(
                select(func.max(versions.c.scorer_version)).where(versions.c.scorer_id == scorer_id)
            ).scalar()
            made = ScorerVersion(experiment_id, name, (highest or 0) + 1, serialized, now_ms(), scorer_id)
            conn.execute(
                versions.insert().values(
                    scorer_id=scorer_id,
                    scorer_version=made.scorer_version,
                    serialized_scorer=serialized,
                    creation_time=made.creation_time,
                )
            )
        return made

    def _versions(self, conn: Connection, where: Sequence[Any], latest_only: bool) -> list[ScorerVersion]:
        scorers, versions = s.scorers, s.scorer_versions
        query = select(
            scorers.c.experiment_id,
            scorers.c.scorer_name,
            versions.c.scorer_version,
            versions.c.serialized_scorer,
            versions.c.creation_time,
            scorers.c.scorer_id,
        ).join(versions, versions.c.scorer_id == scorers.c.scorer_id)
        if latest_only:
            other = versions.alias("other_versions")
            latest = (
                select(func.max(other.c.scorer_version))
                .where(other.c.scorer_id == scorers.c.scorer_id)
                .scalar_subquery()
            )
            query = query.where(versions.c.scorer_version == latest)
        query = query.where(*where).order_by(scorers.c.experiment_id, scorers.c.scorer_name, versions.c.scorer_version)
        return [ScorerVersion(*row) for row in conn.execute(query)]

    def list_scorers(self, experiment_ids: Sequence[int] | None) -> list[ScorerVersion]:
        """The latest version of each scorer of these experiments (None: of every active experiment)."""
        with self.db.read() as conn:
            if experiment_ids is not None and len(experiment_ids) == 1:
                self._scorers_experiment(conn, experiment_ids[0])
            experiments = s.experiments
            active = select(experiments.c.experiment_id).where(experiments.c.lifecycle_stage == "active")
            if experiment_ids is not None:
                active = active.where(experiments.c.experiment_id.in_(experiment_ids))
            return self._versions(conn, [s.scorers.c.experiment_id.in_(active)], latest_only=True)

    def _named(self, conn: Connection, experiment_id: int, name: str) -> str:
        self._scorers_experiment(conn, experiment_id)
        scorer_id = self._scorer_id(conn, experiment_id, name)
        if scorer_id is None:
            raise ResourceDoesNotExist(f"Scorer with name '{name}' not found for experiment {experiment_id}.")
        return scorer_id

    def list_scorer_versions(self, experiment_id: int, name: str) -> list[ScorerVersion]:
        with self.db.read() as conn:
            scorer_id = self._named(conn, experiment_id, name)
            found = self._versions(conn, [s.scorers.c.scorer_id == scorer_id], latest_only=False)
        if not found:  # each of its versions deleted one by one: as gone as the scorer, as in MLflow
            raise ResourceDoesNotExist(f"Scorer with name '{name}' not found for experiment {experiment_id}.")
        return found

    def get_scorer(self, experiment_id: int, name: str, version: int | None) -> ScorerVersion:
        """A version of the scorer; None: its latest."""
        with self.db.read() as conn:
            scorer_id = self._named(conn, experiment_id, name)
            where = [s.scorers.c.scorer_id == scorer_id]
            if version is not None:
                where.append(s.scorer_versions.c.scorer_version == version)
            found = self._versions(conn, where, latest_only=version is None)
        if not found:
            which = f"name '{name}'" if version is None else f"name '{name}' and version {version}"
            raise ResourceDoesNotExist(f"Scorer with {which} not found for experiment {experiment_id}.")
        return found[-1]

    def delete_scorer(self, experiment_id: int, name: str, version: int | None) -> None:
        """Delete one version, or (None) the scorer with all its versions."""
        versions = s.scorer_versions
        with self.db.write() as conn:
            scorer_id = self._named(conn, experiment_id, name)
            condition = [versions.c.scorer_id == scorer_id]
            if version is not None:
                condition.append(versions.c.scorer_version == version)
            if not conn.execute(delete(versions).where(*condition)).rowcount:
                which = f"name '{name}'" if version is None else f"name '{name}' and version {version}"
                raise ResourceDoesNotExist(f"Scorer with {which} not found for experiment {experiment_id}.")
            if version is None:
                conn.execute(delete(s.scorers).where(s.scorers.c.scorer_id == scorer_id))

    # -- import (`tracklet import-mlflow`) ---------------------------------------------------------------

    def scorer_version_numbers(self, experiment_id: int, name: str) -> set[int]:
        """The version numbers stored of the experiment's scorer (none: an empty set), whatever the
        experiment's state."""
        scorers, versions = s.scorers, s.scorer_versions
        query = (
            select(versions.c.scorer_version)
            .join(scorers, scorers.c.scorer_id == versions.c.scorer_id)
            .where(scorers.c.experiment_id == experiment_id, scorers.c.scorer_name == name)
        )
        with self.db.read() as conn:
            return {row[0] for row in conn.execute(query)}

    def import_scorer_versions(
        self, experiment_id: int, scorer_id: str | None, versions: Sequence[ScorerVersion]
    ) -> int:
        """Versions of one scorer copied from another server into the experiment, under their numbers,
        serialized scorers and creation times, in one transaction; the versions there already are kept as
        they are. The scorer keeps its id (`scorer_id`) unless it is already in the experiment under its
        own, or the id is taken (or None). How many versions were new."""
        if not versions:
            return 0
        name = versions[0].scorer_name
        with self.db.write() as conn:
            for candidate in (scorer_id or str(uuid.uuid4()), str(uuid.uuid4())):
                if self._scorer_id(conn, experiment_id, name) is not None:
                    break
                new = {"scorer_id": candidate, "experiment_id": experiment_id, "scorer_name": name}
                conn.execute(self.db.insert(s.scorers).values(new).on_conflict_do_nothing())
            stored_id = self._scorer_id(conn, experiment_id, name)
            assert stored_id is not None
            rows = [(stored_id, v.scorer_version, v.serialized_scorer, v.creation_time) for v in versions]
            made = insert_rows(
                conn,
                "scorer_versions",
                ("scorer_id", "scorer_version", "serialized_scorer", "creation_time"),
                rows,
                "ON CONFLICT DO NOTHING RETURNING scorer_version",
            )
        return len(made)
