"""Aggregates over an experiment's traces, spans and assessments (`traces/metrics`, which MLflow's UI charts
draw), and how two trace filters co-occur (`traces/calculate-filter-correlation`), computed in SQL.

A metric is one of a view's (`METRICS`): the column it aggregates, the aggregations and the dimensions it
may be grouped by, as MLflow defines them. Rows are those of the view in the experiments, narrowed by
filters (`trace.status = 'OK'`, `trace.tag.<key> = 'v'`, `trace.metadata.<key> = 'v'`, `span.name|type|status
= 'v'`, `assessment.name|type = 'v'`), a time range, and grouped by time buckets of the trace's start (a
span's own start for span costs and buckets) and the dimensions. What MLflow keeps in columns of its own
tracklet reads from where the client put it: token counts from the trace's `mlflow.trace.tokenUsage`
metadata, a span's end and cost from its JSON and its `mlflow.llm.cost` attribute, its model from
`mlflow.llm.model` and `mlflow.llm.provider`, an assessment's value from the assessment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, and_, case, distinct, exists, false, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from tracklet.errors import InvalidParameterValue
from tracklet.store import dialects
from tracklet.store import schema as s
from tracklet.store.search_sql import TraceSearch
from tracklet.store.traces import TraceStore

TRACES, SPANS, ASSESSMENTS = "TRACES", "SPANS", "ASSESSMENTS"
COUNT, SUM, AVG, PERCENTILE, MIN, MAX = "COUNT", "SUM", "AVG", "PERCENTILE", "MIN", "MAX"
TIME_BUCKET = "time_bucket"
SESSION_METADATA = "mlflow.trace.session"
TOKEN_USAGE_METADATA = "mlflow.trace.tokenUsage"
_BIGINT_MAX = 2**63 - 1
_NS_PER_MS = 1_000_000
_MAX_FLOAT = 1.7976931348623157e308


@dataclass(frozen=True)
class Aggregation:
    kind: str  # COUNT, SUM, AVG, PERCENTILE, MIN or MAX
    percentile: float | None = None

    @property
    def label(self) -> str:
        """The key of its value in a data point, as MLflow names it (`P50.0`, `AVG`)."""
        return f"P{self.percentile}" if self.kind == PERCENTILE else self.kind


@dataclass(frozen=True)
class Metric:
    aggregations: frozenset[str]
    dimensions: frozenset[str] = frozenset()


_NUMERIC = frozenset({SUM, AVG, MIN, MAX, PERCENTILE})
_SPREAD = frozenset({AVG, MIN, MAX, PERCENTILE})
_TOKENS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_COSTS = ("input_cost", "output_cost", "total_cost")
_SPAN_MODEL = frozenset({"span_model_name", "span_model_provider"})

# Each view's metrics, as MLflow's server defines them (`sql_trace_metrics_utils`).
METRICS: dict[str, dict[str, Metric]] = {
    TRACES: {
        "trace_count": Metric(frozenset({COUNT}), frozenset({"trace_name", "trace_status"})),
        "session_count": Metric(frozenset({COUNT})),
        "latency": Metric(_SPREAD, frozenset({"trace_name"})),
        **{name: Metric(_NUMERIC, frozenset({"trace_name"})) for name in _TOKENS},
    },
    SPANS: {
        "span_count": Metric(frozenset({COUNT}), frozenset({"span_name", "span_type", "span_status"}) | _SPAN_MODEL),
        "latency": Metric(_SPREAD, frozenset({"span_name", "span_status"})),
        **{name: Metric(_NUMERIC, _SPAN_MODEL) for name in _COSTS},
    },
    ASSESSMENTS: {
        "assessment_count": Metric(frozenset({COUNT}), frozenset({"assessment_name", "assessment_value"})),
        "assessment_value": Metric(_SPREAD, frozenset({"assessment_name"})),
    },
}

# `<view>.<entity>[.<key>] = '<value>'`: whether each entity takes a key.
_FILTER_ENTITIES = {
    "trace": {"status": False, "tag": True, "metadata": True},
    "span": {"name": False, "status": False, "type": False},
    "assessment": {"name": False, "type": False},
}
_FILTER = re.compile(r"^\s*(?P<name>[^\s=!<>]+)\s*(?P<op>!=|<>|<=|>=|=|<|>|\S+)\s*(?P<value>.*?)\s*$", re.S)


@dataclass(frozen=True)
class MetricFilter:
    view: str
    entity: str
    key: str | None
    value: str


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`'\"":
        return text[1:-1]
    return text


def parse_metric_filter(text: str) -> MetricFilter:
    """One filter clause of a metrics query, checked as MLflow checks it."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterValue(f"Invalid filter: '{text}'. Expected one filter clause.")
    found = _FILTER.match(text)
    if found is None or re.search(r"\s(?i:and|or)\s", found["value"]):
        raise InvalidParameterValue(f"Invalid filter: '{text}'. Expected one filter clause.")
    name, op, value = found["name"], found["op"], found["value"]
    parts = name.split(".", 2)
    if len(parts) < 2:
        raise InvalidParameterValue(
            f"Invalid identifier {name!r}. Columns should be specified as 'trace.<key>', 'span.<key>', 'assessment.<key>'."
        )
    view, entity = _unquoted(parts[0]), parts[1]
    key = _unquoted(parts[2]) if len(parts) == 3 else None
    if view not in _FILTER_ENTITIES:
        raise InvalidParameterValue(f"Invalid view type '{view}'. Valid values are {list(_FILTER_ENTITIES)}")
    entities = _FILTER_ENTITIES[view]
    if entity not in entities:
        raise InvalidParameterValue(
            f"Invalid entity '{entity}' specified for view type '{view}'. Valid entities are {list(entities)}"
        )
    if entities[entity] and key is None:
        raise InvalidParameterValue(f"Filtering by {entity} requires a key, e.g. '{view}.{entity}.<key> = <value>'")
    if not entities[entity] and key is not None:
        raise InvalidParameterValue(f"Filtering by {entity} does not require a key, use '{view}.{entity}' instead")
    if op != "=":
        raise InvalidParameterValue(f"Invalid comparator: '{op}', only '=' operator is supported")
    if len(value) < 2 or value[0] != value[-1] or value[0] not in "'\"":
        raise InvalidParameterValue(
            f"Expected a quoted string value for {entity} value (e.g. 'my-value'). Got value {value}"
        )
    return MetricFilter(view, entity, key, value[1:-1])


@dataclass
class _Query:
    """A metrics query under construction: the rows (FROM, WHERE) and what is selected from them."""

    view: str
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    joins: list[tuple[Any, ColumnElement[bool]]] = field(default_factory=list)  # outer joins, in order


def _key_value_exists(table: Any, key: str, value: str) -> ColumnElement[bool]:
    return exists().where(table.c.trace_id == s.traces.c.trace_id, table.c.key == key, table.c.value == value)


class TraceMetricsStore(TraceStore):
    def query_trace_metrics(
        self,
        experiment_ids: Sequence[int],
        view: str,
        metric_name: str,
        aggregations: Sequence[Aggregation],
        dimensions: Sequence[str],
        filters: Sequence[str],
        time_interval_seconds: int | None,
        start_time_ms: int | None,
        end_time_ms: int | None,
        max_results: int,
    ) -> list[dict[str, Any]]:
        """Data points `{"metric_name", "dimensions", "values"}`, ordered by time bucket then dimensions."""
        _check_metric(view, metric_name, aggregations, dimensions)
        if time_interval_seconds and (start_time_ms is None or end_time_ms is None):
            raise InvalidParameterValue("start_time_ms and end_time_ms are required if time_interval_seconds is set")
        parsed = [parse_metric_filter(f) for f in filters]
        engine = self.db.engine
        query = _Query(view, [s.traces.c.experiment_id.in_(list(experiment_ids))])
        for f in parsed:
            query.conditions.append(_filter_condition(view, f))
        value = self._metric_column(query, metric_name)
        uses_span_time = view == SPANS and metric_name in _COSTS
        when = s.trace_spans.c.start_time if uses_span_time else s.traces.c.request_time
        query.conditions.append(_time_range(when, start_time_ms, end_time_ms, nanoseconds=uses_span_time))

        groups: list[tuple[str, ColumnElement[Any]]] = []
        if time_interval_seconds:
            bucket_ms = time_interval_seconds * 1000
            if view == SPANS:
                bucket = dialects.floor_division(engine, s.trace_spans.c.start_time, bucket_ms * _NS_PER_MS)
            else:
                bucket = dialects.floor_division(engine, s.traces.c.request_time, bucket_ms)
            groups.append((TIME_BUCKET, bucket * bucket_ms))
        for dimension in dimensions:
            groups.append((dimension, self._dimension_column(query, dimension)))

        # Each row's value and groups computed once, in a subquery `OFFSET 0` keeps from being merged into
        # the aggregate (on both databases): merged, a value read from JSON was parsed again for its
        # IS NOT NULL. Rows without a value or a group are left out before the LIMIT, as MLflow does.
        row_columns = [value.label("value"), *(column.label(f"g{i}") for i, (_, column) in enumerate(groups))]
        rows = select(*row_columns).select_from(_from_clause(query)).where(*query.conditions).offset(0).subquery()
        kept = [rows.c[f"g{i}"].is_not(None) for i in range(len(groups))]
        if not (view == TRACES and metric_name == "session_count"):
            kept.append(rows.c.value.is_not(None))
        grouped = [rows.c[f"g{i}"] for i in range(len(groups))]
        counted = distinct(rows.c.value) if metric_name == "session_count" else rows.c.value
        aggregated = [self._aggregate(a, counted) for a in aggregations]
        stmt = select(*grouped, *aggregated).where(*kept)
        if groups:
            stmt = stmt.group_by(*grouped).order_by(*grouped)
        with self.db.read() as conn:
            found = conn.execute(stmt.limit(max_results)).all()
        labels = [a.label for a in aggregations]
        return [point for row in found if (point := _data_point(metric_name, groups, labels, row)) is not None]

    def _metric_column(self, query: _Query, metric_name: str) -> ColumnElement[Any]:
        engine, traces, spans = self.db.engine, s.traces, s.trace_spans
        if query.view == TRACES:
            if metric_name == "trace_count":
                return traces.c.trace_id
            if metric_name == "latency":
                return traces.c.execution_duration
            if metric_name == "session_count":
                session = _outer_key_value(query, s.trace_metadata, SESSION_METADATA)
                query.conditions.append(session.c.value.is_not(None))
                return session.c.value  # counted DISTINCT
            usage = _outer_key_value(query, s.trace_metadata, TOKEN_USAGE_METADATA)
            return dialects.json_number(engine, usage.c.value, metric_name)
        if query.view == SPANS:
            if metric_name == "span_count":
                return spans.c.span_id
            if metric_name == "latency":
                end = dialects.json_number(engine, spans.c.content, "end_time_unix_nano")
                return dialects.floor_division(engine, end - spans.c.start_time, _NS_PER_MS)
            cost = _outer_attribute(query, "mlflow.llm.cost")
            return dialects.json_number(engine, cost.c.value, metric_name)
        assessments = s.trace_assessments
        if metric_name == "assessment_count":
            return assessments.c.assessment_id
        return self._assessment_number()

    def _assessment_number(self) -> ColumnElement[Any]:
        """An assessment's value as a number, as MLflow aggregates it: a finite number as itself, true and
        "yes" as 1, false and "no" as 0; anything else none."""
        a = s.trace_assessments
        kinds = {k: dialects.json_type_at(self.db.engine, a.c.body, path) for k, path in _VALUE_PATHS.items()}
        json_type = case(*((a.c.kind == k, t) for k, t in kinds.items()))
        answer = func.lower(func.trim(a.c.value))
        # The value's text first, the JSON type (a parse of the body) only for the few texts that may count.
        return case(
            (a.c.number.is_not(None), case((func.abs(a.c.number) <= _MAX_FLOAT, a.c.number))),
            (a.c.value == "true", case((json_type == "boolean", literal(1.0, Float())))),
            (a.c.value == "false", case((json_type == "boolean", literal(0.0, Float())))),
            (answer == "yes", case((json_type == "string", literal(1.0, Float())))),
            (answer == "no", case((json_type == "string", literal(0.0, Float())))),
        )

    def _dimension_column(self, query: _Query, dimension: str) -> ColumnElement[Any]:
        traces, spans, assessments = s.traces, s.trace_spans, s.trace_assessments
        match dimension:
            case "trace_name":
                return _outer_key_value(query, s.trace_tags, s.TRACE_NAME_TAG).c.value
            case "trace_status":
                return traces.c.state
            case "span_name":
                return spans.c.name
            case "span_type":
                return spans.c.type
            case "span_status":
                return spans.c.status
            case "span_model_name":
                return func.substr(_outer_attribute(query, "mlflow.llm.model").c.value, 1, 500)
            case "span_model_provider":
                return func.substr(_outer_attribute(query, "mlflow.llm.provider").c.value, 1, 500)
            case "assessment_name":
                return assessments.c.name
        # assessment_value: the value as MLflow's JSON text (`"yes"`, `true`, `0.5`)
        texts = {k: dialects.json_text_at(self.db.engine, assessments.c.body, p) for k, p in _VALUE_PATHS.items()}
        return case(*((assessments.c.kind == k, t) for k, t in texts.items()))

    def _aggregate(self, aggregation: Aggregation, value: ColumnElement[Any]) -> ColumnElement[Any]:
        match aggregation.kind:
            case "COUNT":
                return func.count(value)
            case "SUM":
                return func.sum(value)
            case "AVG":
                return func.avg(value)
            case "MIN":
                return func.min(value)
            case "MAX":
                return func.max(value)
        assert aggregation.percentile is not None
        return dialects.percentile(self.db.engine, value, aggregation.percentile)

    def trace_filter_correlation(
        self, experiment_ids: Sequence[int], filter1: str, filter2: str, base_filter: str | None
    ) -> dict[str, int]:
        """How many traces of the experiments (of those `base_filter` matches, if given) match each filter,
        both, and in all: the counts of MLflow's NPMI."""

        # As MLflow does: the traces each filter matches as a subquery, outer-joined to the base's traces.
        # PostgreSQL hashes each (the filters' EXISTS tested inside a CASE ran once per row: 12 times slower).
        def matching(filter_string: str) -> Any:
            conditions = TraceSearch(experiment_ids, _both(base_filter, filter_string), None).conditions
            return select(s.traces.c.trace_id).where(*conditions).subquery()

        first, second = matching(filter1), matching(filter2)
        base = TraceSearch(experiment_ids, base_filter, None).conditions
        rows = s.traces.outerjoin(first, first.c.trace_id == s.traces.c.trace_id)
        rows = rows.outerjoin(second, second.c.trace_id == s.traces.c.trace_id)
        both = case((first.c.trace_id.is_not(None), second.c.trace_id))
        counts = (func.count(), func.count(first.c.trace_id), func.count(second.c.trace_id), func.count(both))
        stmt = select(*counts).select_from(rows).where(*base)
        with self.db.read() as conn:
            total, one, two, joint = conn.execute(stmt).one()
        return {
            "total_count": int(total),
            "filter1_count": int(one),
            "filter2_count": int(two),
            "joint_count": int(joint),
        }


def _both(base_filter: str | None, filter_string: str) -> str:
    """A filter within the base filter, as MLflow joins them (traces/search filters only take AND)."""
    return f"{base_filter} and {filter_string}" if base_filter else filter_string


# Where an assessment keeps its value in its body: a feedback's and an expectation's `value`, an issue whole.
_VALUE_PATHS: dict[str, tuple[str, ...]] = {
    "feedback": ("feedback", "value"),
    "expectation": ("expectation", "value"),
    "issue": ("issue",),
}


def _check_metric(
    view: str, metric_name: str, aggregations: Sequence[Aggregation], dimensions: Sequence[str]
) -> Metric:
    if view not in METRICS:
        raise InvalidParameterValue(f"view_type must be one of {list(METRICS)}, got '{view}'")
    metrics = METRICS[view]
    if metric_name not in metrics:
        raise InvalidParameterValue(f"metric_name must be one of {list(metrics)}, got '{metric_name}'")
    metric = metrics[metric_name]
    if invalid := {a.kind for a in aggregations} - metric.aggregations:
        raise InvalidParameterValue(
            f"Found invalid aggregation_type(s): {sorted(invalid)}. Supported aggregation types: "
            f"{sorted(metric.aggregations)}"
        )
    if invalid_dimensions := set(dimensions) - metric.dimensions:
        raise InvalidParameterValue(
            f"Found invalid dimension(s): {sorted(invalid_dimensions)}. Supported dimensions: "
            f"{sorted(metric.dimensions)}"
        )
    return metric


def _outer_key_value(query: _Query, table: Any, key: str) -> Any:
    """A trace's row of this key in a key-value table (tags, metadata), joined once per key."""
    alias = table.alias(f"{table.name}_{len(query.joins)}")
    query.joins.append((alias, and_(alias.c.trace_id == s.traces.c.trace_id, alias.c.key == key)))
    return alias


def _outer_attribute(query: _Query, key: str) -> Any:
    """A span's attribute of this key, joined once per key."""
    attributes = s.trace_span_attributes
    alias = attributes.alias(f"attributes_{len(query.joins)}")
    spans = s.trace_spans
    on = and_(alias.c.trace_id == spans.c.trace_id, alias.c.span_id == spans.c.span_id, alias.c.key == key)
    query.joins.append((alias, on))
    return alias


def _from_clause(query: _Query) -> Any:
    rows: Any = s.traces
    if query.view == SPANS:
        rows = rows.join(s.trace_spans, s.trace_spans.c.trace_id == s.traces.c.trace_id)
    elif query.view == ASSESSMENTS:
        a = s.trace_assessments
        rows = rows.join(a, and_(a.c.trace_id == s.traces.c.trace_id, a.c.valid == true()))
    for alias, on in query.joins:
        rows = rows.outerjoin(alias, on)
    return rows


def _filter_condition(view: str, f: MetricFilter) -> ColumnElement[bool]:
    if f.view == "trace":
        if f.entity == "status":
            return s.traces.c.state == f.value
        if f.entity == "tag":
            assert f.key is not None
            return _key_value_exists(s.trace_tags, f.key, f.value)
        assert f.key is not None
        found = _key_value_exists(s.trace_metadata, f.key, f.value)
        if f.key == s.SOURCE_RUN_METADATA:  # recorded in the run, or linked to it later
            links = s.trace_run_links
            return or_(found, exists().where(links.c.trace_id == s.traces.c.trace_id, links.c.run_id == f.value))
        return found
    if f.view == "span":
        if view != SPANS:
            raise InvalidParameterValue(f"Filtering by span is only supported for {SPANS} view type, got {view}")
        return s.trace_spans.c[f.entity] == f.value
    if view != ASSESSMENTS:
        raise InvalidParameterValue(
            f"Filtering by assessment is only supported for {ASSESSMENTS} view type, got {view}"
        )
    column = s.trace_assessments.c.name if f.entity == "name" else s.trace_assessments.c.kind
    return column == f.value


def _time_range(
    column: ColumnElement[int], start_ms: int | None, end_ms: int | None, *, nanoseconds: bool
) -> ColumnElement[bool]:
    """From `start_ms` to `end_ms`, both included (a span's start in ns: every ns of the last ms); bounds
    past what a BIGINT holds are decided here, not sent."""
    scale = _NS_PER_MS if nanoseconds else 1
    conditions: list[ColumnElement[bool]] = []
    if start_ms is not None:
        start = start_ms * scale
        if start > _BIGINT_MAX:
            conditions.append(false())
        elif start > -_BIGINT_MAX:
            conditions.append(column >= start)
    if end_ms is not None:
        end = (end_ms + 1) * scale - 1 if nanoseconds else end_ms
        if end < -_BIGINT_MAX:
            conditions.append(false())
        elif end < _BIGINT_MAX:
            conditions.append(column <= end)
    return and_(true(), *conditions)


def _data_point(
    metric_name: str, groups: list[tuple[str, ColumnElement[Any]]], labels: list[str], row: Sequence[Any]
) -> dict[str, Any] | None:
    dimensions: dict[str, str] = {}
    for i, (name, _) in enumerate(groups):
        value = row[i]
        if value is None:
            return None
        if name == TIME_BUCKET:
            value = datetime.fromtimestamp(float(value) / 1000, tz=UTC).isoformat()
        dimensions[name] = str(value)
    values = {label: float(v) for label, v in zip(labels, row[len(groups) :], strict=True) if v is not None}
    values = {k: v for k, v in values.items() if not math.isnan(v)}
    if not values:
        return None
    return {"metric_name": metric_name, "dimensions": dimensions, "values": values}
