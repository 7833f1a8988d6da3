"""Runs: lifecycle, params, tags, batches, inputs/outputs, and bulk loading for get/search."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, select, update

from tracklet.entities import (
    Dataset,
    DatasetInput,
    EncodedRun,
    EncodedRunData,
    KeyValue,
    Metric,
    MetricWithRunId,
    ModelInput,
    ModelOutput,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
)
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import dialects
from tracklet.store import schema as s
from tracklet.store._util import chunks, insert_rows, now_ms, time_ordered_id
from tracklet.store.database import Database
from tracklet.store.metrics import MetricLike, read_history, write_columns, write_points
from tracklet.store.run_names import generate_run_name
from tracklet.store.sampling import sample_history

RUN_NAME_TAG = "mlflow.runName"
_KEY_VALUE_COLUMNS = ("run_uuid", "key", "value")  # params and tags
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
# Bulk loads read children of at most this many runs per statement (`dialects.rows_of_runs`; on SQLite an
# IN (...) list, well under its bind-parameter limit).
_LOAD_CHUNK = 5000


class RunStore:
    db: Database

    # ---- helpers -------------------------------------------------------------------------------
    def _run_row(self, conn: Connection, run_id: str):  # type: ignore[no-untyped-def]
        row = conn.execute(select(s.runs).where(s.runs.c.run_uuid == run_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return row

    def _active_run_row(self, conn: Connection, run_id: str):  # type: ignore[no-untyped-def]
        row = self._run_row(conn, run_id)
        _require_active(run_id, row.lifecycle_stage)
        return row

    def _check_active(self, conn: Connection, run_id: str) -> None:
        """The cheap check of the logging paths (one indexed column, hand-written SQL)."""
        rows = self.db.run(conn, self.db.sql("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?"), (run_id,))
        if not rows:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        _require_active(run_id, rows[0][0])

    def load_runs(self, conn: Connection, run_ids: Sequence[str]) -> list[Run]:
        """Whole runs for these ids, in this order, with a fixed number of queries."""
        return self._with_children(conn, self._info_rows(conn, run_ids), encoded=False)  # type: ignore[return-value]

    def load_runs_encoded(self, conn: Connection, run_ids: Sequence[str]) -> list[EncodedRun]:
        """The same runs, ready for the wire: params and tags come as JSON built by the database,
        which makes a page of 1,000 runs (tens of thousands of params and tags) several times cheaper."""
        return self._with_children(conn, self._info_rows(conn, run_ids), encoded=True)  # type: ignore[return-value]

    def _info_rows(self, conn: Connection, run_ids: Sequence[str]) -> list[Sequence[Any]]:
        """The `_INFO_COLUMNS` of these runs, in this order; unknown ids are left out."""
        found: dict[str, Sequence[Any]] = {}
        for ids in chunks(list(run_ids), _LOAD_CHUNK):
            found.update((row[0], row) for row in self._rows_of(conn, "runs", _INFO_COLUMNS, ids))
        return [found[run_id] for run_id in run_ids if run_id in found]

    def _rows_of(self, conn: Connection, table: str, columns: str, run_ids: list[str]) -> list[Any]:
        """`columns` of the rows of `table` that belong to these runs, as plain tuples through hand-written SQL:
        a page of 1,000 runs brings tens of thousands of rows, and an IN list of 1,000 ids built by SQLAlchemy
        costs milliseconds per statement."""
        return self.db.fetch_all(conn, *dialects.rows_of_runs(conn.engine, table, columns, run_ids))

    def _with_children(
        self, conn: Connection, info_rows: Sequence[Sequence[Any]], encoded: bool
    ) -> list[Run] | list[EncodedRun]:
        """Runs made of these `_INFO_COLUMNS` rows and their params, tags, metrics, inputs and outputs."""
        params: dict[str, list[KeyValue]] = defaultdict(list)
        tags: dict[str, list[KeyValue]] = defaultdict(list)
        encoded_params: dict[str, msgspec.Raw] = {}
        encoded_tags: dict[str, msgspec.Raw] = {}
        metrics: dict[str, list[Metric]] = defaultdict(list)
        datasets: dict[str, list[DatasetInput]] = defaultdict(list)
        inputs: dict[str, list[ModelInput]] = defaultdict(list)
        outputs: dict[str, list[ModelOutput]] = defaultdict(list)
        for ids in chunks([row[0] for row in info_rows], _LOAD_CHUNK):
            if encoded:
                for table, into in (("params", encoded_params), ("tags", encoded_tags)):
                    sql, json_args = dialects.json_key_values(conn.engine, table, ids)
                    into.update(
                        (run_uuid, msgspec.Raw(array))
                        for run_uuid, array in self.db.fetch_all(conn, sql, json_args)
                        if array is not None
                    )
            else:
                for run_uuid, key, value in self._rows_of(conn, "params", "run_uuid, key, value", ids):
                    params[run_uuid].append(KeyValue(key=key, value=value))
                for run_uuid, key, value in self._rows_of(conn, "tags", "run_uuid, key, value", ids):
                    tags[run_uuid].append(KeyValue(key=key, value=value))
            for run_uuid, key, value, timestamp, step, is_nan in self._rows_of(
                conn, "latest_metrics", "run_uuid, key, value, timestamp, step, is_nan", ids
            ):
                metrics[run_uuid].append(
                    Metric(key=key, value="NaN" if is_nan else value, timestamp=timestamp, step=step)
                )
            for run_uuid, name, digest, source_type, source, schema, profile, tags_json in self._rows_of(
                conn, "dataset_inputs", 'run_uuid, name, digest, source_type, source, "schema", profile, tags_json', ids
            ):
                dataset = Dataset(
                    name=name, digest=digest, source_type=source_type, source=source, schema=schema, profile=profile
                )
                input_tags = [KeyValue(**t) for t in json.loads(tags_json)]
                datasets[run_uuid].append(DatasetInput(dataset=dataset, tags=input_tags))
            for run_uuid, model_id, direction, step in self._rows_of(
                conn, "run_model_links", "run_uuid, model_id, direction, step", ids
            ):
                if direction == "input":
                    inputs[run_uuid].append(ModelInput(model_id=model_id))
                else:
                    outputs[run_uuid].append(ModelOutput(model_id=model_id, step=step))
        runs: list[Any] = []
        for row in info_rows:
            run_id = row[0]
            if encoded:
                # Most runs have no inputs or outputs: they share one empty instance (never modified, it only
                # goes to the wire), which spares two objects and three lists per run of a 1,000-run page.
                run_inputs = _NO_INPUTS
                if run_id in datasets or run_id in inputs:
                    run_inputs = RunInputs(dataset_inputs=datasets[run_id], model_inputs=inputs[run_id])
                run_outputs = RunOutputs(model_outputs=outputs[run_id]) if run_id in outputs else _NO_OUTPUTS
                wire_data = EncodedRunData(
                    metrics=metrics.get(run_id, []),
                    params=encoded_params.get(run_id, msgspec.UNSET),
                    tags=encoded_tags.get(run_id, msgspec.UNSET),
                )
                runs.append(EncodedRun(info=_run_info(row), data=wire_data, inputs=run_inputs, outputs=run_outputs))
            else:
                run_inputs = RunInputs(dataset_inputs=datasets[run_id], model_inputs=inputs[run_id])
                run_outputs = RunOutputs(model_outputs=outputs[run_id])
                data = RunData(metrics=metrics[run_id], params=params[run_id], tags=tags[run_id])
                runs.append(Run(info=_run_info(row), data=data, inputs=run_inputs, outputs=run_outputs))
        return runs

    # ---- lifecycle -----------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: int,
        user_id: str,
        start_time: int,
        run_name: str | None,
        tags: list[KeyValue],
    ) -> Run:
        tag_name = next((t.value for t in tags if t.key == RUN_NAME_TAG), None)
        if run_name and tag_name and run_name != tag_name:
            raise InvalidParameterValue(
                f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
                f"values (run_name='{run_name}', mlflow.runName='{tag_name}')."
            )
        name = run_name or tag_name or generate_run_name()
        tag_map = {t.key: t.value for t in tags}
        tag_map[RUN_NAME_TAG] = name
        run_id = time_ordered_id()
        with self.db.write() as conn:
            # Creating runs is a hot path (sweeps create thousands): hand-written SQL, three statements.
            found = self.db.run(
                conn,
                self.db.sql("SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?"),
                (experiment_id,),
            )
            if not found:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            stage, location = found[0]
            if stage != "active":
                raise InvalidParameterValue(
                    f"The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
                )
            self.db.run(
                conn,
                self.db.sql(
                    "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, artifact_uri, "
                    "lifecycle_stage) VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, 'active')"
                ),
                (run_id, experiment_id, name, user_id, start_time, _artifact_uri(location, run_id)),
            )
            insert_rows(conn, "tags", _KEY_VALUE_COLUMNS, [(run_id, k, v) for k, v in tag_map.items()])
        # A new run holds exactly what was just written: no need to read it back.
        info = RunInfo(
            run_id=run_id,
            run_uuid=run_id,
            experiment_id=str(experiment_id),
            run_name=name,
            user_id=user_id,
            status="RUNNING",
            start_time=start_time,
            artifact_uri=_artifact_uri(location, run_id),
            lifecycle_stage="active",
        )
        return Run(info=info, data=RunData(tags=[KeyValue(key=k, value=v) for k, v in tag_map.items()]))

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as conn:
            runs = self.load_runs(conn, [run_id])
        if not runs:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return runs[0]

    def update_run(self, run_id: str, status: str | None, end_time: int | None, run_name: str | None) -> RunInfo:
        with self.db.write() as conn:
            self._active_run_row(conn, run_id)
            values: dict[str, object] = {}
            if status in RUN_STATUSES:  # an unknown status leaves it unchanged, as in MLflow
                values["status"] = status
            if end_time is not None:
                values["end_time"] = end_time
            if run_name:
                values["name"] = run_name
                self._upsert_tags(conn, run_id, [KeyValue(key=RUN_NAME_TAG, value=run_name)])
            if values:
                conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id).values(**values))
            return _run_info(self._run_row(conn, run_id))

    def _set_run_stage(self, run_id: str, stage: str) -> None:
        with self.db.write() as conn:
            self._run_row(conn, run_id)
            conn.execute(
                update(s.runs)
                .where(s.runs.c.run_uuid == run_id)
                .values(lifecycle_stage=stage, deleted_time=now_ms() if stage == "deleted" else None)
            )

    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, "deleted")

    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, "active")

    # ---- params, tags, metrics ------------------------------------------------------------------
    def _upsert_tags(self, conn: Connection, run_id: str, tags: list[KeyValue]) -> None:
        if not tags:
            return
        last = {t.key: t.value for t in tags}  # the last value of a key in one batch wins
        rows = [(run_id, k, v) for k, v in last.items()]
        insert_rows(
            conn, "tags", _KEY_VALUE_COLUMNS, rows, "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value"
        )
        if RUN_NAME_TAG in last:
            conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id).values(name=last[RUN_NAME_TAG]))

    def _insert_params(self, conn: Connection, run_id: str, params: list[KeyValue]) -> None:
        """New params are inserted; one logged again with its value is left alone; one logged again with
        another value fails the whole batch (MLflow's rule, and its messages). The insert comes first: a
        batch of new params (the usual case) costs one statement."""
        if not params:
            return
        rows = [(run_id, p.key, p.value) for p in params]
        inserted = insert_rows(conn, "params", _KEY_VALUE_COLUMNS, rows, "ON CONFLICT DO NOTHING RETURNING key")
        if len(inserted) == len(params):
            return
        new = {key for (key,) in inserted}
        again = [p for p in params if p.key not in new]
        marks = self.db.marks(len(again))
        sql = self.db.sql(f"SELECT key, value FROM params WHERE run_uuid = ? AND key IN ({marks})")
        existing = dict(self.db.fetch_all(conn, sql, (run_id, *(p.key for p in again))))
        changed = [p for p in again if existing[p.key] != p.value]
        if len(changed) == 1:
            p = changed[0]
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Param with key='{p.key}' was already logged with "
                f"value='{existing[p.key]}' for run ID='{run_id}'. Attempted logging new value '{p.value}'."
            )
        if changed:
            listing = [{"key": p.key, "old_value": existing[p.key], "new_value": p.value} for p in changed]
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Params were already logged='{listing}' for run ID='{run_id}'."
            )

    def log_batch(
        self, run_id: str, metrics: Sequence[MetricLike], params: list[KeyValue], tags: list[KeyValue]
    ) -> None:
        with self.db.write() as conn:
            self._check_active(conn, run_id)
            self._insert_params(conn, run_id, params)
            self._upsert_tags(conn, run_id, tags)
            write_points(self.db, conn, run_id, metrics)

    def log_points(
        self, run_id: str, keys: Sequence[str], values: Sequence[float], timestamps: Sequence[int], steps: Sequence[int]
    ) -> None:
        """Metric points as parallel columns: the bulk path of tracklet's own client."""
        with self.db.write() as conn:
            self._check_active(conn, run_id)
            write_columns(conn, run_id, keys, values, timestamps, steps)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.db.write() as conn:
            self._active_run_row(conn, run_id)
            result = conn.execute(delete(s.tags).where(s.tags.c.run_uuid == run_id, s.tags.c.key == key))
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    def get_metric_history(
        self, run_id: str, key: str, max_results: int | None, page_token: str | None
    ) -> tuple[list[Metric], str | None]:
        # An unknown run has an empty history, as in MLflow (checked side by side with its server).
        with self.db.read() as conn:
            return read_history(conn, run_id, key, max_results, page_token)

    def get_metric_history_bulk_interval(
        self, run_ids: Sequence[str], key: str, max_results: int, start_step: int | None, end_step: int | None
    ) -> list[MetricWithRunId]:
        """At most `max_results` evenly spaced points of `key` per run, the first and last included, run
        by run in the order given (MLflow's rule: unknown runs contribute nothing). See `sampling.py`."""
        with self.db.read() as conn:
            return [
                point
                for run_id in run_ids
                for point in sample_history(conn, run_id, key, max_results, start_step, end_step)
            ]

    # ---- inputs and outputs --------------------------------------------------------------------
    def log_inputs(self, run_id: str, datasets: list[DatasetInput], model_ids: list[str]) -> None:
        with self.db.write() as conn:
            self._active_run_row(conn, run_id)
            self._insert_datasets(conn, run_id, datasets)
            self._link_models(conn, run_id, [(m, 0) for m in model_ids], "input")

    def _insert_datasets(self, conn: Connection, run_id: str, datasets: list[DatasetInput]) -> None:
        if datasets:
            stmt = self.db.insert(s.dataset_inputs)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_uuid", "name", "digest"],
                    set_={"tags_json": stmt.excluded.tags_json},
                ),
                [
                    {
                        "run_uuid": run_id,
                        "name": d.dataset.name,
                        "digest": d.dataset.digest,
                        "source_type": d.dataset.source_type,
                        "source": d.dataset.source,
                        "schema": d.dataset.schema,
                        "profile": d.dataset.profile,
                        "tags_json": json.dumps([{"key": t.key, "value": t.value} for t in d.tags]),
                    }
                    for d in datasets
                ],
            )

    def log_outputs(self, run_id: str, models: list[tuple[str, int]]) -> None:
        with self.db.write() as conn:
            self._active_run_row(conn, run_id)
            self._link_models(conn, run_id, models, "output")

    def _link_models(self, conn: Connection, run_id: str, models: list[tuple[str, int]], direction: str) -> None:
        if not models:
            return
        ids = {m for m, _ in models}
        known = {
            r[0] for r in conn.execute(select(s.logged_models.c.model_id).where(s.logged_models.c.model_id.in_(ids)))
        }
        missing_ids = ids - known
        if missing_ids:
            raise ResourceDoesNotExist(f"Logged model with ID '{sorted(missing_ids)[0]}' not found.")
        stmt = self.db.insert(s.run_model_links)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["run_uuid", "model_id", "direction"], set_={"step": stmt.excluded.step}
            ),
            [{"run_uuid": run_id, "model_id": m, "direction": direction, "step": step} for m, step in models],
        )

    # ---- import (`tracklet import-mlflow`) -------------------------------------------------------
    # An imported run becomes visible in one transaction, its `runs` row written last (`import_run`):
    # its metric histories go first, page by page (`import_points`), into tables that have no foreign
    # key to `runs`. A copy interrupted before `import_run` leaves histories under a run id that has
    # no row; `discard_partial_run` removes them before the run is copied again.
    def run_exists(self, run_id: str) -> bool:
        with self.db.read() as conn:
            return self._run_stored(conn, run_id)

    def _run_stored(self, conn: Connection, run_id: str) -> bool:
        return bool(self.db.fetch_all(conn, self.db.sql("SELECT 1 FROM runs WHERE run_uuid = ?"), (run_id,)))

    def discard_partial_run(self, run_id: str) -> None:
        """Remove the metric rows of a run id that has no `runs` row (an interrupted import); a stored
        run is left alone."""
        with self.db.write() as conn:
            if self._run_stored(conn, run_id):
                return
            lm = s.latest_metrics
            histories = select(lm.c.history_id).where(lm.c.run_uuid == run_id).scalar_subquery()
            conn.execute(delete(s.metrics).where(s.metrics.c.history_id.in_(histories)))
            conn.execute(delete(s.metric_tiles).where(s.metric_tiles.c.run_uuid == run_id))
            conn.execute(delete(s.metric_tile_rebuilds).where(s.metric_tile_rebuilds.c.run_uuid == run_id))
            conn.execute(delete(lm).where(lm.c.run_uuid == run_id))

    def import_points(
        self, run_id: str, keys: Sequence[str], values: Sequence[float], timestamps: Sequence[int], steps: Sequence[int]
    ) -> None:
        """Points of a run being imported (its `runs` row comes later): the same path as logged points,
        so histories, latest metrics and chart tiles are maintained alike."""
        with self.db.write() as conn:
            write_columns(conn, run_id, keys, values, timestamps, steps)

    def import_run(
        self,
        info: RunInfo,
        experiment_id: int,
        params: list[KeyValue],
        tags: list[KeyValue],
        datasets: list[DatasetInput],
        deleted_time: int | None = None,
        model_inputs: Sequence[tuple[str, int]] = (),
        model_outputs: Sequence[tuple[str, int]] = (),
    ) -> str | None:
        """Write a run copied from elsewhere under its own id, times, status and lifecycle stage, with its
        params, tags, dataset inputs and the logged models it took or produced ((model id, step)), in one
        transaction; its artifact root is the experiment's, as for a new run. Returns that artifact URI,
        or None when a run with this id is already stored."""
        with self.db.write() as conn:
            if self._run_stored(conn, info.run_id):
                return None
            location = self._experiment_location(conn, experiment_id)
            artifact_uri = _artifact_uri(location, info.run_id)
            name = info.run_name or next((t.value for t in tags if t.key == RUN_NAME_TAG), None) or ""
            conn.execute(
                s.runs.insert().values(
                    run_uuid=info.run_id,
                    experiment_id=experiment_id,
                    name=name,
                    user_id=info.user_id or "",
                    status=info.status if info.status in RUN_STATUSES else "FINISHED",
                    start_time=info.start_time or 0,
                    end_time=info.end_time,
                    artifact_uri=artifact_uri,
                    lifecycle_stage=info.lifecycle_stage or "active",
                    deleted_time=deleted_time if info.lifecycle_stage == "deleted" else None,
                )
            )
            rows = [(info.run_id, p.key, p.value) for p in params]
            insert_rows(conn, "params", _KEY_VALUE_COLUMNS, rows, "ON CONFLICT DO NOTHING")
            tag_rows = {t.key: t.value for t in tags}
            if name:
                tag_rows.setdefault(RUN_NAME_TAG, name)
            rows = [(info.run_id, k, v) for k, v in tag_rows.items()]
            insert_rows(conn, "tags", _KEY_VALUE_COLUMNS, rows, "ON CONFLICT DO NOTHING")
            self._insert_datasets(conn, info.run_id, datasets)
            self._link_models(conn, info.run_id, list(model_inputs), "input")
            self._link_models(conn, info.run_id, list(model_outputs), "output")
        return artifact_uri

    def artifact_uri_for(self, experiment_id: int, run_id: str) -> str:
        """Where a run of this experiment keeps its artifacts (what `import_run` will set)."""
        with self.db.read() as conn:
            return _artifact_uri(self._experiment_location(conn, experiment_id), run_id)

    def _experiment_location(self, conn: Connection, experiment_id: int) -> str:
        sql = self.db.sql("SELECT artifact_location FROM experiments WHERE experiment_id = ?")
        found = self.db.run(conn, sql, (experiment_id,))
        if not found:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return str(found[0][0])

    # ---- search --------------------------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: list[int],
        filter_string: str,
        view_type: str,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
        encoded: bool = False,
    ) -> tuple[list[Run], str | None] | tuple[list[EncodedRun], str | None]:
        """A page of runs; `encoded` gives them ready for the wire (`load_runs_encoded`).

        The next page's token holds the sort values of this page's last run (`keyset`)."""
        from tracklet.store import keyset, search, search_sql

        if max_results < 1:
            raise InvalidParameterValue(f"Invalid value {max_results} for max_results: must be at least 1")
        if not experiment_ids:
            search.read_page_token(page_token)  # a bad token is still an error
            return [], None
        found = search_sql.RunSearch(experiment_ids, filter_string, view_type, order_by)
        position = keyset.decode_token(page_token, found.sort_id, found.terms)
        n_info = len(_INFO)
        with self.db.read() as conn:
            # One statement gives the page's RunInfo columns and the sort values its token is made of.
            rows = conn.execute(found.page(max_results + 1, position, _INFO)).all()
            runs: Any = self._with_children(conn, [row[:n_info] for row in rows[:max_results]], encoded)
        last = rows[max_results - 1][n_info:] if len(rows) > max_results else None
        token = None if last is None else keyset.encode_token(found.sort_id, last)
        return runs, token


def _require_active(run_id: str, stage: str) -> None:
    if stage != "active":
        raise InvalidParameterValue(f"The run {run_id} must be in the 'active' state. Current state is {stage}.")


def _artifact_uri(experiment_location: str, run_id: str) -> str:
    return f"{experiment_location.rstrip('/')}/{run_id}/artifacts"


# The first nine columns of `runs` (run_uuid … lifecycle_stage) make a RunInfo; a whole `runs` row reads the same.
_INFO = list(s.runs.columns)[:9]
_INFO_COLUMNS = ", ".join(c.name for c in _INFO)
# Shared by encoded runs that have no inputs or outputs (see `_with_children`).
_NO_INPUTS = RunInputs()
_NO_OUTPUTS = RunOutputs()


def _run_info(row: Sequence[Any]) -> RunInfo:
    run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, stage = row[:9]
    return RunInfo(
        run_id=run_uuid,
        run_uuid=run_uuid,
        experiment_id=str(experiment_id),
        run_name=name,
        user_id=user_id,
        status=status,
        start_time=start_time,
        end_time=end_time,
        artifact_uri=artifact_uri,
        lifecycle_stage=stage,
    )
