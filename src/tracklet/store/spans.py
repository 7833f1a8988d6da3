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

from sqlalchemy import Connection, bindparam, select, update

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import LOAD_CHUNK, chunks
from tracklet.store.traces import (
    ARTIFACT_LOCATION_TAG,
    SPANS_IN_DATABASE,
    SPANS_LOCATION_TAG,
    TraceStore,
    trace_artifact_location,
)

TRACE_NAME_TAG = "mlflow.traceName"


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


class SpanStore(TraceStore):
    def log_spans(self, experiment_id: int, batches: Sequence[SpanBatch], run_id: str | None = None) -> None:
        """Merge each batch into its trace, creating the trace at its first spans; with `run_id`, link the
        traces to that run. All or nothing: a trace of another experiment, or an unknown run, writes none."""
        by_trace = {batch.trace_id: batch for batch in batches}
        if len(by_trace) != len(batches):
            raise ValueError("one batch per trace")
        trace_ids = sorted(by_trace)  # rows are locked in this order: two exports cannot deadlock
        traces = s.traces
        with self.db.write() as conn:
            experiment = self._active_experiment_row(conn, experiment_id)
            if (
                run_id is not None
                and conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == run_id)).first() is None
            ):
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            new = [
                {
                    "trace_id": t,
                    "experiment_id": experiment_id,
                    "request_time": by_trace[t].start_time,
                    "state": "IN_PROGRESS",
                }
                for t in trace_ids
            ]
            conn.execute(self.db.insert(traces).on_conflict_do_nothing(index_elements=["trace_id"]), new)
            # Locked (on PostgreSQL) until the end of the transaction: exports of one trace merge in turn.
            rows = conn.execute(
                select(traces).where(traces.c.trace_id.in_(trace_ids)).order_by(traces.c.trace_id).with_for_update()
            ).all()
            updates, tags = [], []
            for row in rows:
                if row.experiment_id != experiment_id:
                    raise InvalidParameterValue(
                        f"Trace with ID '{row.trace_id}' already exists in experiment {row.experiment_id}, "
                        f"not in experiment {experiment_id}."
                    )
                batch = by_trace[row.trace_id]
                updates.append(_merged(row, batch))
                tags += [
                    {"trace_id": row.trace_id, "key": key, "value": value}
                    for key, value in _trace_tags(batch, experiment.artifact_location).items()
                ]
            conn.execute(
                update(traces)
                .where(traces.c.trace_id == bindparam("id"))
                .values({column: bindparam(f"new_{column}") for column in _MERGED_COLUMNS}),
                updates,
            )
            tag_insert = self.db.insert(s.trace_tags)
            conn.execute(
                tag_insert.on_conflict_do_update(
                    index_elements=["trace_id", "key"], set_={"value": tag_insert.excluded.value}
                ),
                tags,
            )
            self._upsert_spans(conn, batches)
            if run_id is not None:
                links = [{"trace_id": t, "run_id": run_id} for t in trace_ids]
                conn.execute(self.db.insert(s.trace_run_links).on_conflict_do_nothing(), links)

    def _upsert_spans(self, conn: Connection, batches: Sequence[SpanBatch]) -> None:
        rows = {
            (batch.trace_id, span.span_id): {
                "trace_id": batch.trace_id,
                "span_id": span.span_id,
                "start_time": span.start_time,
                "content": span.content,
            }
            for batch in batches
            for span in batch.spans
        }  # one row per span even if an export repeats one: an upsert may not touch a row twice
        stmt = self.db.insert(s.trace_spans)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["trace_id", "span_id"],
                set_={"start_time": stmt.excluded.start_time, "content": stmt.excluded.content},
            ),
            list(rows.values()),
        )

    def load_spans(self, trace_ids: Sequence[str]) -> dict[str, list[str]]:
        """The stored spans (JSON texts) of these traces, each trace's in order of start."""
        found: dict[str, list[str]] = {}
        spans = s.trace_spans
        with self.db.read() as conn:
            for part in chunks(list(dict.fromkeys(trace_ids)), LOAD_CHUNK):
                query = (
                    select(spans.c.trace_id, spans.c.content)
                    .where(spans.c.trace_id.in_(part))
                    .order_by(spans.c.trace_id, spans.c.start_time, spans.c.span_id)
                )
                for trace_id, content in conn.execute(query):
                    found.setdefault(trace_id, []).append(content)
        return found


_MERGED_COLUMNS = ("request_time", "execution_duration", "state", "request_preview", "response_preview")


def _merged(row: Any, batch: SpanBatch) -> dict[str, Any]:
    """The trace's row after this batch (`new_<column>`): from its earliest start to its latest end."""
    start = min(row.request_time, batch.start_time)
    ends = [end for end in (batch.end_time,) if end is not None]
    if row.execution_duration is not None:
        ends.append(row.request_time + row.execution_duration)
    root = batch.root
    merged = {
        "request_time": start,
        "execution_duration": max(ends) - start if ends else None,
        "state": root.state if root is not None else row.state,
        "request_preview": root.request_preview if root is not None else row.request_preview,
        "response_preview": root.response_preview if root is not None else row.response_preview,
    }
    return {"id": row.trace_id, **{f"new_{column}": value for column, value in merged.items()}}


def _trace_tags(batch: SpanBatch, experiment_location: str) -> dict[str, str]:
    tags = {} if batch.root is None else {**batch.root.tags, TRACE_NAME_TAG: batch.root.name}
    # Where the spans are, last: no tag a span carries may move them.
    tags[ARTIFACT_LOCATION_TAG] = trace_artifact_location(experiment_location, batch.trace_id)
    tags[SPANS_LOCATION_TAG] = SPANS_IN_DATABASE
    return tags
