"""Webhooks of the model registry: their rows and the events each is subscribed to.

Semantics follow MLflow 3.17's SQL store: ids are UUIDs, lists are newest first in pages of 1 to 1,000
(100 by default) with OFFSET page tokens, an update changes only what it is given. Secrets are kept in
the stored form the server hands in (`webhooks/secrets.py`) and only leave through `webhook_secret` and
`subscribers`, for signing: no answer to a client holds one. A webhook's events come back sorted by
(entity, action), as MLflow's store lists them on SQLite.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, select, tuple_, update

from tracklet.entities import Webhook, WebhookEvent
from tracklet.errors import ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store import search
from tracklet.store._util import now_ms
from tracklet.store.database import Database
from tracklet.store.workspaces import DEFAULT_WORKSPACE, current_workspace

ACTIVE = "ACTIVE"
EventKey = tuple[str, str]  # (entity, action), as MLflow stores them: ("model_version", "created")


@dataclass(frozen=True)
class Subscriber:
    """An ACTIVE webhook subscribed to an event that happened: where to send it, and how to sign it."""

    webhook_id: str
    url: str
    secret: str | None  # the stored form
    events: frozenset[EventKey]


def _not_found(webhook_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Webhook with ID {webhook_id} not found.")


def _in_workspace() -> list[ColumnElement[bool]]:
    """Webhooks are a workspace's (its registry's events go to its own); all of them without workspaces."""
    workspace = current_workspace()
    return [] if workspace is None else [s.webhooks.c.workspace == workspace]


class WebhookStore:
    db: Database

    def _events_of(self, conn: Connection, ids: Sequence[str]) -> dict[str, list[EventKey]]:
        e = s.webhook_events
        found: dict[str, list[EventKey]] = defaultdict(list)
        if ids:
            query = select(e.c.webhook_id, e.c.entity, e.c.action).where(e.c.webhook_id.in_(list(ids)))
            for row in conn.execute(query.order_by(e.c.webhook_id, e.c.entity, e.c.action)):
                found[row.webhook_id].append((row.entity, row.action))
        return found

    def _load(self, conn: Connection, rows: Sequence[Any]) -> list[Webhook]:
        events = self._events_of(conn, [r.webhook_id for r in rows])
        return [
            Webhook(
                webhook_id=r.webhook_id,
                name=r.name,
                description=r.description or None,
                url=r.url,
                events=[WebhookEvent(entity.upper(), action.upper()) for entity, action in events[r.webhook_id]],
                status=r.status,
                creation_timestamp=r.creation_timestamp,
                last_updated_timestamp=r.last_updated_timestamp,
            )
            for r in rows
        ]

    def _row(self, conn: Connection, webhook_id: str) -> Any:
        row = conn.execute(select(s.webhooks).where(s.webhooks.c.webhook_id == webhook_id, *_in_workspace())).first()
        if row is None:
            raise _not_found(webhook_id)
        return row

    def _subscribe(self, conn: Connection, webhook_id: str, events: Sequence[EventKey]) -> None:
        unique = list(dict.fromkeys(events))  # MLflow answers a repeated event with its database's error
        conn.execute(
            s.webhook_events.insert(),
            [{"webhook_id": webhook_id, "entity": entity, "action": action} for entity, action in unique],
        )

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[EventKey],
        description: str | None,
        secret: str | None,
        status: str,
    ) -> Webhook:
        """A new webhook (its fields checked by the caller); `secret` in its stored form."""
        t = now_ms()
        webhook_id = str(uuid.uuid4())
        with self.db.write() as conn:
            conn.execute(
                s.webhooks.insert().values(
                    webhook_id=webhook_id,
                    name=name,
                    description=description or None,
                    url=url,
                    status=status,
                    secret=secret,
                    creation_timestamp=t,
                    last_updated_timestamp=t,
                    workspace=current_workspace() or DEFAULT_WORKSPACE,
                )
            )
            self._subscribe(conn, webhook_id, events)
            return self._load(conn, [self._row(conn, webhook_id)])[0]

    def get_webhook(self, webhook_id: str) -> Webhook:
        with self.db.read() as conn:
            return self._load(conn, [self._row(conn, webhook_id)])[0]

    def webhook_secret(self, webhook_id: str) -> tuple[Webhook, str | None]:
        """The webhook and its secret's stored form (for `webhooks/{id}/test`)."""
        with self.db.read() as conn:
            row = self._row(conn, webhook_id)
            return self._load(conn, [row])[0], row.secret

    def list_webhooks(self, max_results: int, page_token: str | None) -> tuple[list[Webhook], str | None]:
        """One page of all webhooks, newest first."""
        offset = search.decode_page_token(page_token)
        w = s.webhooks
        with self.db.read() as conn:
            rows = conn.execute(
                select(w)
                .where(*_in_workspace())
                .order_by(w.c.creation_timestamp.desc(), w.c.webhook_id)
                .limit(max_results + 1)
                .offset(offset)
            ).all()
            page = self._load(conn, rows[:max_results])
        token = search.encode_page_token(offset + max_results) if len(rows) > max_results else None
        return page, token

    def update_webhook(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[EventKey] | None = None,
        secret: str | None = None,
        clear_secret: bool = False,
        status: str | None = None,
    ) -> Webhook:
        """Change what is given (None: left as it is; a description of "" clears it, so does `clear_secret`
        the secret)."""
        values: dict[str, Any] = {"last_updated_timestamp": now_ms()}
        for column, value in (("name", name), ("url", url), ("status", status), ("secret", secret)):
            if value is not None:
                values[column] = value
        if description is not None:
            values["description"] = description or None
        if clear_secret:
            values["secret"] = None
        with self.db.write() as conn:
            self._row(conn, webhook_id)
            conn.execute(update(s.webhooks).where(s.webhooks.c.webhook_id == webhook_id).values(**values))
            if events is not None:
                conn.execute(delete(s.webhook_events).where(s.webhook_events.c.webhook_id == webhook_id))
                self._subscribe(conn, webhook_id, events)
            return self._load(conn, [self._row(conn, webhook_id)])[0]

    def delete_webhook(self, webhook_id: str) -> None:
        with self.db.write() as conn:
            self._row(conn, webhook_id)
            conn.execute(delete(s.webhook_events).where(s.webhook_events.c.webhook_id == webhook_id))
            conn.execute(delete(s.webhooks).where(s.webhooks.c.webhook_id == webhook_id))

    def subscribers(self, events: Sequence[EventKey]) -> list[Subscriber]:
        """The ACTIVE webhooks subscribed to any of `events`, read afresh each time: a webhook created,
        changed or disabled through another worker counts at once."""
        if not events:
            return []
        w, e = s.webhooks, s.webhook_events
        with self.db.read() as conn:
            rows = conn.execute(
                select(w.c.webhook_id, w.c.url, w.c.secret, e.c.entity, e.c.action)
                .join(e, e.c.webhook_id == w.c.webhook_id)
                .where(w.c.status == ACTIVE, tuple_(e.c.entity, e.c.action).in_(list(events)), *_in_workspace())
                .order_by(w.c.creation_timestamp, w.c.webhook_id)
            ).all()
        found: dict[str, tuple[Any, set[EventKey]]] = {}
        for row in rows:
            found.setdefault(row.webhook_id, (row, set()))[1].add((row.entity, row.action))
        return [Subscriber(r.webhook_id, r.url, r.secret, frozenset(subscribed)) for r, subscribed in found.values()]

    def stored_webhook_secrets(self) -> list[tuple[str, str]]:
        """(webhook id, stored secret) of every webhook that has a secret."""
        w = s.webhooks
        with self.db.read() as conn:
            return [
                (r[0], r[1]) for r in conn.execute(select(w.c.webhook_id, w.c.secret).where(w.c.secret.isnot(None)))
            ]

    def replace_webhook_secret(self, webhook_id: str, old: str, new: str) -> None:
        """Store a secret in a new form (re-encrypted), unless it was changed meanwhile."""
        w = s.webhooks
        with self.db.write() as conn:
            conn.execute(update(w).where(w.c.webhook_id == webhook_id, w.c.secret == old).values(secret=new))
