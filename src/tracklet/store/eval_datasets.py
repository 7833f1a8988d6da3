"""MLflow 3's evaluation datasets: records of inputs, expectations and outputs to evaluate a GenAI app on
(`mlflow.genai.datasets`), their tags and their links to experiments.

MLflow's rules, as its SQL store keeps them:
- A record is identified within its dataset by its inputs (the SHA-256 of their JSON with sorted keys).
  Merging a record whose inputs are already there updates that record: `outputs` replaced when the new
  record has the key (null clears them), `expectations` and `tags` updated key by key; its source and
  creation stay. A new record without `outputs` gets `{}`.
- Each upsert gives the dataset a new `digest` (of its name and the time), a `schema` grown with the
  fields (and JSON types) of the new records, a `profile` (`{"num_records": n}`), and `last_updated_by`
  from the `mlflow.user` tag of its records (none: cleared).
- Records read in (created_time, dataset_record_id) order with keyset page tokens; the ids of one upsert
  grow in the order of its records, so a dataset reads back in the order it was written.
- Deleting a dataset deletes its tags, records and experiment links; deleting one that does not exist,
  or a tag that does not exist, is not an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, func, select, update

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import LOAD_CHUNK, chunks, insert_rows, now_ms, read_page, time_ordered_id
from tracklet.store.database import Database
from tracklet.store.search_sql import evaluation_dataset_search_select
from tracklet.store.workspaces import DEFAULT_WORKSPACE, current_workspace

USER_TAG = "mlflow.user"
SOURCE_TYPES = ("UNSPECIFIED", "TRACE", "HUMAN", "DOCUMENT", "CODE")
_RECORD_COLUMNS = (
    "dataset_record_id",
    "dataset_id",
    "input_hash",
    "inputs",
    "outputs",
    "expectations",
    "tags",
    "source",
    "source_id",
    "source_type",
    "created_time",
    "last_update_time",
    "created_by",
    "last_updated_by",
)
# A record that is there already keeps its id, inputs, source and creation; the rest is the merge's.
_MERGE = (
    "ON CONFLICT (dataset_id, input_hash) DO UPDATE SET outputs = excluded.outputs, "
    "expectations = excluded.expectations, tags = excluded.tags, "
    "last_update_time = excluded.last_update_time, last_updated_by = excluded.last_updated_by"
)


class EvaluationDataset(msgspec.Struct, omit_defaults=True):
    """MLflow's `Dataset` message of `datasets.proto`, as it goes on the wire (`tags` and `schema` are
    JSON text; `experiment_ids` only in the answer to a create)."""

    dataset_id: str
    name: str
    tags: str
    digest: str
    created_time: int
    last_update_time: int
    schema: str | None = None
    profile: str | None = None
    created_by: str | None = None
    last_updated_by: str | None = None
    experiment_ids: list[str] = []


@dataclass(frozen=True)
class NewRecord:
    """One record of an upsert, checked by the API layer: JSON values as the client sent them."""

    inputs: dict[str, Any]
    has_outputs: bool
    outputs: Any
    expectations: dict[str, Any] | None
    tags: dict[str, Any] | None
    source: dict[str, Any] | None  # {"source_type": one of SOURCE_TYPES, "source_data": {...}}


def _json(value: Any) -> str:
    # Python's JSON, as MLflow writes it: the same text hashes the same, and NaN (pandas' missing
    # value) stays NaN for the client's `json.loads` instead of failing.
    return json.dumps(value)


def input_hash(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _digest(name: str, when: int) -> str:
    return hashlib.sha256(f"{name}:{when}".encode()).hexdigest()[:8]


def _record_ids(n: int) -> list[str]:
    """`dr-` ids for n new records that sort in the order given (all share one created_time)."""
    start = int(time_ordered_id(), 16)
    return [f"dr-{(start + i) % 2**128:032x}" for i in range(n)]


def _field_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def _grown_schema(stored: str | None, records: Sequence[NewRecord]) -> str | None:
    """The dataset's schema with the fields of these records added (those known keep their type)."""
    if not records and not stored:
        return None
    schema: dict[str, Any] = (
        json.loads(stored) if stored else {"inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0"}
    )
    for record in records:
        for key, value in record.inputs.items():
            schema["inputs"].setdefault(key, _field_type(value))
        outputs = record.outputs if record.has_outputs else None
        if isinstance(outputs, dict):
            if isinstance(schema["outputs"], dict):  # (MLflow fails here when it holds a scalar's type)
                for key, value in outputs.items():
                    schema["outputs"].setdefault(key, _field_type(value))
        elif outputs is not None and not schema["outputs"]:
            schema["outputs"] = _field_type(outputs)
        for key, value in (record.expectations or {}).items():
            schema["expectations"].setdefault(key, _field_type(value))
    return json.dumps(schema)


@dataclass
class _Row:
    """A record being written: a new one, or one there already (`existed`) with the merge applied."""

    values: dict[str, Any]
    existed: bool


def _merge(row: _Row, record: NewRecord, now: int) -> None:
    values = row.values
    if record.has_outputs:
        values["outputs"] = None if record.outputs is None else _json(record.outputs)
    if record.expectations:
        merged = json.loads(values["expectations"]) if values["expectations"] else {}
        values["expectations"] = _json({**merged, **record.expectations})
    if record.tags:
        merged = json.loads(values["tags"]) if values["tags"] else {}
        values["tags"] = _json({**merged, **record.tags})
        if USER_TAG in record.tags:
            values["last_updated_by"] = _text(record.tags[USER_TAG])
    values["last_update_time"] = now


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _new_row(dataset_id: str, hashed: str, record: NewRecord, now: int) -> dict[str, Any]:
    source = record.source
    source_id = None
    if source is not None:
        data = source.get("source_data") or {}
        source_id = data.get("trace_id" if source["source_type"] == "TRACE" else "source_id")
    user = _text(record.tags[USER_TAG]) if record.tags and USER_TAG in record.tags else None
    outputs = record.outputs if record.has_outputs else {}
    return {
        "dataset_record_id": "",  # given once the batch's new records are known
        "dataset_id": dataset_id,
        "input_hash": hashed,
        "inputs": _json(record.inputs),
        "outputs": None if outputs is None else _json(outputs),
        "expectations": None if record.expectations is None else _json(record.expectations),
        "tags": None if record.tags is None else _json(record.tags),
        "source": None if source is None else _json(source),
        "source_id": None if source_id is None else _text(source_id),
        "source_type": None if source is None else source["source_type"],
        "created_time": now,
        "last_update_time": now,
        "created_by": user,
        "last_updated_by": user,
    }


# What a page of records reads, in the order `_wire_record` unpacks it.
_WIRE_COLUMNS = (
    "dataset_record_id",
    "dataset_id",
    "inputs",
    "tags",
    "created_time",
    "last_update_time",
    "outputs",
    "expectations",
    "source",
    "source_id",
    "source_type",
    "created_by",
    "last_updated_by",
)
_OPTIONAL_JSON = ("outputs", "expectations", "source")
_OPTIONAL_TEXT = ("source_id", "source_type", "created_by", "last_updated_by")


def _wire_record(row: Sequence[Any]) -> dict[str, Any]:
    """A record as MLflow's `DatasetRecord.to_dict()` gives it; the JSON columns go out as stored. Read by
    position: a page is a thousand of these, and a row's attribute lookup costs more than the rest."""
    record_id, dataset_id, inputs, tags, created, updated, *optional = row
    record: dict[str, Any] = {
        "dataset_record_id": record_id,
        "dataset_id": dataset_id,
        "inputs": msgspec.Raw(inputs.encode()),
        "tags": msgspec.Raw(tags.encode()) if tags else {},
        "created_time": created,
        "last_update_time": updated,
    }
    for column, value in zip(_OPTIONAL_JSON, optional[:3], strict=True):
        if value is not None:
            record[column] = msgspec.Raw(value.encode())
    for column, value in zip(_OPTIONAL_TEXT, optional[3:], strict=True):
        if value is not None:
            record[column] = value
    return record


def _copied_row(dataset_id: str, record: Mapping[str, Any]) -> tuple[Any, ...]:
    """A record as another server sent it (`DatasetRecord.to_dict()`), as a row of `_RECORD_COLUMNS`: its
    JSON fields written as MLflow writes them, absent ones NULL (read back as MLflow gives them)."""

    def json_or_none(key: str) -> str | None:
        return _json(record[key]) if record.get(key) is not None else None

    inputs = record.get("inputs") or {}
    values = {
        "dataset_record_id": record["dataset_record_id"],
        "dataset_id": dataset_id,
        "input_hash": input_hash(inputs),
        "inputs": _json(inputs),
        "outputs": json_or_none("outputs"),
        "expectations": json_or_none("expectations"),
        "tags": json_or_none("tags") if record.get("tags") else None,
        "source": json_or_none("source"),
        "source_id": record.get("source_id"),
        "source_type": record.get("source_type"),
        "created_time": int(record.get("created_time") or 0),
        "last_update_time": int(record.get("last_update_time") or record.get("created_time") or 0),
        "created_by": record.get("created_by"),
        "last_updated_by": record.get("last_updated_by"),
    }
    return tuple(values[c] for c in _RECORD_COLUMNS)


def _records_token(created_time: int, record_id: str) -> str:
    return base64.b64encode(f"{created_time}:{record_id}".encode()).decode()


def _read_records_token(token: str) -> tuple[int, str] | int:
    """(created_time, record id) after which the next page starts; a plain number is an offset (MLflow
    accepts both)."""
    if token.isdigit():
        return int(token)
    try:
        when, _, record_id = base64.b64decode(token.encode(), validate=True).decode().partition(":")
        if record_id and when.isdigit():
            return int(when), record_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidParameterValue(f"Invalid page token '{token}'. It could not be decoded.")


class EvalDatasetStore:
    db: Database

    # -- datasets -----------------------------------------------------------------------------------

    def _datasets(self, conn: Connection, ids: list[str]) -> list[EvaluationDataset]:
        """These datasets with their tags, in the order of `ids` (those that exist)."""
        table, tags = s.evaluation_datasets, s.evaluation_dataset_tags
        rows: dict[str, Any] = {}
        tags_of: dict[str, dict[str, str]] = {i: {} for i in ids}
        for part in chunks(ids, LOAD_CHUNK):
            rows.update({r.dataset_id: r for r in conn.execute(select(table).where(table.c.dataset_id.in_(part)))})
            query = select(tags).where(tags.c.dataset_id.in_(part)).order_by(tags.c.dataset_id, tags.c.key)
            for tag in conn.execute(query):
                tags_of[tag.dataset_id][tag.key] = tag.value
        return [
            EvaluationDataset(
                dataset_id=r.dataset_id,
                name=r.name,
                tags=json.dumps(tags_of[r.dataset_id]),
                digest=r.digest,
                created_time=r.created_time,
                last_update_time=r.last_update_time,
                schema=r.schema,
                profile=r.profile,
                created_by=r.created_by,
                last_updated_by=r.last_updated_by,
            )
            for r in (rows.get(i) for i in ids)
            if r is not None
        ]

    def _dataset(self, conn: Connection, dataset_id: str, missing: str) -> EvaluationDataset:
        found = self._datasets(conn, [dataset_id])
        if not found:
            raise ResourceDoesNotExist(missing.format(dataset_id))
        return found[0]

    def _exists(self, conn: Connection, dataset_id: str) -> bool:
        table = s.evaluation_datasets
        return conn.execute(select(table.c.dataset_id).where(table.c.dataset_id == dataset_id)).first() is not None

    def _check_experiments(self, conn: Connection, experiment_ids: Sequence[str]) -> list[int]:
        """The experiments as ids, each of which must exist (deleted ones too, as in MLflow)."""
        wanted = {e: int(e) if e.isdigit() and len(e) < 19 else None for e in experiment_ids}
        numbers = [n for n in wanted.values() if n is not None]
        table = s.experiments
        found = {
            row[0] for row in conn.execute(select(table.c.experiment_id).where(table.c.experiment_id.in_(numbers)))
        }
        for text, number in wanted.items():
            if number not in found:
                raise ResourceDoesNotExist(f"No Experiment with id={text}")
        return sorted(set(numbers))

    def create_dataset(self, name: str, tags: Mapping[str, str], experiment_ids: Sequence[str]) -> EvaluationDataset:
        now = now_ms()
        dataset_id = "d-" + time_ordered_id()
        user = tags.get(USER_TAG)
        with self.db.write() as conn:
            linked = self._check_experiments(conn, experiment_ids)
            conn.execute(
                s.evaluation_datasets.insert().values(
                    dataset_id=dataset_id,
                    name=name,
                    workspace=current_workspace() or DEFAULT_WORKSPACE,
                    digest=_digest(name, now),
                    created_time=now,
                    last_update_time=now,
                    created_by=user,
                    last_updated_by=user,
                )
            )
            insert_rows(conn, "evaluation_dataset_tags", ("dataset_id", "key", "value"), _tag_rows(dataset_id, tags))
            insert_rows(
                conn,
                "evaluation_dataset_experiments",
                ("dataset_id", "experiment_id"),
                [(dataset_id, e) for e in linked],
            )
            dataset = self._dataset(conn, dataset_id, "")
        dataset.experiment_ids = [str(e) for e in linked]
        return dataset

    def get_dataset(self, dataset_id: str) -> EvaluationDataset:
        with self.db.read() as conn:
            return self._dataset(conn, dataset_id, "Evaluation dataset with id '{}' not found")

    def delete_dataset(self, dataset_id: str) -> None:
        with self.db.write() as conn:
            for table in (
                s.evaluation_dataset_tags,
                s.evaluation_dataset_records,
                s.evaluation_dataset_experiments,
                s.evaluation_datasets,
            ):
                conn.execute(delete(table).where(table.c.dataset_id == dataset_id))

    def search_datasets(
        self,
        experiment_ids: Sequence[int],
        filter_string: str | None,
        max_results: int,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> tuple[list[EvaluationDataset], str | None]:
        def select_ids(limit: int, offset: int) -> Any:
            return evaluation_dataset_search_select(experiment_ids, filter_string, order_by, limit, offset)

        return read_page(self.db, select_ids, self._datasets, max_results, page_token)

    # -- tags ---------------------------------------------------------------------------------------

    def set_dataset_tags(self, dataset_id: str, tags: Mapping[str, str]) -> None:
        with self.db.write() as conn:
            if not self._exists(conn, dataset_id):
                raise ResourceDoesNotExist(f"Could not find evaluation dataset with ID {dataset_id}")
            _set_tags(conn, dataset_id, tags)

    def delete_dataset_tag(self, dataset_id: str, key: str) -> None:
        tags = s.evaluation_dataset_tags
        with self.db.write() as conn:
            conn.execute(delete(tags).where(tags.c.dataset_id == dataset_id, tags.c.key == key))

    # -- experiments --------------------------------------------------------------------------------

    def dataset_experiment_ids(self, dataset_id: str) -> list[str]:
        links = s.evaluation_dataset_experiments
        with self.db.read() as conn:
            query = select(links.c.experiment_id).where(links.c.dataset_id == dataset_id)
            return [str(row[0]) for row in conn.execute(query.order_by(links.c.experiment_id))]

    def add_dataset_to_experiments(self, dataset_id: str, experiment_ids: Sequence[str]) -> EvaluationDataset:
        table = s.evaluation_datasets
        with self.db.write() as conn:
            if not self._exists(conn, dataset_id):
                raise ResourceDoesNotExist(f"Dataset '{dataset_id}' not found")
            linked = self._check_experiments(conn, experiment_ids)
            insert_rows(
                conn,
                "evaluation_dataset_experiments",
                ("dataset_id", "experiment_id"),
                [(dataset_id, e) for e in linked],
                "ON CONFLICT DO NOTHING",
            )
            conn.execute(update(table).where(table.c.dataset_id == dataset_id).values(last_update_time=now_ms()))
            return self._dataset(conn, dataset_id, "")

    def remove_dataset_from_experiments(self, dataset_id: str, experiment_ids: Sequence[str]) -> EvaluationDataset:
        table, links = s.evaluation_datasets, s.evaluation_dataset_experiments
        numbers = sorted({int(e) for e in experiment_ids if e.isdigit() and len(e) < 19})
        with self.db.write() as conn:
            if not self._exists(conn, dataset_id):
                raise ResourceDoesNotExist(f"Dataset '{dataset_id}' not found")
            removed = conn.execute(
                delete(links).where(links.c.dataset_id == dataset_id, links.c.experiment_id.in_(numbers))
            ).rowcount
            if removed:
                conn.execute(update(table).where(table.c.dataset_id == dataset_id).values(last_update_time=now_ms()))
            return self._dataset(conn, dataset_id, "")

    # -- records ------------------------------------------------------------------------------------

    def upsert_dataset_records(self, dataset_id: str, records: Sequence[NewRecord]) -> tuple[int, int]:
        """Insert or merge these records (see the module's docstring); (inserted, updated) counts."""
        table = s.evaluation_datasets
        now = now_ms()
        hashes = [input_hash(r.inputs) for r in records]
        with self.db.write() as conn:
            # First the dataset's row: on PostgreSQL this locks it, so that two upserts into one dataset
            # merge one after the other.
            found = conn.execute(
                update(table)
                .where(table.c.dataset_id == dataset_id)
                .values(last_update_time=now)
                .returning(table.c.name, table.c.schema)
            ).first()
            if found is None:
                raise ResourceDoesNotExist(f"Evaluation dataset with id '{dataset_id}' not found")
            rows = self._stored_records(conn, dataset_id, sorted(set(hashes)))
            inserted = updated = 0
            for hashed, record in zip(hashes, records, strict=True):
                row = rows.get(hashed)
                if row is None:
                    rows[hashed] = _Row(_new_row(dataset_id, hashed, record, now), existed=False)
                    inserted += 1
                else:
                    _merge(row, record, now)
                    updated += 1
            new = [row for row in rows.values() if not row.existed]
            for row, record_id in zip(new, _record_ids(len(new)), strict=True):
                row.values["dataset_record_id"] = record_id
            written = [tuple(row.values[c] for c in _RECORD_COLUMNS) for row in rows.values()]
            insert_rows(conn, "evaluation_dataset_records", _RECORD_COLUMNS, written, _MERGE)
            users = [_text(r.tags[USER_TAG]) for r in records if r.tags and USER_TAG in r.tags]
            changes: dict[str, Any] = {
                "digest": _digest(found.name, now),
                "last_updated_by": users[-1] if users else None,
            }
            schema = _grown_schema(found.schema, records)
            if schema is not None:
                changes["schema"] = schema
            count = self._count_records(conn, dataset_id)
            if count:
                changes["profile"] = json.dumps({"num_records": count})
            conn.execute(update(table).where(table.c.dataset_id == dataset_id).values(**changes))
        return inserted, updated

    def _stored_records(self, conn: Connection, dataset_id: str, hashes: list[str]) -> dict[str, _Row]:
        """The records of the dataset with these input hashes, as rows to merge into (only the columns a
        merge changes; the rest stays as stored)."""
        records = s.evaluation_dataset_records
        found: dict[str, _Row] = {}
        for part in chunks(hashes, LOAD_CHUNK):
            query = select(records).where(records.c.dataset_id == dataset_id, records.c.input_hash.in_(part))
            for r in conn.execute(query):
                found[r.input_hash] = _Row(dict(r._mapping), existed=True)
        return found

    def _count_records(self, conn: Connection, dataset_id: str) -> int:
        records = s.evaluation_dataset_records
        query = select(func.count()).select_from(records).where(records.c.dataset_id == dataset_id)
        return int(conn.execute(query).scalar_one())

    def dataset_records(self, dataset_id: str, max_results: int, page_token: str | None) -> tuple[bytes, str | None]:
        """One page of the dataset's records as the JSON text of a list, and the next page's token. A
        dataset that does not exist has no records, as in MLflow."""
        records = s.evaluation_dataset_records
        query = select(*(records.c[name] for name in _WIRE_COLUMNS)).where(records.c.dataset_id == dataset_id)
        after = _read_records_token(page_token) if page_token else None
        if isinstance(after, tuple):
            when, record_id = after
            query = query.where(
                (records.c.created_time > when)
                | ((records.c.created_time == when) & (records.c.dataset_record_id > record_id))
            )
        query = query.order_by(records.c.created_time, records.c.dataset_record_id).limit(max_results + 1)
        if isinstance(after, int):
            query = query.offset(after)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        token = None
        if len(rows) > max_results:
            rows = rows[:max_results]
            token = _records_token(rows[-1].created_time, rows[-1].dataset_record_id)
        return msgspec.json.encode([_wire_record(r) for r in rows]), token

    def delete_dataset_records(self, dataset_id: str, record_ids: Sequence[str]) -> int:
        records, table = s.evaluation_dataset_records, s.evaluation_datasets
        deleted = 0
        with self.db.write() as conn:
            for part in chunks(sorted(set(record_ids)), LOAD_CHUNK):
                deleted += conn.execute(
                    delete(records).where(records.c.dataset_id == dataset_id, records.c.dataset_record_id.in_(part))
                ).rowcount
            if deleted:
                count = self._count_records(conn, dataset_id)
                profile = json.dumps({"num_records": count}) if count else None
                conn.execute(update(table).where(table.c.dataset_id == dataset_id).values(profile=profile))
        return deleted

    # -- import (`tracklet import-mlflow`) ---------------------------------------------------------------

    def dataset_exists(self, dataset_id: str) -> bool:
        with self.db.read() as conn:
            return self._exists(conn, dataset_id)

    def import_dataset(
        self,
        dataset: EvaluationDataset,
        tags: Mapping[str, str],
        records: Sequence[Mapping[str, Any]],
        experiment_ids: Sequence[int],
    ) -> bool:
        """A dataset copied from another server under its own id, with its digest, schema, profile, times
        and authors as they were, its tags, its records (as `dataset_records` gives them: MLflow's
        `DatasetRecord.to_dict()`, ids and times kept) and its links to these experiments, in one
        transaction. False (nothing written) when a dataset with this id is stored already."""
        dataset_id = dataset.dataset_id
        rows = [_copied_row(dataset_id, record) for record in records]
        with self.db.write() as conn:
            if self._exists(conn, dataset_id):
                return False
            linked = self._check_experiments(conn, [str(e) for e in experiment_ids])
            conn.execute(
                s.evaluation_datasets.insert().values(
                    dataset_id=dataset_id,
                    name=dataset.name,
                    schema=dataset.schema,
                    profile=dataset.profile,
                    digest=dataset.digest,
                    created_time=dataset.created_time,
                    last_update_time=dataset.last_update_time,
                    created_by=dataset.created_by,
                    last_updated_by=dataset.last_updated_by,
                )
            )
            insert_rows(conn, "evaluation_dataset_tags", ("dataset_id", "key", "value"), _tag_rows(dataset_id, tags))
            # Inputs identify a record within its dataset: a source that held two alike keeps the first.
            insert_rows(conn, "evaluation_dataset_records", _RECORD_COLUMNS, rows, "ON CONFLICT DO NOTHING")
            insert_rows(
                conn,
                "evaluation_dataset_experiments",
                ("dataset_id", "experiment_id"),
                [(dataset_id, e) for e in linked],
            )
        return True

    def sync_imported_dataset(
        self, dataset: EvaluationDataset, tags: Mapping[str, str], records: Sequence[Mapping[str, Any]]
    ) -> tuple[int, int]:
        """A dataset copied before, brought up to date with its source in one transaction: the records the
        source has and this copy lacks are added, those changed there since (a later `last_update_time`)
        take the source's values, the source's tags are set, and its digest, schema, times and authors
        taken when the source changed later than this copy. Nothing is deleted: a record here and not there
        may have been added here. (records added, records updated)."""
        dataset_id = dataset.dataset_id
        table, stored = s.evaluation_datasets, s.evaluation_dataset_records
        rows = [_copied_row(dataset_id, record) for record in records]
        at_id, at_time = _RECORD_COLUMNS.index("dataset_record_id"), _RECORD_COLUMNS.index("last_update_time")
        with self.db.write() as conn:
            query = select(stored.c.dataset_record_id, stored.c.last_update_time).where(
                stored.c.dataset_id == dataset_id
            )
            times: dict[str, int] = {record_id: when for record_id, when in conn.execute(query)}
            # Inputs identify a record within its dataset: one added here with the same inputs stays.
            added = insert_rows(
                conn,
                "evaluation_dataset_records",
                _RECORD_COLUMNS,
                [row for row in rows if row[at_id] not in times],
                "ON CONFLICT DO NOTHING RETURNING dataset_record_id",
            )
            changed = [
                dict(zip(_RECORD_COLUMNS, row, strict=True))
                for row in rows
                if row[at_id] in times and row[at_time] > times[row[at_id]]
            ]
            for values in changed:
                conn.execute(
                    update(stored).where(stored.c.dataset_record_id == values["dataset_record_id"]).values(values)
                )
            _set_tags(conn, dataset_id, tags)
            count = self._count_records(conn, dataset_id)
            newer = table.c.last_update_time < dataset.last_update_time
            conn.execute(
                update(table)
                .where(table.c.dataset_id == dataset_id, newer)
                .values(
                    digest=dataset.digest,
                    schema=dataset.schema,
                    last_update_time=dataset.last_update_time,
                    last_updated_by=dataset.last_updated_by,
                )
            )
            conn.execute(
                update(table)
                .where(table.c.dataset_id == dataset_id)
                .values(profile=json.dumps({"num_records": count}) if count else None)
            )
        return len(added), len(changed)

    def link_imported_dataset(self, dataset_id: str, experiment_ids: Sequence[int]) -> int:
        """Links of a stored dataset to these experiments that it lacks (a later import of more of the
        source's experiments), made without touching the dataset; how many were new."""
        with self.db.write() as conn:
            linked = self._check_experiments(conn, [str(e) for e in experiment_ids])
            made = insert_rows(
                conn,
                "evaluation_dataset_experiments",
                ("dataset_id", "experiment_id"),
                [(dataset_id, e) for e in linked],
                "ON CONFLICT DO NOTHING RETURNING experiment_id",
            )
        return len(made)


def _set_tags(conn: Connection, dataset_id: str, tags: Mapping[str, str]) -> None:
    """Set these tags of the dataset (those it has already take the new values)."""
    upsert = "ON CONFLICT (dataset_id, key) DO UPDATE SET value = excluded.value"
    insert_rows(conn, "evaluation_dataset_tags", ("dataset_id", "key", "value"), _tag_rows(dataset_id, tags), upsert)


def _tag_rows(dataset_id: str, tags: Mapping[str, str]) -> list[tuple[Any, ...]]:
    return [(dataset_id, key, value) for key, value in sorted(tags.items())]
