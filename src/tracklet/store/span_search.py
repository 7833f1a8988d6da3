"""What span filters compare (`span.name`, `span.type`, `span.status`, `span.attributes.<key>`,
`span.content`, `trace.text`): every span as a row of `trace_spans` with its name, type and status, and
its attributes as rows of `trace_span_attributes`.

Spans received over OTLP are rows already; their fields are filled in once exports pause. The spans
MLflow's client uploads as `traces.json` are copied into the same tables: when the server receives the
file through its artifact proxy, and otherwise (a file uploaded before this existed, or written into the
artifact store without passing the server) when a span filter first searches the trace's experiment
(`server/api/trace_spans.py` reads the files). The file stays what `traces/get` serves. A trace counts as
copied once it has rows; span rows without a status (received over OTLP, stored before migration 0013)
are filled in by `index_stored_spans`, when exports pause and before a span filter.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection

from tracklet.store._util import insert_rows
from tracklet.store.traces import ARTIFACT_LOCATION_TAG, SPANS_IN_DATABASE, SPANS_LOCATION_TAG, TraceStore

__all__ = [
    "SearchableSpan",
    "SpanSearchStore",
    "searchable_file",
    "searchable_span",
    "searchable_text",
    "write_spans",
]

SPAN_TYPE_ATTRIBUTE = "mlflow.spanType"
SPAN_COLUMNS = ("trace_id", "span_id", "start_time", "content", "name", "type", "status")
# A span sent again (an OTLP retry, a re-uploaded file) replaces the stored one.
SPAN_UPSERT = "ON CONFLICT (trace_id, span_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in SPAN_COLUMNS[2:]
)
ATTRIBUTE_COLUMNS = ("trace_id", "span_id", "key", "value")
_ATTRIBUTE_UPSERT = "ON CONFLICT (trace_id, span_id, key) DO UPDATE SET value = excluded.value"
_FILL_IN = (
    "ON CONFLICT (trace_id, span_id) DO UPDATE SET name = excluded.name, type = excluded.type, "
    "status = excluded.status WHERE trace_spans.content = excluded.content"
)
_WHERE_SPANS = (ARTIFACT_LOCATION_TAG, SPANS_LOCATION_TAG)
_BATCH = 500  # older span rows given their fields a transaction (each holds SQLite's one writer)


@dataclass(frozen=True)
class SearchableSpan:
    span_id: str  # hex
    start_time: int  # ns since the epoch
    content: str  # the span as JSON, in the layout of `traces.json`
    name: str
    type: str | None
    status: str  # OK, ERROR or UNSET
    attributes: dict[str, str]  # decoded: a string as itself, any other value as compact JSON

    def row(self, trace_id: str) -> tuple[Any, ...]:
        return (trace_id, self.span_id, self.start_time, self.content, self.name, self.type, self.status)

    def attribute_rows(self, trace_id: str) -> list[tuple[str, str, str, str]]:
        return [(trace_id, self.span_id, key, value) for key, value in self.attributes.items()]


def searchable_span(span: dict[str, Any], span_id: str, content: str, start_time: int | None = None) -> SearchableSpan:
    """The fields filters compare of one span dict, in the layout of `traces.json` (MLflow 3's, or MLflow
    2's: `status_code`, `start_time`)."""
    values = {_text(str(k)): decode_attribute(v) for k, v in (span.get("attributes") or {}).items()}
    status = span.get("status")
    code = status.get("code") if isinstance(status, dict) else span.get("status_code")
    span_type = values.get(SPAN_TYPE_ATTRIBUTE)
    return SearchableSpan(
        span_id=span_id,
        start_time=_int(span.get("start_time_unix_nano", span.get("start_time"))) if start_time is None else start_time,
        content=content,
        name=_text(str(span.get("name") or "")),
        type=_text(span_type) if isinstance(span_type, str) else None,
        status=_text(str(code or "UNSET").upper().removeprefix("STATUS_CODE_")),
        attributes={k: _text(v if isinstance(v, str) else _json(v)) for k, v in values.items()},
    )


def searchable_text(span_id: str, content: str, start_time: int | None = None) -> SearchableSpan:
    """A span kept as JSON text (a row of `trace_spans`)."""
    return searchable_span(_json_object(content), span_id, content, start_time)


def searchable_file(spans: Sequence[dict[str, Any]]) -> list[SearchableSpan]:
    """The spans of a `traces.json`, each with an id unique in the trace: its own in hex, or its
    position where it has none (the rows only serve searches)."""
    out: list[SearchableSpan] = []
    seen: set[str] = set()
    for position, span in enumerate(spans):
        span_id = _hex_span_id(span)
        if span_id is None or span_id in seen:
            span_id = f"{position:016x}"
        seen.add(span_id)
        out.append(searchable_span(span, span_id, _json(span)))
    return out


def write_spans(conn: Connection, spans: Sequence[tuple[str, SearchableSpan]]) -> None:
    """Upsert these (trace id, span) with their attributes. A span stored before keeps any attribute it
    no longer has (OTLP's retries send the same span again; a re-uploaded file replaces its rows whole)."""
    insert_rows(conn, "trace_spans", SPAN_COLUMNS, [span.row(trace_id) for trace_id, span in spans], SPAN_UPSERT)
    attributes = [row for trace_id, span in spans for row in span.attribute_rows(trace_id)]
    insert_rows(conn, "trace_span_attributes", ATTRIBUTE_COLUMNS, attributes, _ATTRIBUTE_UPSERT)


class SpanSearchStore(TraceStore):
    def traces_to_copy(self, experiment_ids: Sequence[int], after: str, limit: int) -> list[tuple[str, str]]:
        """(trace id, artifact location) of up to `limit` traces of these experiments, in id order after
        `after`, whose spans are a file not copied into the database yet."""
        db = self.db
        sql = (
            "SELECT t.trace_id, loc.value FROM traces t JOIN trace_tags loc ON loc.trace_id = t.trace_id "
            f"AND loc.key = ? WHERE t.experiment_id IN ({db.marks(len(experiment_ids))}) AND t.trace_id > ? "
            "AND NOT EXISTS (SELECT 1 FROM trace_spans sp WHERE sp.trace_id = t.trace_id) "
            "AND NOT EXISTS (SELECT 1 FROM trace_tags w WHERE w.trace_id = t.trace_id AND w.key = ? AND w.value = ?) "
            "ORDER BY t.trace_id LIMIT ?"
        )
        args = (ARTIFACT_LOCATION_TAG, *experiment_ids, after, SPANS_LOCATION_TAG, SPANS_IN_DATABASE, limit)
        with db.read() as conn:
            return [(trace_id, location) for trace_id, location in db.fetch_all(conn, db.sql(sql), args)]

    def copy_spans(
        self,
        copies: Sequence[tuple[str, Sequence[dict[str, Any]], str | None]],
        path_of: Callable[[str], str | None] = lambda location: None,
    ) -> int:
        """Write each (trace id, the span dicts of its `traces.json`, the file's path or None) as the trace's
        rows, replacing those it had, in one transaction. Left alone: traces gone meanwhile, those whose
        spans live in the database (received over OTLP), and those whose artifact location is not where the
        file was (`path_of(location)`, when a path is given). Returns how many traces were written."""
        latest = {trace_id: (spans, path) for trace_id, spans, path in copies}  # a file uploaded twice: the last
        if not latest:
            return 0
        db = self.db
        # The traces' rows locked (on PostgreSQL: an upload and a search copying one trace take turns), with
        # the tags saying where their spans are, and whether they have span rows to replace.
        read = db.sql(
            "SELECT t.trace_id, tag.key, tag.value, "
            "EXISTS (SELECT 1 FROM trace_spans sp WHERE sp.trace_id = t.trace_id) FROM traces t "
            "LEFT JOIN trace_tags tag ON tag.trace_id = t.trace_id AND tag.key IN (?, ?) "
            f"WHERE t.trace_id IN ({db.marks(len(latest))}) ORDER BY t.trace_id"
            + ("" if db.is_sqlite else " FOR UPDATE OF t")
        )
        with db.write() as conn:
            found: dict[str, dict[str, str]] = {}
            replaced: set[str] = set()
            for trace_id, key, value, has_spans in db.run(conn, read, (*_WHERE_SPANS, *sorted(latest))):
                found.setdefault(trace_id, {})
                if key is not None:
                    found[trace_id][key] = value
                if has_spans:
                    replaced.add(trace_id)
            chosen = [
                trace_id
                for trace_id, tags in found.items()
                if tags.get(SPANS_LOCATION_TAG) != SPANS_IN_DATABASE
                and (latest[trace_id][1] is None or path_of(tags.get(ARTIFACT_LOCATION_TAG, "")) == latest[trace_id][1])
            ]
            if gone := [trace_id for trace_id in chosen if trace_id in replaced]:
                for table in ("trace_span_attributes", "trace_spans"):
                    db.run(conn, f"DELETE FROM {table} WHERE trace_id IN ({db.marks(len(gone))})", tuple(gone))
            write_spans(
                conn, [(trace_id, span) for trace_id in chosen for span in searchable_file(latest[trace_id][0])]
            )
        return len(chosen)

    def index_stored_spans(self, experiment_ids: Sequence[int]) -> int:
        """Give the span rows of these experiments that have no status yet (received over OTLP, or stored
        before migration 0013) their name, type, status and attributes. Returns how many spans."""
        db = self.db
        select_sql = db.sql(
            "SELECT sp.trace_id, sp.span_id, sp.start_time, sp.content FROM trace_spans sp JOIN traces t "
            f"ON t.trace_id = sp.trace_id WHERE sp.status IS NULL AND t.experiment_id IN "
            f"({db.marks(len(experiment_ids))}) LIMIT {_BATCH}"
            + ("" if db.is_sqlite else " FOR UPDATE OF sp")  # nor deleted meanwhile
        )
        done = 0
        while True:
            with db.write() as conn:
                rows = db.fetch_all(conn, select_sql, tuple(experiment_ids))
                spans = [
                    (trace_id, searchable_text(span_id, content, start)) for trace_id, span_id, start, content in rows
                ]
                # Only where the span is still the one read: on PostgreSQL an export may replace it meanwhile.
                insert_rows(conn, "trace_spans", SPAN_COLUMNS, [sp.row(t) for t, sp in spans], _FILL_IN)
                attributes = [row for trace_id, span in spans for row in span.attribute_rows(trace_id)]
                insert_rows(conn, "trace_span_attributes", ATTRIBUTE_COLUMNS, attributes, _ATTRIBUTE_UPSERT)
            done += len(rows)
            if len(rows) < _BATCH:
                return done

    def has_unindexed_spans(self, experiment_ids: Sequence[int]) -> bool:
        db = self.db
        sql = (
            "SELECT 1 FROM trace_spans sp JOIN traces t ON t.trace_id = sp.trace_id WHERE sp.status IS NULL "
            f"AND t.experiment_id IN ({db.marks(len(experiment_ids))}) LIMIT 1"
        )
        with db.read() as conn:
            return bool(db.fetch_all(conn, db.sql(sql), tuple(experiment_ids)))


def decode_attribute(text: Any) -> Any:
    """A span attribute's value: kept as JSON text (MLflow's client, `/v1/traces`); anything else (a
    plain string some SDK sent) is taken as it is."""
    if not isinstance(text, str):
        return text
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        pass
    try:  # NaN and infinities, which Python's json writes (MLflow's client, and `/v1/traces`)
        return json.loads(text)
    except ValueError:
        return text


def _json_object(text: str) -> dict[str, Any]:
    value = decode_attribute(text)
    return value if isinstance(value, dict) else {}


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _int(value: Any) -> int:
    """A span's time as the database holds it (int64): 0 where the file has none it could hold."""
    try:
        number = int(value or 0)
    except (TypeError, ValueError, OverflowError):  # not a number, NaN, infinite
        return 0
    return number if -(2**63) <= number < 2**63 else 0


def _text(value: str) -> str:
    """A span's text as both databases hold it: PostgreSQL's text cannot hold NUL."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _hex_span_id(span: dict[str, Any]) -> str | None:
    """MLflow 3 writes span ids in base64, MLflow 2 as `0x…` hex in the span's `context`."""
    raw = span.get("span_id")
    if isinstance(raw, str):
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) == 8:
            return decoded.hex()
    context = span.get("context")
    legacy = context.get("span_id") if isinstance(context, dict) else None
    if isinstance(legacy, str):
        hex_id = legacy.removeprefix("0x").lower()
        if len(hex_id) == 16 and all(c in "0123456789abcdef" for c in hex_id):
            return hex_id
    return None
