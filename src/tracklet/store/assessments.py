"""Assessments of traces (MLflow 3): feedback (a judge's or a person's verdict), expectations (ground
truth) and issue references. An assessment that overrides another makes that one invalid until the
overriding one is deleted, as in MLflow."""

from __future__ import annotations

import uuid
from collections import defaultdict, namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, select, update

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import LOAD_CHUNK, chunks, now_ms
from tracklet.store.database import Database
from tracklet.timestamps import format_timestamp, parse_timestamp

ASSESSMENT_KINDS = ("feedback", "expectation", "issue")
# What the columns hold; everything else of an assessment is its `body`.
_COLUMN_FIELDS = frozenset(
    {"assessment_id", "trace_id", "assessment_name", "create_time", "last_update_time", "valid", "overrides"}
)

Assessment = dict[str, Any]  # MLflow's Assessment message as JSON, as it goes on the wire
_COLUMNS = ", ".join(c.name for c in s.trace_assessments.columns)
_Row = namedtuple("_Row", [c.name for c in s.trace_assessments.columns])  # type: ignore[misc]


@dataclass(frozen=True)
class NewAssessment:
    trace_id: str
    name: str
    kind: str  # one of ASSESSMENT_KINDS: the field of `fields` that holds the value
    fields: dict[str, Any]  # the assessment as the client sent it
    create_time: int | None = None  # ms; now if not given
    overrides: str | None = None


@dataclass(frozen=True)
class AssessmentChanges:
    """The fields an update mask names; None leaves a field as it is."""

    name: str | None = None
    value: tuple[str, Any] | None = None  # (kind, that field's JSON)
    rationale: str | None = None
    metadata: dict[str, str] | None = None


def _wire(row: Any) -> Assessment:
    assessment: Assessment = {
        "assessment_id": row.assessment_id,
        "assessment_name": row.name,
        "trace_id": row.trace_id,
        **msgspec.json.decode(row.body),
        "create_time": format_timestamp(row.create_time),
        "last_update_time": format_timestamp(row.last_update_time),
        "valid": bool(row.valid),  # SQLite's driver answers 0 or 1
    }
    if row.overrides:
        assessment["overrides"] = row.overrides
    return assessment


def _searchable(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The `value` and `number` columns of an assessment of this kind."""
    holder = fields.get(kind) or {}
    value = holder.get("value")
    if value is None and isinstance(holder.get("serialized_value"), dict):  # an expectation sent as JSON text
        value = holder["serialized_value"].get("value")
    if value is None:
        return {"value": None, "number": None}
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return {"value": text, "number": number}


def _row(
    assessment_id: str,
    trace_id: str,
    name: str,
    kind: str,
    fields: dict[str, Any],
    created: int,
    updated: int,
    valid: bool,
    overrides: str | None,
) -> dict[str, Any]:
    """A `trace_assessments` row: the columns searches use, and the rest of the assessment as its body."""
    return {
        "assessment_id": assessment_id,
        "trace_id": trace_id,
        "name": name,
        "kind": kind,
        "valid": valid,
        "overrides": overrides or None,
        "create_time": created,
        "last_update_time": updated,
        "body": _body(fields),
        **_searchable(kind, fields),
    }


def _body(fields: dict[str, Any]) -> str:
    return msgspec.json.encode({k: v for k, v in fields.items() if k not in _COLUMN_FIELDS}).decode()


class AssessmentStore:
    db: Database

    def load_assessments(self, conn: Connection, trace_ids: Sequence[str]) -> dict[str, list[Assessment]]:
        """The assessments of these traces, oldest first (driver SQL: read with every trace's info)."""
        grouped: dict[str, list[Assessment]] = defaultdict(list)
        for part in chunks(list(trace_ids), LOAD_CHUNK):
            sql = (
                f"SELECT {_COLUMNS} FROM trace_assessments WHERE trace_id IN ({self.db.marks(len(part))}) "
                "ORDER BY create_time, assessment_id"
            )
            for row in self.db.fetch_all(conn, sql, tuple(part)):
                assessment = _wire(_Row(*row))
                grouped[assessment["trace_id"]].append(assessment)
        return grouped

    def _check_trace(self, conn: Connection, trace_id: str) -> None:
        """That the trace exists (here rather than in `TraceStore`, which builds on this class)."""
        if conn.execute(select(s.traces.c.trace_id).where(s.traces.c.trace_id == trace_id)).first() is None:
            raise ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")

    def _assessment_row(self, conn: Connection, trace_id: str, assessment_id: str) -> Any:
        self._check_trace(conn, trace_id)
        table = s.trace_assessments
        row = conn.execute(
            select(table).where(table.c.assessment_id == assessment_id, table.c.trace_id == trace_id)
        ).first()
        if row is None:
            raise ResourceDoesNotExist(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'")
        return row

    def create_assessment(self, new: NewAssessment) -> Assessment:
        if new.kind not in ASSESSMENT_KINDS:
            raise InvalidParameterValue(f"Invalid assessment kind '{new.kind}'. Expected one of {ASSESSMENT_KINDS}.")
        table = s.trace_assessments
        created = now_ms() if new.create_time is None else new.create_time
        assessment_id = "a-" + uuid.uuid4().hex
        with self.db.write() as conn:
            self._check_trace(conn, new.trace_id)
            if new.overrides:
                self._assessment_row(conn, new.trace_id, new.overrides)
                conn.execute(update(table).where(table.c.assessment_id == new.overrides).values(valid=False))
            conn.execute(
                table.insert().values(
                    _row(
                        assessment_id,
                        new.trace_id,
                        new.name,
                        new.kind,
                        new.fields,
                        created,
                        created,
                        True,
                        new.overrides,
                    )
                )
            )
            return _wire(self._assessment_row(conn, new.trace_id, assessment_id))

    def _insert_copied_assessments(self, conn: Connection, trace_id: str, assessments: Sequence[Assessment]) -> None:
        """Assessments copied from another server (MLflow's JSON) under their own ids, times and validity."""
        for a in assessments:
            kind = next((k for k in ASSESSMENT_KINDS if a.get(k) is not None), "feedback")
            created = parse_timestamp(a["create_time"], "create_time") if a.get("create_time") else now_ms()
            updated = (
                parse_timestamp(a["last_update_time"], "last_update_time") if a.get("last_update_time") else created
            )
            valid = a.get("valid", True) is not False
            name = a.get("assessment_name", "")
            row = _row(a["assessment_id"], trace_id, name, kind, a, created, updated, valid, a.get("overrides"))
            conn.execute(s.trace_assessments.insert().values(row))

    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment:
        with self.db.read() as conn:
            return _wire(self._assessment_row(conn, trace_id, assessment_id))

    def update_assessment(self, trace_id: str, assessment_id: str, changes: AssessmentChanges) -> Assessment:
        table = s.trace_assessments
        with self.db.write() as conn:
            row = self._assessment_row(conn, trace_id, assessment_id)
            body = msgspec.json.decode(row.body)
            if changes.value is not None:
                kind, value = changes.value
                if kind != row.kind:
                    raise InvalidParameterValue(f"Cannot update {kind} value on a {row.kind.capitalize()} assessment.")
                body[kind] = value
            if changes.rationale is not None:
                body["rationale"] = changes.rationale
            if changes.metadata is not None:
                body["metadata"] = {**body.get("metadata", {}), **changes.metadata}
            conn.execute(
                update(table)
                .where(table.c.assessment_id == assessment_id)
                .values(
                    name=row.name if changes.name is None else changes.name,
                    body=_body(body),
                    last_update_time=max(now_ms(), row.create_time),
                    **_searchable(row.kind, body),
                )
            )
            return _wire(self._assessment_row(conn, trace_id, assessment_id))

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        table = s.trace_assessments
        with self.db.write() as conn:
            row = self._assessment_row(conn, trace_id, assessment_id)
            if row.overrides:  # the overridden assessment counts again
                conn.execute(update(table).where(table.c.assessment_id == row.overrides).values(valid=True))
            conn.execute(delete(table).where(table.c.assessment_id == assessment_id))
