"""MLflow 3 traces: their info rows, tags and metadata (their assessments: `assessments.py`; spans
received over OTLP: `spans.py`; what span filters compare: `span_search.py`). The spans MLflow's client
uploads are `traces.json` in the trace's artifact location (tag `mlflow.artifactLocation`), which the
store names but never reads (the server hands it their contents to search)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update

from tracklet.entities import MlflowExperimentLocation, TraceInfo, TraceLocation
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import LOAD_CHUNK, chunks, now_ms
from tracklet.store.assessments import Assessment, AssessmentStore
from tracklet.store.experiments import ExperimentStore
from tracklet.timestamps import format_duration, format_timestamp

ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
# Where a trace's spans are, in MLflow's words: "ARCHIVE_REPO", kept outside the database and read by the
# server (the client's `traces.json`), or "TRACKING_STORE", rows of `trace_spans` (received over OTLP).
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
SPANS_IN_ARTIFACTS = "ARCHIVE_REPO"
SPANS_IN_DATABASE = "TRACKING_STORE"
TRACE_STATES = ("STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")
MAX_TRACE_LINKS = 100  # MLflow's bound for traces/link-to-run
_DELETE_CHUNK = 500  # ids per statement: SQLite binds at most 32,766 values


@dataclass(frozen=True)
class NewTrace:
    """A trace as a client reports it when it ends (StartTraceV3), times in ms."""

    trace_id: str
    experiment_id: int
    request_time: int
    state: str
    execution_duration: int | None = None
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def prompt_link(name: str, version: int) -> str:
    """A linked prompt version as MLflow names it, and as `prompt = "name/3"` finds its traces."""
    return f"{name}/{version}"


def linked_prompt_versions(tag_value: str | None) -> list[str]:
    """The prompt versions a trace's `mlflow.linkedPrompts` tag names (`prompt_link`): MLflow's client
    writes it as a JSON list of {"name", "version"} beside the links. What is not such a list names none,
    nor does an entry `traces/link-prompts` would refuse (a name with '/', a version not a number)."""
    try:
        entries = json.loads(tag_value) if tag_value else []
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [
        prompt_link(e["name"], int(e["version"]))
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("name"), str)
        and e["name"]
        and "/" not in e["name"]
        and str(e.get("version", "")).isdigit()
    ]


def trace_artifact_location(experiment_location: str, trace_id: str) -> str:
    # Under the experiment's artifacts, beside its runs, as MLflow lays them out.
    return f"{experiment_location.rstrip('/')}/traces/{trace_id}/artifacts"


class TraceStore(ExperimentStore, AssessmentStore):
    def load_traces(self, conn: Connection, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """These traces with their tags, metadata and assessments, in this order; unknown ids are left
        out. Hand-written SQL through the driver, as `_load_experiments`: SQLAlchemy Core's statement
        building was most of a `get_trace_info` (four statements, 3 ms)."""
        if not trace_ids:
            return []
        rows: dict[str, tuple[Any, ...]] = {}
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        metadata: dict[str, dict[str, str]] = defaultdict(dict)
        for part in chunks(list(dict.fromkeys(trace_ids)), LOAD_CHUNK):
            marks, args = self.db.marks(len(part)), tuple(part)
            sql = f"SELECT {_TRACE_COLUMNS} FROM traces WHERE trace_id IN ({marks})"
            rows.update((row[0], row) for row in self.db.fetch_all(conn, sql, args))
            for table, into in (("trace_tags", tags), ("trace_metadata", metadata)):
                sql = f"SELECT trace_id, key, value FROM {table} WHERE trace_id IN ({marks})"
                for trace_id, key, value in self.db.fetch_all(conn, sql, args):
                    into[trace_id][key] = value
        assessments = self.load_assessments(conn, list(rows))
        return [
            _trace_info(row, tags.get(trace_id, {}), metadata.get(trace_id, {}), assessments.get(trace_id, []))
            for trace_id in trace_ids
            if (row := rows.get(trace_id)) is not None
        ]

    def start_trace(self, trace: NewTrace) -> TraceInfo:
        """Record a finished trace. The client may send the same trace again (it retries on timeouts):
        the second report updates the first, tags and metadata merged."""
        if trace.state not in TRACE_STATES:
            raise InvalidParameterValue(f"Invalid trace state '{trace.state}'. Expected one of {list(TRACE_STATES)}.")
        with self.db.write() as conn:
            experiment = self._active_experiment_row(conn, trace.experiment_id)
            existing = conn.execute(
                select(s.traces.c.experiment_id).where(s.traces.c.trace_id == trace.trace_id)
            ).scalar()
            if existing is not None and existing != trace.experiment_id:
                raise InvalidParameterValue(
                    f"Trace with ID '{trace.trace_id}' already exists in experiment {existing}, "
                    f"not in experiment {trace.experiment_id}."
                )
            row = {
                "trace_id": trace.trace_id,
                "experiment_id": trace.experiment_id,
                "request_time": trace.request_time,
                "execution_duration": trace.execution_duration,
                "state": trace.state,
                "client_request_id": trace.client_request_id,
                "request_preview": trace.request_preview,
                "response_preview": trace.response_preview,
            }
            stmt = self.db.insert(s.traces).values(row)
            conn.execute(stmt.on_conflict_do_update(index_elements=["trace_id"], set_=row))
            tags = {
                **trace.tags,
                ARTIFACT_LOCATION_TAG: trace_artifact_location(experiment.artifact_location, trace.trace_id),
            }
            self._upsert_trace_key_values(conn, s.trace_tags, trace.trace_id, tags)
            self._upsert_trace_key_values(conn, s.trace_metadata, trace.trace_id, trace.metadata)
            return self.load_traces(conn, [trace.trace_id])[0]

    def end_trace(
        self, trace_id: str, end_time: int, state: str, metadata: dict[str, str], tags: dict[str, str]
    ) -> TraceInfo:
        """The v2 API's second half: a trace started earlier ends at `end_time` (ms) in `state`."""
        if state not in TRACE_STATES:
            raise InvalidParameterValue(f"Invalid trace state '{state}'. Expected one of {list(TRACE_STATES)}.")
        with self.db.write() as conn:
            started = conn.execute(select(s.traces.c.request_time).where(s.traces.c.trace_id == trace_id)).scalar()
            if started is None:
                raise ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")
            if end_time < started:
                raise InvalidParameterValue(
                    f"The trace ends at {end_time} ms, before it started ({started} ms): 'timestamp_ms' is wrong."
                )
            conn.execute(
                update(s.traces)
                .where(s.traces.c.trace_id == trace_id)
                .values(execution_duration=end_time - started, state=state)
            )
            self._upsert_trace_key_values(conn, s.trace_tags, trace_id, _without_location(tags))
            self._upsert_trace_key_values(conn, s.trace_metadata, trace_id, metadata)
            return self.load_traces(conn, [trace_id])[0]

    def _upsert_trace_key_values(self, conn: Connection, table: Any, trace_id: str, items: dict[str, str]) -> None:
        if not items:
            return
        stmt = self.db.insert(table)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["trace_id", "key"], set_={"value": stmt.excluded.value}),
            [{"trace_id": trace_id, "key": k, "value": v} for k, v in items.items()],
        )

    def get_trace_info(self, trace_id: str) -> TraceInfo:
        with self.db.read() as conn:
            traces = self.load_traces(conn, [trace_id])
        if not traces:
            raise ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")
        return traces[0]

    def trace_run_ids(self, trace_id: str) -> list[str]:
        """The runs of a trace: the one it was recorded in (`mlflow.sourceRun`), then those it was linked
        to afterwards (an evaluation's), each once."""
        meta, links = s.trace_metadata, s.trace_run_links
        with self.db.read() as conn:
            self._check_trace(conn, trace_id)
            source = conn.execute(
                select(meta.c.value).where(meta.c.trace_id == trace_id, meta.c.key == s.SOURCE_RUN_KEY)
            ).scalars()
            linked = conn.execute(select(links.c.run_id).where(links.c.trace_id == trace_id).order_by(links.c.run_id))
            return list(dict.fromkeys([*source, *linked.scalars()]))

    def batch_get_trace_infos(self, trace_ids: Sequence[str], experiment_ids: Sequence[int] | None) -> list[TraceInfo]:
        """The traces found among these ids (unknown ones are left out), within these experiments if given."""
        with self.db.read() as conn:
            found = self.load_traces(conn, list(dict.fromkeys(trace_ids)))
        if experiment_ids is not None:
            allowed = {str(e) for e in experiment_ids}
            found = [t for t in found if t.trace_location.mlflow_experiment.experiment_id in allowed]
        return found

    def search_traces(
        self,
        experiment_ids: list[int],
        filter_string: str,
        order_by: list[str],
        max_results: int,
        page_token: str | None,
    ) -> tuple[list[TraceInfo], str | None]:
        """A page of traces; the next page's token holds the sort values of this page's last trace."""
        from tracklet.store import keyset, search_sql

        found = search_sql.TraceSearch(experiment_ids, filter_string, order_by)
        position = keyset.decode_token(page_token, found.sort_id, found.terms)
        with self.db.read() as conn:
            rows = conn.execute(found.page(max_results + 1, position)).all()
            traces = self.load_traces(conn, [row[0] for row in rows[:max_results]])
        last = rows[max_results - 1][1:] if len(rows) > max_results else None
        return traces, None if last is None else keyset.encode_token(found.sort_id, last)

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        with self.db.write() as conn:
            self._check_trace(conn, trace_id)
            self._upsert_trace_key_values(conn, s.trace_tags, trace_id, {key: value})

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        with self.db.write() as conn:
            self._check_trace(conn, trace_id)
            tags = s.trace_tags
            if conn.execute(delete(tags).where(tags.c.trace_id == trace_id, tags.c.key == key)).rowcount == 0:
                raise ResourceDoesNotExist(f"No trace tag with key '{key}' for trace with ID '{trace_id}'")

    def link_traces_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        """Link these traces to the run (`search_traces(run_id=…)` then finds them); ids of traces
        that do not exist are left out, as MLflow does."""
        if len(trace_ids) > MAX_TRACE_LINKS:
            raise InvalidParameterValue(
                f"Cannot link more than {MAX_TRACE_LINKS} traces to a run in a single request. "
                f"Provided {len(trace_ids)} traces."
            )
        with self.db.write() as conn:
            if conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == run_id)).first() is None:
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            existing = conn.execute(
                select(s.traces.c.trace_id).where(s.traces.c.trace_id.in_(list(trace_ids)))
            ).scalars()
            rows = [{"trace_id": trace_id, "run_id": run_id} for trace_id in existing]
            if rows:
                conn.execute(self.db.insert(s.trace_run_links).on_conflict_do_nothing(), rows)

    def link_prompts_to_trace(self, trace_id: str, prompt_versions: Sequence[str]) -> None:
        """Link these prompt versions ("name/3") to the trace; those already linked stay as they are."""
        if not prompt_versions:
            return  # as MLflow: nothing to link, nothing checked
        with self.db.write() as conn:
            if conn.execute(select(s.traces.c.trace_id).where(s.traces.c.trace_id == trace_id)).first() is None:
                raise ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")
            now = now_ms()
            rows = [
                {"trace_id": trace_id, "prompt_version": p, "created_time": now} for p in dict.fromkeys(prompt_versions)
            ]
            conn.execute(self.db.insert(s.trace_prompt_links).on_conflict_do_nothing(), rows)

    def delete_traces(
        self,
        experiment_id: int,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> tuple[int, list[str]]:
        """Delete the experiment's traces with these ids, or those that started at or before
        `max_timestamp_millis` (the oldest `max_traces` of them if given). Returns how many were
        deleted and their artifact locations, for the caller to remove their spans."""
        if max_timestamp_millis is None and not trace_ids:
            raise InvalidParameterValue("Either `max_timestamp_millis` or `request_ids` must be specified.")
        if max_timestamp_millis is not None and trace_ids:
            raise InvalidParameterValue("Only one of `max_timestamp_millis` and `request_ids` can be specified.")
        if trace_ids and max_traces is not None:
            raise InvalidParameterValue("`max_traces` can't be specified if `request_ids` is specified.")
        if max_traces is not None and max_traces <= 0:
            raise InvalidParameterValue(f"`max_traces` must be a positive integer, received {max_traces}.")
        traces = s.traces
        chosen = select(traces.c.trace_id).where(traces.c.experiment_id == experiment_id)
        if not trace_ids:
            chosen = chosen.where(traces.c.request_time <= max_timestamp_millis)
            chosen = chosen.order_by(traces.c.request_time, traces.c.trace_id).limit(max_traces)
        with self.db.write() as conn:
            self._experiment_row(conn, experiment_id)
            ids: list[str] = []
            if trace_ids:  # only the experiment's: ids of other experiments' traces delete nothing
                for part in chunks(list(dict.fromkeys(trace_ids)), _DELETE_CHUNK):
                    ids += conn.execute(chosen.where(traces.c.trace_id.in_(part))).scalars()
            else:
                ids += conn.execute(chosen).scalars()
            locations = delete_trace_rows(conn, ids)
        return len(ids), locations


def delete_trace_rows(conn: Connection, trace_ids: list[str]) -> list[str]:
    """Delete these traces and everything of theirs from the database; returns the artifact locations
    of their uploaded spans, for the caller to remove."""
    locations: list[str] = []
    tags = s.trace_tags
    for part in chunks(trace_ids, _DELETE_CHUNK):
        locations += conn.execute(
            select(tags.c.value).where(tags.c.trace_id.in_(part), tags.c.key == ARTIFACT_LOCATION_TAG)
        ).scalars()
        for table in (
            s.trace_span_attributes,
            s.trace_spans,
            s.trace_assessments,
            s.trace_run_links,
            s.trace_prompt_links,
            s.trace_tags,
            s.trace_metadata,
            s.traces,
        ):
            conn.execute(delete(table).where(table.c.trace_id.in_(part)))
        # A deleted trace leaves the review queues it was in, as in MLflow.
        conn.execute(delete(s.review_queue_items).where(s.review_queue_items.c.item_id.in_(part)))
    return locations


_TRACE_COLUMNS = ", ".join(c.name for c in s.traces.columns)


def _trace_info(
    row: tuple[Any, ...], tags: dict[str, str], metadata: dict[str, str], assessments: list[Assessment]
) -> TraceInfo:
    trace_id, experiment_id, request_time, duration, state, client_request_id, request_preview, response_preview = row
    return TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation(MlflowExperimentLocation(str(experiment_id))),
        request_time=format_timestamp(request_time),
        state=state,
        execution_duration=None if duration is None else format_duration(duration),
        client_request_id=client_request_id,
        request_preview=request_preview,
        response_preview=response_preview,
        trace_metadata=metadata,
        tags=tags,
        assessments=assessments,
    )


def _without_location(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k != ARTIFACT_LOCATION_TAG}
