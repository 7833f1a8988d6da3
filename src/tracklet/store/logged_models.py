"""Logged models (MLflow 3): first-class rows with params, tags and metrics, linked to runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, delete, select, update

from tracklet.entities import KeyValue, LoggedModel, LoggedModelData, LoggedModelInfo, ModelMetric
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import group_key_values, now_ms, read_page, time_ordered_id
from tracklet.store.database import Database
from tracklet.store.metrics import stored_value
from tracklet.validation import decode_metric_value

MODEL_STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")


class LoggedModelStore:
    db: Database

    def _model_row(self, conn: Connection, model_id: str):  # type: ignore[no-untyped-def]
        row = conn.execute(select(s.logged_models).where(s.logged_models.c.model_id == model_id)).first()
        if row is None or row.lifecycle_stage != "active":
            raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")
        return row

    def load_models(self, conn: Connection, model_ids: Sequence[str]) -> list[LoggedModel]:
        if not model_ids:
            return []
        ids = list(model_ids)
        rows = {r.model_id: r for r in conn.execute(select(s.logged_models).where(s.logged_models.c.model_id.in_(ids)))}
        tags = group_key_values(
            conn.execute(select(s.logged_model_tags).where(s.logged_model_tags.c.model_id.in_(ids))), owner="model_id"
        )
        params = group_key_values(
            conn.execute(select(s.logged_model_params).where(s.logged_model_params.c.model_id.in_(ids))),
            owner="model_id",
        )
        metrics: dict[str, list[ModelMetric]] = defaultdict(list)
        lmm = s.logged_model_metrics
        for r in conn.execute(
            select(lmm).where(lmm.c.model_id.in_(ids)).order_by(lmm.c.key, lmm.c.step, lmm.c.timestamp)
        ):
            metrics[r.model_id].append(
                ModelMetric(
                    key=r.key,
                    value=decode_metric_value(r.value, r.is_nan),
                    timestamp=r.timestamp,
                    step=r.step,
                    model_id=r.model_id,
                    run_id=r.run_id,
                    dataset_name=r.dataset_name or None,
                    dataset_digest=r.dataset_digest or None,
                )
            )
        return [
            LoggedModel(
                info=LoggedModelInfo(
                    model_id=r.model_id,
                    experiment_id=str(r.experiment_id),
                    name=r.name,
                    artifact_uri=r.artifact_location,
                    status=r.status,
                    model_type=r.model_type,
                    source_run_id=r.source_run_id,
                    creation_timestamp_ms=r.creation_timestamp_ms,
                    last_updated_timestamp_ms=r.last_updated_timestamp_ms,
                    tags=tags.get(r.model_id, []),
                ),
                data=LoggedModelData(params=params.get(r.model_id, []), metrics=metrics.get(r.model_id, [])),
            )
            for model_id in ids
            if (r := rows.get(model_id)) is not None  # type: ignore[assignment]
        ]

    def create_logged_model(
        self,
        experiment_id: int,
        name: str,
        model_type: str,
        source_run_id: str | None,
        params: list[KeyValue],
        tags: list[KeyValue],
    ) -> LoggedModel:
        model_id = "m-" + time_ordered_id()
        t = now_ms()
        with self.db.write() as conn:
            exp = conn.execute(
                select(s.experiments.c.lifecycle_stage, s.experiments.c.artifact_location).where(
                    s.experiments.c.experiment_id == experiment_id
                )
            ).first()
            if exp is None:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            if exp.lifecycle_stage != "active":
                raise InvalidParameterValue(f"The experiment {experiment_id} must be in the 'active' state.")
            if source_run_id:
                run = conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == source_run_id)).first()
                if run is None:
                    raise ResourceDoesNotExist(f"Run with id={source_run_id} not found")
            conn.execute(
                s.logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=experiment_id,
                    name=name,
                    artifact_location=_model_location(exp.artifact_location, model_id),
                    status="LOGGED_MODEL_PENDING",
                    model_type=model_type,
                    source_run_id=source_run_id,
                    creation_timestamp_ms=t,
                    last_updated_timestamp_ms=t,
                    lifecycle_stage="active",
                )
            )
            self._write_key_values(conn, s.logged_model_params, model_id, params)
            self._write_key_values(conn, s.logged_model_tags, model_id, tags)
            return self.load_models(conn, [model_id])[0]

    # -- import (`tracklet import-mlflow`) -----------------------------------------------------

    def logged_model_exists(self, model_id: str) -> bool:
        with self.db.read() as conn:
            query = select(s.logged_models.c.model_id).where(s.logged_models.c.model_id == model_id)
            return conn.execute(query).first() is not None

    def logged_model_location(self, experiment_id: int, model_id: str) -> str:
        """Where a logged model of this experiment keeps its artifacts (what `import_logged_model` sets)."""
        with self.db.read() as conn:
            query = select(s.experiments.c.artifact_location).where(s.experiments.c.experiment_id == experiment_id)
            location = conn.execute(query).scalar()
        if location is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return _model_location(location, model_id)

    def import_logged_model(self, model: LoggedModel, experiment_id: int) -> bool:
        """A logged model copied from elsewhere under its own id, status and times, with its params, tags
        and metrics, in one transaction; its artifact location is the experiment's, as for a new one.
        False (nothing written) when a model with this id is stored already."""
        info = model.info
        with self.db.write() as conn:
            if conn.execute(
                select(s.logged_models.c.model_id).where(s.logged_models.c.model_id == info.model_id)
            ).first():
                return False
            location = conn.execute(
                select(s.experiments.c.artifact_location).where(s.experiments.c.experiment_id == experiment_id)
            ).scalar()
            if location is None:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            conn.execute(
                s.logged_models.insert().values(
                    model_id=info.model_id,
                    experiment_id=experiment_id,
                    name=info.name,
                    artifact_location=_model_location(location, info.model_id),
                    status=info.status,
                    model_type=info.model_type,
                    source_run_id=info.source_run_id,
                    creation_timestamp_ms=info.creation_timestamp_ms,
                    last_updated_timestamp_ms=info.last_updated_timestamp_ms,
                    lifecycle_stage="active",
                )
            )
            self._write_key_values(conn, s.logged_model_params, info.model_id, model.data.params)
            self._write_key_values(conn, s.logged_model_tags, info.model_id, info.tags)
            rows = {}
            for m in model.data.metrics:
                value, is_nan = stored_value(float(m.value))
                row = dict(model_id=info.model_id, key=m.key, timestamp=m.timestamp, step=m.step, value=value,
                           is_nan=is_nan, run_id=m.run_id or "", dataset_name=m.dataset_name or "",
                           dataset_digest=m.dataset_digest or "")  # fmt: skip
                rows[
                    tuple(row[k] for k in ("key", "timestamp", "step", "run_id", "dataset_name", "dataset_digest"))
                ] = row
            if rows:
                conn.execute(self.db.insert(s.logged_model_metrics).on_conflict_do_nothing(), list(rows.values()))
        return True

    def _write_key_values(self, conn: Connection, table, model_id: str, items: list[KeyValue]) -> None:  # type: ignore[no-untyped-def]
        if not items:
            return
        last = {kv.key: kv.value for kv in items}
        stmt = self.db.insert(table)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["model_id", "key"], set_={"value": stmt.excluded.value}),
            [{"model_id": model_id, "key": k, "value": v} for k, v in last.items()],
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self.db.read() as conn:
            self._model_row(conn, model_id)
            return self.load_models(conn, [model_id])[0]

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        if status not in MODEL_STATUSES:
            raise InvalidParameterValue(f"Invalid model status '{status}'. Expected one of {list(MODEL_STATUSES)}.")
        with self.db.write() as conn:
            self._model_row(conn, model_id)
            conn.execute(
                update(s.logged_models)
                .where(s.logged_models.c.model_id == model_id)
                .values(status=status, last_updated_timestamp_ms=now_ms())
            )
            return self.load_models(conn, [model_id])[0]

    def set_logged_model_tags(self, model_id: str, tags: list[KeyValue]) -> None:
        with self.db.write() as conn:
            self._model_row(conn, model_id)
            self._write_key_values(conn, s.logged_model_tags, model_id, tags)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self.db.write() as conn:
            self._model_row(conn, model_id)
            result = conn.execute(
                delete(s.logged_model_tags).where(
                    s.logged_model_tags.c.model_id == model_id, s.logged_model_tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with key '{key}' on logged model '{model_id}'.")

    def log_logged_model_params(self, model_id: str, params: list[KeyValue]) -> None:
        with self.db.write() as conn:
            self._model_row(conn, model_id)
            self._write_key_values(conn, s.logged_model_params, model_id, params)

    def delete_logged_model(self, model_id: str) -> None:
        with self.db.write() as conn:
            self._model_row(conn, model_id)
            conn.execute(
                update(s.logged_models)
                .where(s.logged_models.c.model_id == model_id)
                .values(lifecycle_stage="deleted", last_updated_timestamp_ms=now_ms())
            )

    def search_logged_models(
        self,
        experiment_ids: list[int],
        filter_string: str,
        order_by: list[dict] | None,
        max_results: int,
        page_token: str | None,
    ) -> tuple[list[LoggedModel], str | None]:
        from tracklet.store import search_sql

        return read_page(
            self.db,
            lambda limit, offset: search_sql.logged_model_search_select(
                experiment_ids, filter_string, order_by, limit, offset
            ),
            self.load_models,
            max_results,
            page_token,
        )


def _model_location(experiment_location: str, model_id: str) -> str:
    return f"{experiment_location.rstrip('/')}/models/{model_id}/artifacts"
