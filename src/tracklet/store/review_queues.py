"""MLflow 3's review queues (`mlflow.genai.review_queues`): traces of an experiment waiting for review, the
users who review them and the label schemas they answer.

As in MLflow's store: a queue is a user's own (`user`: named after its one user, all the experiment's
schemas) or `custom` (any name but "default", 0-10 users, the schemas chosen, which are fixed once it
has items); names are unique in an experiment whatever their case; users are kept lowercased; an item
is a trace of the queue's experiment, added once (adding it again keeps its status), `pending` until a
reviewer completes or declines it, and reopening it clears who did. Deleting a queue deletes its users,
schemas and items; deleting a queue that does not exist does nothing. Lists are newest first with offset
page tokens. The request's fields are checked by `server/api/review_queues.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, RowMapping, delete, select, update
from sqlalchemy.exc import IntegrityError

from tracklet.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import LOAD_CHUNK, chunks, now_ms
from tracklet.store.database import Database
from tracklet.store.label_schemas import active_experiment
from tracklet.store.search import decode_page_token, encode_page_token

QUEUE_ID_PREFIX = "rq-"
USER, CUSTOM = "user", "custom"
PENDING = "pending"
_INSERT_CHUNK = 1000  # rows of 8 values: within SQLite's and PostgreSQL's bind-parameter limits


class ReviewQueue(msgspec.Struct):
    queue_id: str
    experiment_id: int
    name: str
    queue_type: str
    created_by: str | None
    creation_time_ms: int
    last_update_time_ms: int
    users: list[str]
    schema_ids: list[str]


class ReviewQueueItem(msgspec.Struct):
    queue_id: str
    item_type: str
    item_id: str
    status: str
    completed_by: str | None
    completed_time_ms: int | None
    creation_time_ms: int
    last_update_time_ms: int


class QueueChanges(msgspec.Struct):
    """An update: the fields given (None: keep). Users and schemas replace the queue's."""

    name: str | None = None
    new_owner: str | None = None
    users: list[str] | None = None
    schema_ids: list[str] | None = None


def _taken(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Review queue with name '{name}' already exists (names are case-insensitive).")


def _item(row: RowMapping) -> ReviewQueueItem:
    return ReviewQueueItem(
        queue_id=row["queue_id"],
        item_type=row["item_type"],
        item_id=row["item_id"],
        status=row["status"],
        completed_by=row["completed_by"],
        completed_time_ms=row["completed_time_ms"],
        creation_time_ms=row["creation_time_ms"],
        last_update_time_ms=row["last_update_time_ms"],
    )


def _page(offset: int, size: int, found: int) -> str | None:
    return encode_page_token(offset + size) if found > size else None


class ReviewQueueStore:
    db: Database

    # -- reading ----------------------------------------------------------------------------------------

    def _queue_row(self, conn: Connection, queue_id: str, lock: bool = False) -> RowMapping:
        query = select(s.review_queues).where(s.review_queues.c.queue_id == queue_id)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        if row is None:
            raise ResourceDoesNotExist(f"Review queue with id '{queue_id}' not found.")
        return row

    def _queues(self, conn: Connection, rows: Sequence[RowMapping]) -> list[ReviewQueue]:
        """Queue rows with their users and schemas (each sorted, as MLflow lists them)."""
        ids = [row["queue_id"] for row in rows]
        users: dict[str, list[str]] = {i: [] for i in ids}
        schemas: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            u, links = s.review_queue_users, s.review_queue_label_schemas
            for queue_id, user in conn.execute(select(u.c.queue_id, u.c.user_id).where(u.c.queue_id.in_(ids))):
                users[queue_id].append(user)
            for queue_id, schema_id in conn.execute(
                select(links.c.queue_id, links.c.schema_id).where(links.c.queue_id.in_(ids))
            ):
                schemas[queue_id].append(schema_id)
        return [
            ReviewQueue(
                queue_id=row["queue_id"],
                experiment_id=row["experiment_id"],
                name=row["name"],
                queue_type=row["queue_type"],
                created_by=row["created_by"],
                creation_time_ms=row["creation_time_ms"],
                last_update_time_ms=row["last_update_time_ms"],
                users=sorted(users[row["queue_id"]]),
                schema_ids=sorted(schemas[row["queue_id"]]),
            )
            for row in rows
        ]

    def get_review_queue(self, queue_id: str) -> ReviewQueue:
        with self.db.read() as conn:
            return self._queues(conn, [self._queue_row(conn, queue_id)])[0]

    def get_review_queue_by_name(self, experiment_id: int, name: str) -> ReviewQueue:
        table = s.review_queues
        with self.db.read() as conn:
            active_experiment(conn, experiment_id)
            query = select(table).where(table.c.experiment_id == experiment_id, table.c.name_key == name.lower())
            row = conn.execute(query).mappings().first()
            if row is None:
                raise ResourceDoesNotExist(
                    f"Review queue with name '{name}' not found for experiment '{experiment_id}'."
                )
            return self._queues(conn, [row])[0]

    def list_review_queues(
        self, experiment_id: int, user: str | None, item_id: str | None, max_results: int, page_token: str | None
    ) -> tuple[list[ReviewQueue], str | None]:
        """The experiment's queues, newest first; `user`: those they are one of the users of; `item_id`:
        those that hold the trace."""
        table = s.review_queues
        offset = decode_page_token(page_token)
        query = select(table).where(table.c.experiment_id == experiment_id)
        if user is not None:
            users = s.review_queue_users
            query = query.where(table.c.queue_id.in_(select(users.c.queue_id).where(users.c.user_id == user)))
        if item_id is not None:
            items = s.review_queue_items
            query = query.where(table.c.queue_id.in_(select(items.c.queue_id).where(items.c.item_id == item_id)))
        query = query.order_by(table.c.creation_time_ms.desc(), table.c.queue_id).offset(offset).limit(max_results + 1)
        with self.db.read() as conn:
            active_experiment(conn, experiment_id)
            rows = list(conn.execute(query).mappings())
            queues = self._queues(conn, rows[:max_results])
        return queues, _page(offset, max_results, len(rows))

    def list_review_queue_items(
        self, queue_id: str, status: str | None, max_results: int, page_token: str | None
    ) -> tuple[list[ReviewQueueItem], str | None]:
        items = s.review_queue_items
        offset = decode_page_token(page_token)
        query = select(items).where(items.c.queue_id == queue_id)
        if status is not None:
            query = query.where(items.c.status == status)
        query = query.order_by(items.c.creation_time_ms.desc(), items.c.item_id).offset(offset).limit(max_results + 1)
        with self.db.read() as conn:
            self._queue_row(conn, queue_id)
            rows = list(conn.execute(query).mappings())
        return [_item(row) for row in rows[:max_results]], _page(offset, max_results, len(rows))

    # -- changing ---------------------------------------------------------------------------------------

    def _check_schemas(self, conn: Connection, experiment_id: int, schema_ids: list[str]) -> None:
        if not schema_ids:
            return
        table = s.label_schemas
        query = select(table.c.schema_id).where(
            table.c.experiment_id == experiment_id, table.c.schema_id.in_(schema_ids)
        )
        found = set(conn.execute(query).scalars())
        if missing := [i for i in schema_ids if i not in found]:
            raise InvalidParameterValue(f"Label schema id(s) {missing} not found for experiment '{experiment_id}'.")

    def _name_key_taken(self, conn: Connection, experiment_id: int, name_key: str) -> bool:
        table = s.review_queues
        query = select(table.c.queue_id).where(table.c.experiment_id == experiment_id, table.c.name_key == name_key)
        return conn.execute(query).first() is not None

    def create_review_queue(
        self,
        experiment_id: int,
        name: str,
        queue_type: str,
        created_by: str | None,
        users: list[str],
        schema_ids: list[str],
    ) -> ReviewQueue:
        """A queue of checked fields (names stripped, users lowercased and without repeats)."""
        now = now_ms()
        made = ReviewQueue(
            QUEUE_ID_PREFIX + uuid.uuid4().hex, experiment_id, name, queue_type, created_by, now, now, users, schema_ids
        )
        row = {f: getattr(made, f) for f in made.__struct_fields__ if f not in ("users", "schema_ids")}
        try:
            with self.db.write() as conn:
                active_experiment(conn, experiment_id)
                self._check_schemas(conn, experiment_id, schema_ids)
                if self._name_key_taken(conn, experiment_id, name.lower()):
                    raise _taken(name)
                conn.execute(s.review_queues.insert().values({**row, "name_key": name.lower()}))
                self._set_members(conn, made.queue_id, users, schema_ids)
        except IntegrityError:  # a concurrent create took the name
            raise _taken(name) from None
        made.users, made.schema_ids = sorted(users), sorted(schema_ids)
        return made

    def _set_members(
        self, conn: Connection, queue_id: str, users: list[str] | None, schema_ids: list[str] | None
    ) -> None:
        if users is not None:
            table = s.review_queue_users
            conn.execute(delete(table).where(table.c.queue_id == queue_id))
            if users:
                conn.execute(table.insert(), [{"queue_id": queue_id, "user_id": u} for u in users])
        if schema_ids is not None:
            links = s.review_queue_label_schemas
            conn.execute(delete(links).where(links.c.queue_id == queue_id))
            if schema_ids:
                conn.execute(links.insert(), [{"queue_id": queue_id, "schema_id": i} for i in schema_ids])

    def get_or_create_user_queue(self, experiment_id: int, user: str) -> ReviewQueue:
        """The user's own queue in the experiment, made the first time (`user`: lowercased)."""
        try:
            return self.create_review_queue(experiment_id, user, USER, user, [user], [])
        except ResourceAlreadyExists:
            found = self.get_review_queue_by_name(experiment_id, user)
            if found.queue_type != USER:
                raise ResourceAlreadyExists(
                    f"A non-user queue named '{user}' already exists; cannot get-or-create a user queue with that name."
                ) from None
            return found

    def update_review_queue(self, queue_id: str, changes: QueueChanges) -> ReviewQueue:
        table = s.review_queues
        with self.db.write() as conn:
            row = self._queue_row(conn, queue_id, lock=True)
            if row["queue_type"] == USER:
                raise InvalidParameterValue(
                    "A user queue's name, assigned user, schemas, and owner are fixed and cannot be updated."
                )
            if changes == QueueChanges():
                return self._queues(conn, [row])[0]
            values: dict[str, Any] = {"last_update_time_ms": now_ms()}
            if changes.new_owner is not None:
                values["created_by"] = changes.new_owner
            if changes.name is not None and changes.name != row["name"]:
                values["name"], values["name_key"] = changes.name, changes.name.lower()
                if values["name_key"] != row["name_key"] and self._name_key_taken(
                    conn, row["experiment_id"], values["name_key"]
                ):
                    raise _taken(changes.name)
            if changes.schema_ids is not None:
                items = s.review_queue_items
                has_items = conn.execute(select(items.c.item_id).where(items.c.queue_id == queue_id).limit(1)).first()
                if has_items is not None:
                    raise InvalidParameterValue(
                        "A review queue's questions are locked once items are assigned to it. "
                        "Remove the items before changing its questions."
                    )
                self._check_schemas(conn, row["experiment_id"], changes.schema_ids)
            self._set_members(conn, queue_id, changes.users, changes.schema_ids)
            try:
                conn.execute(update(table).where(table.c.queue_id == queue_id).values(values))
            except IntegrityError:  # a concurrent create or rename took the name
                raise _taken(changes.name or "") from None
            return self._queues(conn, [self._queue_row(conn, queue_id)])[0]

    def delete_review_queue(self, queue_id: str) -> None:
        """Delete a queue with its users, schemas and items (the assessments of its reviewers stay)."""
        with self.db.write() as conn:
            for table in (s.review_queue_users, s.review_queue_label_schemas, s.review_queue_items, s.review_queues):
                conn.execute(delete(table).where(table.c.queue_id == queue_id))

    def add_items_to_review_queue(self, queue_id: str, item_ids: list[str], item_type: str) -> list[ReviewQueueItem]:
        """Traces added to a queue, `pending` (those in it already keep their status); each must be a trace
        of the queue's experiment. Any number of them: read and written a chunk at a time (bind limits)."""
        items, traces = s.review_queue_items, s.traces
        with self.db.write() as conn:
            queue = self._queue_row(conn, queue_id, lock=True)
            experiment_id = queue["experiment_id"]
            found: set[str] = set()
            for part in chunks(item_ids, LOAD_CHUNK):
                in_experiment = select(traces.c.trace_id).where(
                    traces.c.trace_id.in_(part), traces.c.experiment_id == experiment_id
                )
                found.update(conn.execute(in_experiment).scalars())
            if invalid := [i for i in item_ids if i not in found]:
                raise ResourceDoesNotExist(
                    f"Cannot attach trace(s) {invalid} to review queue '{queue_id}': "
                    f"they do not exist in experiment '{experiment_id}'."
                )
            now = now_ms()
            new = {"queue_id": queue_id, "item_type": item_type, "status": PENDING}
            times = {
                "creation_time_ms": now,
                "last_update_time_ms": now,
                "completed_by": None,
                "completed_time_ms": None,
            }
            stored: dict[str, ReviewQueueItem] = {}
            for part in chunks(item_ids, _INSERT_CHUNK):
                rows = [{**new, **times, "item_id": i} for i in part]
                conn.execute(self.db.insert(items).values(rows).on_conflict_do_nothing())
                query = select(items).where(items.c.queue_id == queue_id, items.c.item_id.in_(part))
                stored.update((row["item_id"], _item(row)) for row in conn.execute(query).mappings())
        return [stored[i] for i in item_ids if i in stored]

    def remove_items_from_review_queue(self, queue_id: str, item_ids: list[str]) -> None:
        items = s.review_queue_items
        with self.db.write() as conn:
            self._queue_row(conn, queue_id)
            for part in chunks(item_ids, LOAD_CHUNK):
                conn.execute(delete(items).where(items.c.queue_id == queue_id, items.c.item_id.in_(part)))

    def set_review_queue_item_status(
        self, queue_id: str, item_id: str, status: str, completed_by: str | None
    ) -> ReviewQueueItem:
        """An item completed or declined (by `completed_by`), or reopened (`pending`). Setting the status
        it has changes nothing: the reviewer who first set it stays."""
        items = s.review_queue_items
        where = (items.c.queue_id == queue_id, items.c.item_id == item_id)
        with self.db.write() as conn:
            self._queue_row(conn, queue_id)
            row = conn.execute(select(items).where(*where).with_for_update()).mappings().first()
            if row is None:
                raise ResourceDoesNotExist(f"Item '{item_id}' is not attached to review queue '{queue_id}'.")
            if row["status"] == status:
                return _item(row)
            now = now_ms()
            done = status != PENDING
            values = {
                "status": status,
                "last_update_time_ms": now,
                "completed_by": completed_by if done else None,
                "completed_time_ms": now if done else None,
            }
            conn.execute(update(items).where(*where).values(values))
            return _item(conn.execute(select(items).where(*where)).mappings().one())
