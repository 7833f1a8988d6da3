"""MLflow 3's label schemas (`mlflow.genai.label_schemas`): the questions reviewers answer about an
experiment's traces.

As in MLflow's store: a schema's experiment must exist and be active; names are unique in an experiment;
the first listing of an experiment's schemas makes its default question ("Feedback", free text), which
can be neither changed nor deleted; deleting a schema that does not exist does nothing; lists are newest
first with offset page tokens. The request's fields are checked by `server/api/label_schemas.py`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
from sqlalchemy import Connection, RowMapping, delete, select, update
from sqlalchemy.exc import IntegrityError

from tracklet.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import now_ms
from tracklet.store.database import Database
from tracklet.store.search import decode_page_token, encode_page_token

DEFAULT_SCHEMA_NAME = "Feedback"
DEFAULT_SCHEMA_INSTRUCTION = "Share any feedback on this trace."
SCHEMA_ID_PREFIX = "ls-"


class LabelSchemaInput(msgspec.Struct):
    """Which widget (`pass_fail`, `categorical`, `numeric`, `text`) and its settings, as MLflow's JSON."""

    kind: str
    config: dict[str, Any]


class LabelSchema(msgspec.Struct):
    schema_id: str
    experiment_id: int
    name: str
    type: str  # "feedback" or "expectation"
    instruction: str | None
    enable_comment: bool
    input: LabelSchemaInput
    created_by: str | None
    created_at: int
    last_updated_at: int
    is_default: bool


class LabelSchemaChanges(msgspec.Struct):
    """An update: the fields given (None: keep)."""

    name: str | None = None
    instruction: str | None = None
    enable_comment: bool | None = None
    input: LabelSchemaInput | None = None


def _schema(row: RowMapping) -> LabelSchema:
    return LabelSchema(
        schema_id=row["schema_id"],
        experiment_id=row["experiment_id"],
        name=row["name"],
        type=row["type"],
        instruction=row["instruction"],
        enable_comment=bool(row["enable_comment"]),
        input=LabelSchemaInput(row["input_type"], json.loads(row["input_config"])),
        created_by=row["created_by"],
        created_at=row["created_time"],
        last_updated_at=row["last_update_time"],
        is_default=bool(row["is_default"]),
    )


def _taken(name: str, experiment_id: int) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Label schema with name '{name}' already exists for experiment '{experiment_id}'.")


def _not_found(schema_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Label schema with id '{schema_id}' not found.")


def active_experiment(conn: Connection, experiment_id: int) -> None:
    """That the experiment exists and is active; MLflow answers a deleted one as one that does not exist."""
    table = s.experiments
    stage = conn.execute(select(table.c.lifecycle_stage).where(table.c.experiment_id == experiment_id)).scalar()
    if stage != "active":
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")


class LabelSchemaStore:
    db: Database

    def _schema_row(self, conn: Connection, schema_id: str, lock: bool = False) -> RowMapping:
        query = select(s.label_schemas).where(s.label_schemas.c.schema_id == schema_id)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        if row is None:
            raise _not_found(schema_id)
        return row

    def _name_taken(self, conn: Connection, experiment_id: int, name: str) -> bool:
        table = s.label_schemas
        query = select(table.c.schema_id).where(table.c.experiment_id == experiment_id, table.c.name == name)
        return conn.execute(query).first() is not None

    def create_label_schema(
        self,
        experiment_id: int,
        name: str,
        schema_type: str,
        schema_input: LabelSchemaInput,
        instruction: str | None,
        enable_comment: bool,
        is_default: bool = False,
    ) -> LabelSchema:
        now = now_ms()
        made = LabelSchema(
            schema_id=SCHEMA_ID_PREFIX + uuid.uuid4().hex,
            experiment_id=experiment_id,
            name=name,
            type=schema_type,
            instruction=instruction,
            enable_comment=enable_comment,
            input=schema_input,
            created_by=None,  # MLflow's server does not record who made a schema
            created_at=now,
            last_updated_at=now,
            is_default=is_default,
        )
        try:
            with self.db.write() as conn:
                active_experiment(conn, experiment_id)
                if self._name_taken(conn, experiment_id, name):
                    raise _taken(name, experiment_id)
                conn.execute(s.label_schemas.insert().values(_row(made)))
        except IntegrityError:  # a concurrent create of the same name won
            raise _taken(name, experiment_id) from None
        return made

    def get_label_schema(self, schema_id: str) -> LabelSchema:
        with self.db.read() as conn:
            return _schema(self._schema_row(conn, schema_id))

    def get_label_schema_by_name(self, experiment_id: int, name: str) -> LabelSchema:
        table = s.label_schemas
        with self.db.read() as conn:
            active_experiment(conn, experiment_id)
            query = select(table).where(table.c.experiment_id == experiment_id, table.c.name == name)
            row = conn.execute(query).mappings().first()
        if row is None:
            raise ResourceDoesNotExist(f"Label schema with name '{name}' not found for experiment '{experiment_id}'.")
        return _schema(row)

    def list_label_schemas(
        self, experiment_id: int, max_results: int, page_token: str | None
    ) -> tuple[list[LabelSchema], str | None]:
        """Newest first (the default question among them, made on the first listing)."""
        offset = decode_page_token(page_token)
        with self.db.read() as conn:
            active_experiment(conn, experiment_id)
            has_default = self._default_schema_id(conn, experiment_id) is not None
        if not has_default:
            self._ensure_default_schema(experiment_id)
        table = s.label_schemas
        query = (
            select(table)
            .where(table.c.experiment_id == experiment_id)
            .order_by(table.c.created_time.desc(), table.c.schema_id)
            .offset(offset)
            .limit(max_results + 1)
        )
        with self.db.read() as conn:
            rows = list(conn.execute(query).mappings())
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return [_schema(row) for row in rows[:max_results]], token

    def _default_schema_id(self, conn: Connection, experiment_id: int) -> str | None:
        table = s.label_schemas
        query = select(table.c.schema_id).where(table.c.experiment_id == experiment_id, table.c.is_default)
        return conn.execute(query.limit(1)).scalar()

    def _ensure_default_schema(self, experiment_id: int) -> None:
        text_input = LabelSchemaInput("text", {})
        try:
            self.create_label_schema(
                experiment_id, DEFAULT_SCHEMA_NAME, "feedback", text_input, DEFAULT_SCHEMA_INSTRUCTION, False, True
            )
        except ResourceAlreadyExists:
            pass  # made by a concurrent listing (or an older schema holds the name, as MLflow allows)

    def update_label_schema(self, schema_id: str, changes: LabelSchemaChanges) -> LabelSchema:
        """A schema's name, instruction, comment switch or widget settings (not its type or widget kind)."""
        table = s.label_schemas
        with self.db.write() as conn:
            row = self._schema_row(conn, schema_id, lock=True)
            current = _schema(row)
            if current.is_default:
                raise InvalidParameterValue("The experiment's default question cannot be edited.")
            if changes.input is not None:
                _check_same_widget(current.input, changes.input)
            values: dict[str, Any] = {"last_update_time": now_ms()}
            if changes.name is not None and changes.name != current.name:
                if self._name_taken(conn, current.experiment_id, changes.name):
                    raise _taken(changes.name, current.experiment_id)
                values["name"] = changes.name
            if changes.instruction is not None:
                values["instruction"] = changes.instruction
            if changes.enable_comment is not None:
                values["enable_comment"] = changes.enable_comment
            if changes.input is not None:
                values["input_config"] = json.dumps(changes.input.config)
            try:
                conn.execute(update(table).where(table.c.schema_id == schema_id).values(values))
            except IntegrityError:  # a concurrent create or rename took the name
                raise _taken(changes.name or "", current.experiment_id) from None
            return _schema(self._schema_row(conn, schema_id))

    def delete_label_schema(self, schema_id: str) -> None:
        """Delete a schema (one that does not exist: nothing happens, as in MLflow). Review queues keep
        naming it, and assessments made with it keep their values."""
        table = s.label_schemas
        with self.db.write() as conn:
            query = select(table.c.is_default).where(table.c.schema_id == schema_id)
            is_default = conn.execute(query).scalar()
            if is_default:
                raise InvalidParameterValue("The experiment's default question cannot be deleted.")
            conn.execute(delete(table).where(table.c.schema_id == schema_id))


def _row(schema: LabelSchema) -> dict[str, Any]:
    return {
        "schema_id": schema.schema_id,
        "experiment_id": schema.experiment_id,
        "name": schema.name,
        "type": schema.type,
        "instruction": schema.instruction,
        "enable_comment": schema.enable_comment,
        "input_type": schema.input.kind,
        "input_config": json.dumps(schema.input.config),
        "created_by": schema.created_by,
        "created_time": schema.created_at,
        "last_update_time": schema.last_updated_at,
        "is_default": schema.is_default,
    }


_KIND_CLASS = {
    "pass_fail": "InputPassFail",
    "categorical": "InputCategorical",
    "numeric": "InputNumeric",
    "text": "InputText",
}


def _check_same_widget(current: LabelSchemaInput, new: LabelSchemaInput) -> None:
    """The widget's kind, and whether a choice takes several options, are fixed when the schema is made:
    answers already given would no longer fit."""
    if new.kind != current.kind:
        raise InvalidParameterValue(
            "A label schema's input type cannot be changed after creation "
            f"(existing: {_KIND_CLASS[current.kind]}, got: {_KIND_CLASS[new.kind]})."
        )
    if new.kind == "categorical" and bool(new.config.get("multi_select")) != bool(current.config.get("multi_select")):
        raise InvalidParameterValue("`InputCategorical.multi_select` cannot be changed after creation.")
