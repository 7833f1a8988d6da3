"""Permanent deletion (`tracklet gc`): rows of runs and experiments in the `deleted` lifecycle stage.

Deleting a run or an experiment through the protocol only marks it; these methods remove the rows for
good. What the registry still serves is never purged: a run or experiment that a live model version was
registered from (by run id, logged model or artifact location) is kept, and the caller is told why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, select

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import chunks, now_ms
from tracklet.store.database import Database
from tracklet.store.experiments import DEFAULT_EXPERIMENT_ID
from tracklet.store.registry import DELETED as DELETED_VERSION
from tracklet.store.traces import ARTIFACT_LOCATION_TAG, delete_trace_rows

_CHUNK = 500  # ids per statement: SQLite binds at most 32,766 values
# A run's rows, by the column naming the run (`metrics` goes by history id, first).
_RUN_CHILDREN = (
    s.metric_tiles.c.run_uuid,
    s.metric_tile_rebuilds.c.run_uuid,
    s.latest_metrics.c.run_uuid,
    s.params.c.run_uuid,
    s.tags.c.run_uuid,
    s.dataset_inputs.c.run_uuid,
    s.run_model_links.c.run_uuid,
    s.trace_run_links.c.run_id,
)
_MODEL_CHILDREN = (
    s.logged_model_tags.c.model_id,
    s.logged_model_params.c.model_id,
    s.logged_model_metrics.c.model_id,
    s.run_model_links.c.model_id,
)


@dataclass(frozen=True)
class DeletedRun:
    run_id: str
    experiment_id: int
    artifact_uri: str


@dataclass(frozen=True)
class DeletedExperiment:
    experiment_id: int
    name: str
    artifact_location: str


@dataclass
class Garbage:
    """What `tracklet gc` would purge: deleted experiments (with all their runs) and deleted runs of
    other experiments; `kept` says, per run or experiment left alone, why."""

    experiments: list[DeletedExperiment] = field(default_factory=list)
    runs: list[DeletedRun] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _LiveVersion:
    """A model version the registry serves, and what it was registered from."""

    label: str
    run_id: str | None
    model_id: str | None
    locations: tuple[str, ...]  # its source and storage location

    def uses_location(self, root: str) -> bool:
        root = root.rstrip("/")
        return any(loc == root or loc.startswith(root + "/") for loc in self.locations)


class PurgeStore:
    db: Database

    def find_garbage(
        self,
        deleted_before: int | None = None,
        run_ids: Sequence[str] = (),
        experiment_ids: Sequence[int] = (),
    ) -> Garbage:
        """Deleted experiments and runs to purge: those named (each must exist and be deleted, at or
        before `deleted_before` ms when given), or when none is named, every one deleted at or before
        `deleted_before` (all of them without it)."""
        named = bool(run_ids or experiment_ids)
        with self.db.read() as conn:
            versions = _live_versions(conn)
            experiments = _deleted_experiments(conn, experiment_ids if named else None, deleted_before)
            runs = _deleted_runs(conn, run_ids if named else None, deleted_before)
            garbage = Garbage()
            for experiment in experiments:
                reason = _experiment_in_use(conn, experiment, versions)
                if reason:
                    garbage.kept.append(reason)
                elif experiment.experiment_id == DEFAULT_EXPERIMENT_ID:
                    # The default experiment always exists (the server recreates it): its runs go, it stays.
                    runs += _deleted_runs_of(conn, DEFAULT_EXPERIMENT_ID, runs)
                else:
                    garbage.experiments.append(experiment)
        purged_experiments = {e.experiment_id for e in garbage.experiments}
        for run in runs:
            if run.experiment_id in purged_experiments:
                continue
            version = next((v for v in versions if v.run_id == run.run_id or v.uses_location(run.artifact_uri)), None)
            if version is not None:
                garbage.kept.append(f"Kept run {run.run_id}: {version.label} was registered from it.")
            else:
                garbage.runs.append(run)
        return garbage

    def purge_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Remove these runs and all their rows, each only if it is still deleted (a run restored since
        it was found stays as it is); returns the ids purged."""
        purged: list[str] = []
        with self.db.write() as conn:
            for part in chunks(list(run_ids), _CHUNK):
                still_deleted = select(s.runs.c.run_uuid).where(
                    s.runs.c.run_uuid.in_(part), s.runs.c.lifecycle_stage == "deleted"
                )
                ids = list(conn.execute(still_deleted.with_for_update()).scalars())
                _delete_runs(conn, ids)
                purged += ids
        return purged

    def purge_experiment(self, experiment_id: int) -> bool:
        """Remove a deleted experiment with its runs, traces and logged models, if it is still deleted."""
        with self.db.write() as conn:
            row = conn.execute(
                select(s.experiments.c.name, s.experiments.c.lifecycle_stage)
                .where(s.experiments.c.experiment_id == experiment_id)
                .with_for_update()
            ).first()
            if row is None or row.lifecycle_stage != "deleted":
                return False
            of_experiment = s.runs.c.experiment_id == experiment_id
            _delete_runs(conn, list(conn.execute(select(s.runs.c.run_uuid).where(of_experiment)).scalars()))
            traces = select(s.traces.c.trace_id).where(s.traces.c.experiment_id == experiment_id)
            delete_trace_rows(conn, list(conn.execute(traces).scalars()))
            models = select(s.logged_models.c.model_id).where(s.logged_models.c.experiment_id == experiment_id)
            for part in chunks(list(conn.execute(models).scalars()), _CHUNK):
                for column in (*_MODEL_CHILDREN, s.logged_models.c.model_id):
                    conn.execute(delete(column.table).where(column.in_(part)))
            for table in (s.experiment_tags, s.experiments):
                conn.execute(delete(table).where(table.c.experiment_id == experiment_id))
            conn.execute(
                s.purged_experiments.insert().values(experiment_id=experiment_id, name=row.name, purged_time=now_ms())
            )
            return True

    def artifact_uris_in(self, experiment_id: int) -> list[tuple[str, str]]:
        """(id, artifact URI) of everything of the experiment that has artifacts: its runs, logged
        models and traces."""
        runs, models, traces, tags = s.runs, s.logged_models, s.traces, s.trace_tags
        with self.db.read() as conn:
            queries = (
                select(runs.c.run_uuid, runs.c.artifact_uri).where(runs.c.experiment_id == experiment_id),
                select(models.c.model_id, models.c.artifact_location).where(models.c.experiment_id == experiment_id),
                select(tags.c.trace_id, tags.c.value)
                .join(traces, traces.c.trace_id == tags.c.trace_id)
                .where(traces.c.experiment_id == experiment_id, tags.c.key == ARTIFACT_LOCATION_TAG),
            )
            return [(owner, uri) for query in queries for owner, uri in conn.execute(query)]

    def artifact_locations(self, exclude_experiment: int) -> list[str]:
        """The artifact locations of every experiment but this one (a folder shared with another
        experiment must not be removed with it)."""
        with self.db.read() as conn:
            query = select(s.experiments.c.artifact_location).where(s.experiments.c.experiment_id != exclude_experiment)
            return list(conn.execute(query).scalars())


def _delete_runs(conn: Connection, run_ids: list[str]) -> None:
    for part in chunks(run_ids, _CHUNK):
        histories = select(s.latest_metrics.c.history_id).where(s.latest_metrics.c.run_uuid.in_(part))
        conn.execute(delete(s.metrics).where(s.metrics.c.history_id.in_(histories)))
        for column in (*_RUN_CHILDREN, s.runs.c.run_uuid):
            conn.execute(delete(column.table).where(column.in_(part)))


def _live_versions(conn: Connection) -> list[_LiveVersion]:
    mv, rm = s.model_versions, s.registered_models
    query = (
        select(rm.c.name, mv.c.version, mv.c.run_id, mv.c.model_id, mv.c.source, mv.c.storage_location)
        .join(rm, rm.c.id == mv.c.registered_model_id)
        .where(mv.c.current_stage != DELETED_VERSION)
    )
    return [
        _LiveVersion(f"model version '{name}' {version}", run_id, model_id, (source, storage))
        for name, version, run_id, model_id, source, storage in conn.execute(query)
    ]


def _deleted_experiments(
    conn: Connection, named: Sequence[int] | None, deleted_before: int | None
) -> list[DeletedExperiment]:
    e = s.experiments
    query = select(e.c.experiment_id, e.c.name, e.c.artifact_location, e.c.lifecycle_stage, e.c.last_update_time)
    rows = conn.execute(query.where(e.c.experiment_id.in_(list(named))) if named is not None else query).all()
    if named is not None:
        found = {row.experiment_id for row in rows}
        if missing := [i for i in named if i not in found]:
            raise ResourceDoesNotExist(f"Experiment with id={missing[0]} not found")
    chosen = []
    for row in rows:
        if row.lifecycle_stage != "deleted":
            if named is not None:
                raise InvalidParameterValue(
                    f"Experiment {row.experiment_id} is not in the 'deleted' lifecycle stage. "
                    "Only experiments in the 'deleted' lifecycle stage can be purged."
                )
            continue
        # An experiment's last update is its deletion: a deleted experiment cannot be changed.
        if deleted_before is not None and row.last_update_time > deleted_before:
            if named is not None:
                raise InvalidParameterValue(
                    f"Experiment {row.experiment_id} was deleted too recently for --older-than."
                )
            continue
        chosen.append(DeletedExperiment(row.experiment_id, row.name, row.artifact_location))
    return chosen


def _deleted_runs(conn: Connection, named: Sequence[str] | None, deleted_before: int | None) -> list[DeletedRun]:
    r = s.runs
    query = select(r.c.run_uuid, r.c.experiment_id, r.c.artifact_uri, r.c.lifecycle_stage, r.c.deleted_time)
    if named is None:
        query = query.where(r.c.lifecycle_stage == "deleted")
        if deleted_before is not None:
            query = query.where(r.c.deleted_time <= deleted_before)
        return [DeletedRun(row.run_uuid, row.experiment_id, row.artifact_uri) for row in conn.execute(query)]
    rows = {
        row.run_uuid: row
        for part in chunks(list(named), _CHUNK)
        for row in conn.execute(query.where(r.c.run_uuid.in_(part)))
    }
    chosen = []
    for run_id in dict.fromkeys(named):
        row = rows.get(run_id)
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        if row.lifecycle_stage != "deleted":
            raise InvalidParameterValue(
                f"Run {run_id} is not in the 'deleted' lifecycle stage. "
                "Only runs in the 'deleted' lifecycle stage can be purged."
            )
        if deleted_before is not None and (row.deleted_time or 0) > deleted_before:
            raise InvalidParameterValue(f"Run {run_id} was deleted too recently for --older-than.")
        chosen.append(DeletedRun(run_id, row.experiment_id, row.artifact_uri))
    return chosen


def _deleted_runs_of(conn: Connection, experiment_id: int, already: list[DeletedRun]) -> list[DeletedRun]:
    r = s.runs
    known = {run.run_id for run in already}
    query = select(r.c.run_uuid, r.c.artifact_uri).where(
        r.c.experiment_id == experiment_id, r.c.lifecycle_stage == "deleted"
    )
    return [DeletedRun(run_id, experiment_id, uri) for run_id, uri in conn.execute(query) if run_id not in known]


def _experiment_in_use(conn: Connection, experiment: DeletedExperiment, versions: list[_LiveVersion]) -> str | None:
    """Why this experiment must be kept, if a live model version was registered from it."""
    if not versions:
        return None
    runs = set(
        conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.experiment_id == experiment.experiment_id)).scalars()
    )
    models = set(
        conn.execute(
            select(s.logged_models.c.model_id).where(s.logged_models.c.experiment_id == experiment.experiment_id)
        ).scalars()
    )
    for v in versions:
        if v.run_id in runs or v.model_id in models or v.uses_location(experiment.artifact_location):
            return (
                f"Kept experiment {experiment.experiment_id} ('{experiment.name}'): {v.label} was registered from it."
            )
    return None
