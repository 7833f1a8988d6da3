"""Spans received over OTLP (`/v1/traces`), merged into their traces as they arrive.

An OpenTelemetry SDK exports spans as they end, in batches: a trace's children often arrive before
its root, in another request, perhaps at another server worker. So each span is a row (`trace_spans`,
replaced when the same span arrives again) and the trace's info follows what has arrived: it starts at
its earliest span, lasts until its latest end, and stays IN_PROGRESS until the root span comes, from
which it takes its state, name, previews and tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import LOAD_CHUNK, chunks, insert_rows
from tracklet.store.assessments import Assessment
from tracklet.store.search_sql import LINKED_PROMPTS_TAG
from tracklet.store.span_search import SpanSearchStore, searchable_text, write_spans
from tracklet.store.traces import (
    ARTIFACT_LOCATION_TAG,
    SPANS_IN_DATABASE,
    SPANS_LOCATION_TAG,
    NewTrace,
    linked_prompt_versions,
    trace_artifact_location,
)


@dataclass(frozen=True)
class StoredSpan:
    span_id: str  # hex
    start_time: int  # ns since the epoch
    content: str  # the span as JSON, in the layout of `traces.json`


@dataclass(frozen=True)
class TraceRoot:
    """What a trace's info takes from its root span."""

    name: str
    state: str  # "OK" or "ERROR"
    request_preview: str | None = None
    response_preview: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SpanBatch:
    """The spans of one trace in one export; times of the trace in ms."""

    trace_id: str
    spans: list[StoredSpan]
    start_time: int  # the earliest start among these spans
    end_time: int | None  # the latest end among those that ended
    root: TraceRoot | None = None


class SpanStore(SpanSearchStore):
    def log_spans(self, experiment_id: int, batches: Sequence[SpanBatch], run_id: str | None = None) -> None:
        """Merge each batch into its trace, creating the trace at its first spans; with `run_id`, link the
        traces to that run. All or nothing: a trace of another experiment, or an unknown run, writes none.
        Hand-written SQL through the driver: SQLAlchemy Core's statement building was most of an export
        of one trace (1.7 ms)."""
        by_trace = {batch.trace_id: batch for batch in batches}
        if len(by_trace) != len(batches):
            raise ValueError("one batch per trace")
        trace_ids = sorted(by_trace)  # rows are locked in this order: two exports cannot deadlock
        db = self.db
        with db.write() as conn:
            experiment = self._active_experiment_row(conn, experiment_id)
            if run_id is not None and not db.run(conn, db.sql("SELECT 1 FROM runs WHERE run_uuid = ?"), (run_id,)):
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            new = [(t, experiment_id, by_trace[t].start_time, "IN_PROGRESS") for t in trace_ids]
            insert_rows(conn, "traces", _NEW_TRACE_COLUMNS, new, "ON CONFLICT (trace_id) DO NOTHING")
            # Locked (on PostgreSQL) until the end of the transaction: exports of one trace merge in turn.
            rows: list[tuple[Any, ...]] = []
            for part in chunks(trace_ids, LOAD_CHUNK):
                sql = f"SELECT {_MERGE_READ} FROM traces WHERE trace_id IN ({db.marks(len(part))}) ORDER BY trace_id"
                rows += db.run(conn, sql if db.is_sqlite else sql + " FOR UPDATE", tuple(part))
            tags: list[tuple[str, str, str]] = []
            for row in rows:
                trace_id, owner = row[0], row[1]
                if owner != experiment_id:
                    raise InvalidParameterValue(
                        f"Trace with ID '{trace_id}' already exists in experiment {owner}, "
                        f"not in experiment {experiment_id}."
                    )
                batch = by_trace[trace_id]
                db.run(conn, db.sql(_UPDATE_SQL), (*_merged(row, batch), trace_id))
                tags += [(trace_id, k, v) for k, v in _trace_tags(batch, experiment.artifact_location).items()]
            insert_rows(
                conn,
                "trace_tags",
                _TAG_COLUMNS,
                tags,
                "ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value",
            )
            # One row per span even if an export repeats one: an upsert may not touch a row twice. Without the
            # fields span filters compare, which cost an export of 512 spans twice its time here: they are
            # filled in later (`index_stored_spans`); a span sent again is filled in afresh.
            spans = {
                (b.trace_id, sp.span_id): (b.trace_id, sp.span_id, sp.start_time, sp.content)
                for b in batches
                for sp in b.spans
            }
            insert_rows(conn, "trace_spans", _SPAN_COLUMNS, list(spans.values()), _SPAN_UPSERT)
            if run_id is not None:
                links = [(t, run_id) for t in trace_ids]
                insert_rows(conn, "trace_run_links", ("trace_id", "run_id"), links, "ON CONFLICT DO NOTHING")
                # Also the run the trace was recorded in, as MLflow's client notes it (the trace's first
                # run if exports name several): the run column of trace lists and `metadata.` filters.
                source = [(t, s.SOURCE_RUN_METADATA, run_id) for t in trace_ids]
                insert_rows(conn, "trace_metadata", _TAG_COLUMNS, source, "ON CONFLICT DO NOTHING")

    def trace_exists(self, trace_id: str) -> bool:
        with self.db.read() as conn:
            return self._trace_stored(conn, trace_id)

    def _trace_stored(self, conn: Connection, trace_id: str) -> bool:
        return bool(self.db.run(conn, self.db.sql("SELECT 1 FROM traces WHERE trace_id = ?"), (trace_id,)))

    def import_trace(self, trace: NewTrace, spans: Sequence[StoredSpan], assessments: Sequence[Assessment]) -> bool:
        """A trace copied from another server (`tracklet import-mlflow`) with its spans, kept as rows
        (`TRACKING_STORE`), and its assessments under their own ids, in one transaction: it is there
        whole or not at all. False (nothing written) when a trace with this id is stored already."""
        with self.db.write() as conn:
            if self._trace_stored(conn, trace.trace_id):
                return False
            experiment = self._experiment_row(conn, trace.experiment_id)  # a deleted one keeps its traces too
            conn.execute(
                s.traces.insert().values(
                    trace_id=trace.trace_id,
                    experiment_id=trace.experiment_id,
                    request_time=trace.request_time,
                    execution_duration=trace.execution_duration,
                    state=trace.state,
                    client_request_id=trace.client_request_id,
                    request_preview=trace.request_preview,
                    response_preview=trace.response_preview,
                )
            )
            tags = {
                **trace.tags,
                ARTIFACT_LOCATION_TAG: trace_artifact_location(experiment.artifact_location, trace.trace_id),
                SPANS_LOCATION_TAG: SPANS_IN_DATABASE,
            }
            self._upsert_trace_key_values(conn, s.trace_tags, trace.trace_id, tags)
            self._upsert_trace_key_values(conn, s.trace_metadata, trace.trace_id, trace.metadata)
            # MLflow's API lists no trace's prompt links; its client's tag names them (`prompt = "qa/2"`).
            prompts = dict.fromkeys(linked_prompt_versions(trace.tags.get(LINKED_PROMPTS_TAG)))
            insert_rows(
                conn,
                "trace_prompt_links",
                ("trace_id", "prompt_version", "created_time"),
                [(trace.trace_id, p, trace.request_time) for p in prompts],
            )
            rows = {
                sp.span_id: (trace.trace_id, searchable_text(sp.span_id, sp.content, sp.start_time)) for sp in spans
            }
            write_spans(conn, list(rows.values()))
            self._insert_copied_assessments(conn, trace.trace_id, assessments)
        return True

    def load_spans(self, trace_ids: Sequence[str]) -> dict[str, list[str]]:
        """The stored spans (JSON texts) of these traces, each trace's in order of start. Through the
        driver, as `load_traces` (both answer every `traces/batchGet`)."""
        found: dict[str, list[str]] = {}
        db = self.db
        with db.read() as conn:
            for part in chunks(list(dict.fromkeys(trace_ids)), LOAD_CHUNK):
                sql = (
                    f"SELECT trace_id, content FROM trace_spans WHERE trace_id IN ({db.marks(len(part))}) "
                    "ORDER BY trace_id, start_time, span_id"
                )
                for trace_id, content in db.fetch_all(conn, sql, tuple(part)):
                    found.setdefault(trace_id, []).append(content)
        return found


_NEW_TRACE_COLUMNS = ("trace_id", "experiment_id", "request_time", "state")
_MERGED_COLUMNS = ("request_time", "execution_duration", "state", "request_preview", "response_preview")
_MERGE_READ = ", ".join(("trace_id", "experiment_id", *_MERGED_COLUMNS))
_UPDATE_SQL = f"UPDATE traces SET {', '.join(f'{c} = ?' for c in _MERGED_COLUMNS)} WHERE trace_id = ?"
_TAG_COLUMNS = ("trace_id", "key", "value")  # of trace_metadata too
_SPAN_COLUMNS = ("trace_id", "span_id", "start_time", "content")
_SPAN_UPSERT = (
    "ON CONFLICT (trace_id, span_id) DO UPDATE SET start_time = excluded.start_time, content = excluded.content, "
    "name = NULL, type = NULL, status = NULL"
)


def _merged(row: tuple[Any, ...], batch: SpanBatch) -> tuple[Any, ...]:
    """The trace's `_MERGED_COLUMNS` after this batch: from its earliest start to its latest end."""
    _, _, request_time, duration, state, request_preview, response_preview = row
    start = min(request_time, batch.start_time)
    ends = [end for end in (batch.end_time,) if end is not None]
    if duration is not None:
        ends.append(request_time + duration)
    root = batch.root
    if root is not None:
        state, request_preview, response_preview = root.state, root.request_preview, root.response_preview
    return start, max(ends) - start if ends else None, state, request_preview, response_preview


def _trace_tags(batch: SpanBatch, experiment_location: str) -> dict[str, str]:
    tags = {} if batch.root is None else {**batch.root.tags, s.TRACE_NAME_TAG: batch.root.name}
    # Where the spans are, last: no tag a span carries may move them.
    tags[ARTIFACT_LOCATION_TAG] = trace_artifact_location(experiment_location, batch.trace_id)
    tags[SPANS_LOCATION_TAG] = SPANS_IN_DATABASE
    return tags
