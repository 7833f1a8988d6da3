"""Permanent deletion (`tracklet gc`): rows of runs, logged models and experiments in the `deleted`
lifecycle stage.

Deleting one of them through the protocol only marks it; these methods remove the rows for good. What
the registry still serves is never purged: a run, logged model or experiment that a live model version
was registered from (by run id, model id or artifact location) is kept, and the caller is told why."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Column, Connection, delete, select, update

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import chunks, now_ms
from tracklet.store.database import Database
from tracklet.store.experiments import DEFAULT_EXPERIMENT_ID
from tracklet.store.registry import DELETED as DELETED_VERSION
from tracklet.store.traces import ARTIFACT_LOCATION_TAG, delete_trace_rows

_CHUNK = 500  # ids per statement: SQLite binds at most 32,766 values
# Runs (logged models, traces) purged per transaction: on SQLite each holds the one writer, so a server
# running beside gc waits at most tens of milliseconds to write (100 runs: ~30 ms).
PURGE_BATCH = 100


@dataclass(frozen=True)
class _Kind:
    """A kind of thing with its own lifecycle stage inside an experiment: runs, logged models."""

    noun: str
    id: Column  # type: ignore[type-arg]
    artifact_uri: Column  # type: ignore[type-arg]
    deleted_time: Column  # type: ignore[type-arg]  # for a deleted one, when it was deleted
    children: tuple[Column, ...]  # type: ignore[type-arg]  # its rows in other tables, by the column naming it

    @property
    def table(self):  # type: ignore[no-untyped-def]
        return self.id.table


RUNS = _Kind(
    "Run",
    s.runs.c.run_uuid,
    s.runs.c.artifact_uri,
    s.runs.c.deleted_time,
    (
        s.metric_tiles.c.run_uuid,
        s.metric_tile_rebuilds.c.run_uuid,
        s.latest_metrics.c.run_uuid,  # after `metrics`, which goes by the history ids found here
        s.params.c.run_uuid,
        s.tags.c.run_uuid,
        s.dataset_inputs.c.run_uuid,
        s.run_model_links.c.run_uuid,
        s.trace_run_links.c.run_id,
    ),
)
LOGGED_MODELS = _Kind(
    "Logged model",
    s.logged_models.c.model_id,
    s.logged_models.c.artifact_location,
    s.logged_models.c.last_updated_timestamp_ms,  # a deleted model is not updated any more
    (
        s.logged_model_tags.c.model_id,
        s.logged_model_params.c.model_id,
        s.logged_model_metrics.c.model_id,
        s.run_model_links.c.model_id,
    ),
)


@dataclass(frozen=True)
class Deleted:
    """A deleted run or logged model, or a trace old enough to go."""

    id: str
    experiment_id: int
    artifact_uri: str


@dataclass(frozen=True)
class DeletedExperiment:
    experiment_id: int
    name: str
    artifact_location: str


@dataclass
class Garbage:
    """What `tracklet gc` would purge: deleted experiments (with everything in them), and the deleted
    runs and logged models of other experiments; `kept` says, per thing left alone, why."""

    experiments: list[DeletedExperiment] = field(default_factory=list)
    runs: list[Deleted] = field(default_factory=list)
    models: list[Deleted] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _LiveVersion:
    """A model version the registry serves, and what it was registered from."""

    label: str
    run_id: str | None
    model_id: str | None
    locations: tuple[str, ...]  # its source and storage location

    def uses(self, item: Deleted) -> bool:
        return item.id in (self.run_id, self.model_id) or self.uses_location(item.artifact_uri)

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
        model_ids: Sequence[str] = (),
    ) -> Garbage:
        """What to purge: the experiments, runs and logged models named (each must exist and be
        deleted, at or before `deleted_before` ms when given), or when none is named, every one deleted
        at or before `deleted_before` (all of them without it)."""
        named = bool(run_ids or experiment_ids or model_ids)
        garbage = Garbage()
        with self.db.read() as conn:
            versions = _live_versions(conn)
            experiments = _deleted_experiments(conn, experiment_ids if named else None, deleted_before)
            runs = _deleted(conn, RUNS, run_ids if named else None, deleted_before)
            models = _deleted(conn, LOGGED_MODELS, model_ids if named else None, deleted_before)
            for experiment in experiments:
                reason = _experiment_in_use(conn, experiment, versions)
                if reason:
                    garbage.kept.append(reason)
                elif experiment.experiment_id == DEFAULT_EXPERIMENT_ID:
                    # The default experiment always exists (the server recreates it): its runs go, it stays.
                    runs += _deleted_in(conn, RUNS, DEFAULT_EXPERIMENT_ID, runs)
                    models += _deleted_in(conn, LOGGED_MODELS, DEFAULT_EXPERIMENT_ID, models)
                else:
                    garbage.experiments.append(experiment)
        purged_experiments = {e.experiment_id for e in garbage.experiments}
        for kind, found, into in ((RUNS, runs, garbage.runs), (LOGGED_MODELS, models, garbage.models)):
            for item in found:
                if item.experiment_id in purged_experiments:
                    continue
                version = next((v for v in versions if v.uses(item)), None)
                if version is not None:
                    garbage.kept.append(f"Kept {kind.noun.lower()} {item.id}: {version.label} was registered from it.")
                else:
                    into.append(item)
        return garbage

    def old_traces(self, started_before: int, limit: int) -> list[Deleted]:
        """Up to `limit` traces, of any experiment, that started before `started_before` (ms since the
        epoch), oldest first; `artifact_uri` is where their uploaded spans are ("" when spans are rows)."""
        sql = self.db.sql(
            "SELECT t.trace_id, t.experiment_id, tag.value FROM traces t LEFT JOIN trace_tags tag "
            "ON tag.trace_id = t.trace_id AND tag.key = ? WHERE t.request_time < ? "
            "ORDER BY t.request_time, t.trace_id LIMIT ?"
        )
        with self.db.read() as conn:
            rows = self.db.run(conn, sql, (ARTIFACT_LOCATION_TAG, started_before, limit))
        return [Deleted(trace_id, int(experiment_id), location or "") for trace_id, experiment_id, location in rows]

    def count_old_traces(self, started_before: int) -> int:
        with self.db.read() as conn:
            rows = self.db.run(
                conn, self.db.sql("SELECT count(*) FROM traces WHERE request_time < ?"), (started_before,)
            )
        return int(rows[0][0])

    def purge_traces(self, trace_ids: Sequence[str]) -> int:
        """Remove these traces with their spans' rows, tags, metadata, assessments and run links."""
        with self.db.write() as conn:
            delete_trace_rows(conn, list(trace_ids))
        return len(trace_ids)

    def purge_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Remove these runs and all their rows, each only if it is still deleted (a run restored since
        it was found stays as it is); returns the ids purged."""
        return self._purge(RUNS, run_ids)

    def purge_logged_models(self, model_ids: Sequence[str]) -> list[str]:
        """Remove these logged models and their rows, each only if it is still deleted."""
        return self._purge(LOGGED_MODELS, model_ids)

    def _purge(self, kind: _Kind, ids: Sequence[str]) -> list[str]:
        purged: list[str] = []
        started: float | None = None
        for part in chunks(list(ids), PURGE_BATCH):
            if started is not None:
                self.db.let_others_write(started)
            started = time.perf_counter()
            with self.db.write() as conn:
                still_deleted = select(kind.id).where(kind.id.in_(part), kind.table.c.lifecycle_stage == "deleted")
                found = list(conn.execute(still_deleted.with_for_update()).scalars())
                delete_rows(conn, kind, found)
                purged += found
        return purged

    def purge_experiment(self, experiment_id: int) -> bool:
        """Remove a deleted experiment with its runs, traces and logged models, if it is still deleted:
        its runs and traces a batch per transaction, the rest and the experiment in the last one."""
        batches = (
            (RUNS.id, lambda conn, ids: delete_rows(conn, RUNS, ids)),
            (s.traces.c.trace_id, delete_trace_rows),
            (LOGGED_MODELS.id, lambda conn, ids: delete_rows(conn, LOGGED_MODELS, ids)),
        )
        for column, remove in batches:
            while True:
                started = time.perf_counter()
                with self.db.write() as conn:
                    if _deleted_experiment_name(conn, experiment_id) is None:
                        return False
                    of_experiment = select(column).where(column.table.c.experiment_id == experiment_id)
                    ids = list(conn.execute(of_experiment.limit(PURGE_BATCH)).scalars())
                    remove(conn, ids)
                if len(ids) < PURGE_BATCH:
                    break
                self.db.let_others_write(started)
        with self.db.write() as conn:
            name = _deleted_experiment_name(conn, experiment_id)
            if name is None:
                return False
            delete_experiment_rows(conn, [experiment_id])
            conn.execute(
                s.purged_experiments.insert().values(experiment_id=experiment_id, name=name, purged_time=now_ms())
            )
            return True

    def artifact_uris_in(self, experiment_id: int) -> list[tuple[str, str]]:
        """(id, artifact URI) of everything of the experiment that has artifacts: its runs, logged
        models and traces."""
        traces, tags = s.traces, s.trace_tags
        with self.db.read() as conn:
            queries = [
                select(kind.id, kind.artifact_uri).where(kind.table.c.experiment_id == experiment_id)
                for kind in (RUNS, LOGGED_MODELS)
            ]
            queries.append(
                select(tags.c.trace_id, tags.c.value)
                .join(traces, traces.c.trace_id == tags.c.trace_id)
                .where(traces.c.experiment_id == experiment_id, tags.c.key == ARTIFACT_LOCATION_TAG)
            )
            return [(owner, uri) for query in queries for owner, uri in conn.execute(query)]

    def artifact_locations(self, exclude_experiment: int) -> list[str]:
        """The artifact locations of every experiment but this one (a folder shared with another
        experiment must not be removed with it)."""
        with self.db.read() as conn:
            query = select(s.experiments.c.artifact_location).where(s.experiments.c.experiment_id != exclude_experiment)
            return list(conn.execute(query).scalars())


def _deleted_experiment_name(conn: Connection, experiment_id: int) -> str | None:
    """The experiment's name if it is (still) deleted, its row locked for this transaction."""
    row = conn.execute(
        select(s.experiments.c.name, s.experiments.c.lifecycle_stage)
        .where(s.experiments.c.experiment_id == experiment_id)
        .with_for_update()
    ).first()
    return row.name if row is not None and row.lifecycle_stage == "deleted" else None


def delete_experiment_rows(conn: Connection, experiment_ids: Sequence[int]) -> None:
    """The experiments' own rows (tags, grants, dataset links, scorers, label schemas, review queues,
    issues) and the experiments themselves; their runs, traces and logged models are gone already."""
    owned = select(s.scorers.c.scorer_id).where(s.scorers.c.experiment_id.in_(experiment_ids))
    conn.execute(delete(s.scorer_versions).where(s.scorer_versions.c.scorer_id.in_(owned)))
    queues = select(s.review_queues.c.queue_id).where(s.review_queues.c.experiment_id.in_(experiment_ids))
    for child in (s.review_queue_users, s.review_queue_label_schemas, s.review_queue_items):
        conn.execute(delete(child).where(child.c.queue_id.in_(queues)))
    for table in (
        s.experiment_tags,
        s.experiment_permissions,
        s.evaluation_dataset_experiments,
        s.scorers,
        s.label_schemas,
        s.review_queues,
        s.issues,
        s.experiments,
    ):
        conn.execute(delete(table).where(table.c.experiment_id.in_(experiment_ids)))


def delete_rows(conn: Connection, kind: _Kind, ids: list[str]) -> None:
    for part in chunks(ids, _CHUNK):
        if kind is RUNS:
            histories = select(s.latest_metrics.c.history_id).where(s.latest_metrics.c.run_uuid.in_(part))
            conn.execute(delete(s.metrics).where(s.metrics.c.history_id.in_(histories)))
            # An issue found by a purged run stays, without it (MLflow's key sets it to NULL).
            found_by = s.issues.c.source_run_id.in_(part)
            conn.execute(update(s.issues).where(found_by).values(source_run_id=None))
        for column in (*kind.children, kind.id):
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
        # An experiment's last update is its deletion: a deleted experiment cannot be changed.
        if _eligible(
            f"Experiment {row.experiment_id}", row.lifecycle_stage, row.last_update_time, named, deleted_before
        ):
            chosen.append(DeletedExperiment(row.experiment_id, row.name, row.artifact_location))
    return chosen


def _deleted(conn: Connection, kind: _Kind, named: Sequence[str] | None, deleted_before: int | None) -> list[Deleted]:
    query = select(
        kind.id, kind.table.c.experiment_id, kind.artifact_uri, kind.table.c.lifecycle_stage, kind.deleted_time
    )
    if named is None:
        query = query.where(kind.table.c.lifecycle_stage == "deleted")
        if deleted_before is not None:
            query = query.where(kind.deleted_time <= deleted_before)
        return [Deleted(row[0], row[1], row[2]) for row in conn.execute(query)]
    rows = {row[0]: row for part in chunks(list(named), _CHUNK) for row in conn.execute(query.where(kind.id.in_(part)))}
    chosen = []
    for item_id in dict.fromkeys(named):
        row = rows.get(item_id)
        if row is None:
            raise ResourceDoesNotExist(f"{kind.noun} with id={item_id} not found")
        _eligible(f"{kind.noun} {item_id}", row[3], row[4] or 0, named, deleted_before)
        chosen.append(Deleted(item_id, row[1], row[2]))
    return chosen


def _eligible(
    what: str, stage: str, deleted_time: int, named: Sequence[object] | None, deleted_before: int | None
) -> bool:
    """Whether this one is to be purged; one named that cannot be is an error."""
    if stage != "deleted":
        if named is not None:
            raise InvalidParameterValue(
                f"{what} is not in the 'deleted' lifecycle stage. Only what is deleted can be purged."
            )
        return False
    if deleted_before is not None and deleted_time > deleted_before:
        if named is not None:
            raise InvalidParameterValue(f"{what} was deleted too recently for --older-than.")
        return False
    return True


def _deleted_in(conn: Connection, kind: _Kind, experiment_id: int, already: list[Deleted]) -> list[Deleted]:
    known = {item.id for item in already}
    query = select(kind.id, kind.artifact_uri).where(
        kind.table.c.experiment_id == experiment_id, kind.table.c.lifecycle_stage == "deleted"
    )
    return [Deleted(item_id, experiment_id, uri) for item_id, uri in conn.execute(query) if item_id not in known]


def _experiment_in_use(conn: Connection, experiment: DeletedExperiment, versions: list[_LiveVersion]) -> str | None:
    """Why this experiment must be kept, if a live model version was registered from it."""
    if not versions:
        return None
    inside: set[str] = set()
    for kind in (RUNS, LOGGED_MODELS):
        inside.update(
            conn.execute(select(kind.id).where(kind.table.c.experiment_id == experiment.experiment_id)).scalars()
        )
    for v in versions:
        if v.run_id in inside or v.model_id in inside or v.uses_location(experiment.artifact_location):
            return (
                f"Kept experiment {experiment.experiment_id} ('{experiment.name}'): {v.label} was registered from it."
            )
    return None
