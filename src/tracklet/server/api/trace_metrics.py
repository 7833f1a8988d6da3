"""`/api/3.0/mlflow/traces/metrics` and `traces/calculate-filter-correlation`: what MLflow's UI charts of an
experiment's traces (counts, latencies, tokens, span costs, assessment values, by time and dimension) and
how two trace filters co-occur (NPMI). Both read only; both also answer under `/ajax-api`, as in MLflow.
The SQL is in `store/trace_metrics.py`."""

from __future__ import annotations

import math
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.server.api.trace_spans import copy_spans_for_search, filters_spans
from tracklet.server.protocol import Int64, json_response, read_json, run_read
from tracklet.server.state import artifacts_of, store_of
from tracklet.store.trace_metrics import PERCENTILE, SPANS, Aggregation
from tracklet.validation import missing, parse_experiment_id

MAX_METRIC_RESULTS = 1000  # MLflow's default page of data points
JEFFREYS_PRIOR = 0.5
MAX_INTERVAL_SECONDS = (
    2**63 - 1
) // 10**9  # a span's bucket is counted in ns, in a BIGINT  # the smoothing of MLflow's `npmi_smoothed`

_VIEW_TYPES = {1: "TRACES", 2: "SPANS", 3: "ASSESSMENTS"}  # MetricViewType's numbers in MLflow's protocol
_AGGREGATION_TYPES = {1: "COUNT", 2: "SUM", 3: "AVG", 4: "PERCENTILE", 5: "MIN", 6: "MAX"}


class AggregationField(msgspec.Struct):
    aggregation_type: str | int | None = None
    percentile_value: float | None = None


class QueryTraceMetrics(msgspec.Struct):
    experiment_ids: list[str] | None = None
    view_type: str | int | None = None
    metric_name: str | None = None
    aggregations: list[AggregationField] | None = None
    dimensions: list[str] = []
    filters: list[str] = []
    time_interval_seconds: Int64 | None = None
    start_time_ms: Int64 | None = None
    end_time_ms: Int64 | None = None
    max_results: Int64 | None = None
    page_token: str | None = None  # one page holds every point, as on MLflow's server


class FilterCorrelation(msgspec.Struct):
    experiment_ids: list[str] | None = None
    filter_string1: str | None = None
    filter_string2: str | None = None
    base_filter: str | None = None


def _enum(value: str | int | None, names: dict[int, str], field: str) -> str:
    if value is None or value == "":
        raise missing(field)
    name = names.get(value) if isinstance(value, int) else value
    if name not in names.values():
        raise InvalidParameterValue(
            f"Invalid value {value!r} for parameter '{field}' supplied: expected one of {list(names.values())}"
        )
    assert name is not None
    return name


def _aggregation(field: AggregationField, i: int) -> Aggregation:
    kind = _enum(field.aggregation_type, _AGGREGATION_TYPES, f"aggregations[{i}].aggregation_type")
    percentile = field.percentile_value
    if kind == PERCENTILE:
        if percentile is None:
            raise InvalidParameterValue("Percentile value is required for PERCENTILE aggregation")
        if not 0 <= percentile <= 100:
            raise InvalidParameterValue(f"Percentile value must be between 0 and 100, got {percentile}")
    elif percentile is not None:
        raise InvalidParameterValue(f"Percentile value is only allowed for PERCENTILE aggregation type, got {kind}")
    return Aggregation(kind, float(percentile) if percentile is not None else None)


def _experiment_ids(ids: list[str] | None) -> list[int]:
    if ids is None:
        raise missing("experiment_ids")
    return sorted({parse_experiment_id(e, "experiment_ids") for e in ids})


async def query_metrics(request: Request) -> Response:
    body = await read_json(request, QueryTraceMetrics)
    experiment_ids = _experiment_ids(body.experiment_ids)
    view = _enum(body.view_type, _VIEW_TYPES, "view_type")
    if not body.metric_name:
        raise missing("metric_name")
    if body.aggregations is None:
        raise missing("aggregations")
    aggregations = [_aggregation(a, i) for i, a in enumerate(body.aggregations)]
    interval = body.time_interval_seconds
    if interval is not None and not 0 <= interval <= MAX_INTERVAL_SECONDS:
        raise InvalidParameterValue(
            f"Invalid value {interval} for parameter 'time_interval_seconds' supplied: "
            f"from 0 to {MAX_INTERVAL_SECONDS} (292 years)"
        )
    max_results = MAX_METRIC_RESULTS if body.max_results is None else body.max_results
    if max_results < 1:
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter 'max_results' supplied: must be at least 1"
        )
    if view == SPANS:  # spans logged before span rows existed, or not copied yet: as a span filter does
        await copy_spans_for_search(artifacts_of(request), store_of(request), experiment_ids)
    points = await run_read(
        request,
        store_of(request).query_trace_metrics,
        experiment_ids,
        view,
        body.metric_name,
        aggregations,
        body.dimensions,
        body.filters,
        body.time_interval_seconds or None,
        body.start_time_ms,
        body.end_time_ms,
        max_results,
    )
    return json_response({"data_points": points} if points else {})


def _npmi(n11: float, n10: float, n01: float, n00: float, smoothing: float) -> float:
    """Normalized pointwise mutual information of a 2×2 table of counts, each given `smoothing` more:
    from -1 (never together) to 1 (always together); NaN where undefined."""
    n11s, n10s, n01s, n00s = n11 + smoothing, n10 + smoothing, n01 + smoothing, n00 + smoothing
    total = n11s + n10s + n01s + n00s
    first, second = n11s + n10s, n11s + n01s
    if first <= 0 or second <= 0 or n11s <= 0:
        return math.nan
    if n10 == 0 and n01 == 0 and n00 == 0:  # always together (before smoothing)
        return 1.0
    pmi = math.log(n11s) + math.log(total) - math.log(first) - math.log(second)
    npmi = pmi / -(math.log(n11s) - math.log(total))
    return max(-1.0, min(1.0, npmi))


def correlation(counts: dict[str, int]) -> dict[str, Any]:
    """MLflow's answer from the counts: `npmi` (-1 when both filters match traces but never the same one),
    `npmi_smoothed` (Jeffreys prior), each left out where undefined (a filter matching nothing)."""
    total, one, two, joint = (
        counts["total_count"],
        counts["filter1_count"],
        counts["filter2_count"],
        counts["joint_count"],
    )
    answer: dict[str, Any] = dict(counts)
    n10, n01, n00 = one - joint, two - joint, total - one - two + joint
    if total <= 0 or one == 0 or two == 0 or min(joint, n10, n01, n00) < 0:
        return answer
    npmi = -1.0 if joint == 0 else _npmi(joint, n10, n01, n00, 0)
    smoothed = _npmi(joint, n10, n01, n00, JEFFREYS_PRIOR)
    for name, value in (("npmi", npmi), ("npmi_smoothed", smoothed)):
        if not math.isnan(value):
            answer[name] = value
    return answer


async def filter_correlation(request: Request) -> Response:
    body = await read_json(request, FilterCorrelation)
    experiment_ids = _experiment_ids(body.experiment_ids)
    if not body.filter_string1:
        raise missing("filter_string1")
    if not body.filter_string2:
        raise missing("filter_string2")
    if any(filters_spans(f) for f in (body.filter_string1, body.filter_string2, body.base_filter)):
        await copy_spans_for_search(artifacts_of(request), store_of(request), experiment_ids)
    counts = await run_read(
        request,
        store_of(request).trace_filter_correlation,
        experiment_ids,
        body.filter_string1,
        body.filter_string2,
        body.base_filter or None,
    )
    return json_response(correlation(counts))


routes = [
    route
    for prefix in ("/api", "/ajax-api")
    for route in (
        Route(f"{prefix}/3.0/mlflow/traces/metrics", query_metrics, methods=["POST"]),
        Route(f"{prefix}/3.0/mlflow/traces/calculate-filter-correlation", filter_correlation, methods=["POST"]),
    )
]
