"""`traces/metrics` and `traces/calculate-filter-correlation` through the official client (`RestStore`'s
`query_trace_metrics` and `calculate_trace_filter_correlation`, what MLflow's UI charts call) against a real
tracklet server on SQLite and PostgreSQL, each answer also compared with a real `mlflow server`'s on the
same traces (recorded with fixed times, so every count, latency and bucket is known)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType
from mlflow.exceptions import MlflowException

from tests.compat.conftest import error_code, unique_name
from tests.support.processes import MlflowServer

HOUR_MS = 3_600_000
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MS = 1_000_000  # ns


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield srv
    srv.stop()


# name, start (ms after T0), duration (ms), status, session, tokens, LLM span (model, latency ms, cost), feedback
TRACES: list[tuple[str, int, int, str, str | None, int | None, tuple[str, int, float] | None, Any]] = [
    ("chat", 0, 100, "OK", "s1", 30, ("gpt-a", 40, 0.5), True),
    ("chat", 10 * 60_000, 300, "OK", "s1", 50, ("gpt-a", 80, 1.5), False),
    ("chat", HOUR_MS + 5 * 60_000, 200, "ERROR", "s2", None, ("gpt-b", 20, 0.25), "yes"),
    ("search", HOUR_MS + 20 * 60_000, 1000, "OK", None, 10, None, 0.8),
    ("search", 2 * HOUR_MS + 1, 400, "OK", None, None, None, None),
]


def _record(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[MlflowClient, str, list[str]]:
    """The traces of `TRACES` in a new experiment of this server; their ids in order."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    experiment_id = client.create_experiment(unique_name("metrics"))
    ids = []
    for name, start, duration, status, session, tokens, llm, _ in TRACES:
        start_ns = (T0_MS + start) * MS
        metadata = {"mlflow.trace.session": session} if session else None
        root = mlflow.start_span_no_context(
            name, experiment_id=experiment_id, start_time_ns=start_ns, metadata=metadata, tags={"team": name[0]}
        )
        if llm is not None:
            model, latency, cost = llm
            attributes: dict[str, Any] = {"mlflow.llm.model": model, "mlflow.llm.cost": {"total_cost": cost}}
            if tokens is not None:
                attributes["mlflow.chat.tokenUsage"] = {
                    "input_tokens": tokens - 5,
                    "output_tokens": 5,
                    "total_tokens": tokens,
                }
            child = mlflow.start_span_no_context(
                "llm", span_type="LLM", parent_span=root, start_time_ns=start_ns + MS, attributes=attributes
            )
            child.end(end_time_ns=start_ns + MS + latency * MS)
        elif tokens is not None:
            root.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10})
        root.end(end_time_ns=start_ns + duration * MS, status=status)
        ids.append(root.trace_id)
    mlflow.flush_trace_async_logging()
    for trace_id, row in zip(ids, TRACES, strict=True):
        if row[7] is not None:
            mlflow.log_feedback(trace_id=trace_id, name="good", value=row[7])
        mlflow.log_expectation(trace_id=trace_id, name="answer", value="42")
    return client, experiment_id, ids


def _agg(kind: str, percentile: float | None = None) -> MetricAggregation:
    return MetricAggregation(AggregationType(kind), percentile)


QUERIES: dict[str, dict[str, Any]] = {
    "trace count": dict(view=MetricViewType.TRACES, metric="trace_count", aggregations=[_agg("COUNT")]),
    "by name and status": dict(
        view=MetricViewType.TRACES,
        metric="trace_count",
        aggregations=[_agg("COUNT")],
        dimensions=["trace_name", "trace_status"],
    ),
    "latency": dict(
        view=MetricViewType.TRACES,
        metric="latency",
        aggregations=[_agg("AVG"), _agg("MIN"), _agg("MAX"), _agg("PERCENTILE", 50), _agg("PERCENTILE", 90)],
        dimensions=["trace_name"],
    ),
    "hourly": dict(
        view=MetricViewType.TRACES,
        metric="trace_count",
        aggregations=[_agg("COUNT")],
        time_interval_seconds=3600,
        start_time_ms=T0_MS,
        end_time_ms=T0_MS + 2 * HOUR_MS,  # the last trace (2 h + 1 ms) is out
    ),
    "filtered": dict(
        view=MetricViewType.TRACES,
        metric="latency",
        aggregations=[_agg("PERCENTILE", 25)],
        filters=["trace.status = 'OK'", "trace.tag.team = 'c'"],
    ),
    "sessions": dict(view=MetricViewType.TRACES, metric="session_count", aggregations=[_agg("COUNT")]),
    "tokens": dict(
        view=MetricViewType.TRACES,
        metric="total_tokens",
        aggregations=[_agg("SUM"), _agg("AVG")],
        dimensions=["trace_name"],
    ),
    "spans": dict(
        view=MetricViewType.SPANS,
        metric="span_count",
        aggregations=[_agg("COUNT")],
        dimensions=["span_type", "span_name"],
    ),
    "span latency": dict(
        view=MetricViewType.SPANS,
        metric="latency",
        aggregations=[_agg("MAX"), _agg("PERCENTILE", 50)],
        filters=["span.type = 'LLM'"],
    ),
    "span cost": dict(
        view=MetricViewType.SPANS,
        metric="total_cost",
        aggregations=[_agg("SUM")],
        dimensions=["span_model_name"],
    ),
    "assessments": dict(
        view=MetricViewType.ASSESSMENTS,
        metric="assessment_count",
        aggregations=[_agg("COUNT")],
        dimensions=["assessment_name", "assessment_value"],
    ),
    "feedback values": dict(
        view=MetricViewType.ASSESSMENTS,
        metric="assessment_value",
        aggregations=[_agg("AVG"), _agg("MAX")],
        dimensions=["assessment_name"],
        filters=["assessment.type = 'feedback'"],
    ),
}


def _points(client: MlflowClient, experiment_id: str, query: dict[str, Any]) -> list[tuple[Any, ...]]:
    store = client._tracking_client.store
    found = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=query["view"],
        metric_name=query["metric"],
        aggregations=query["aggregations"],
        dimensions=query.get("dimensions"),
        filters=query.get("filters"),
        time_interval_seconds=query.get("time_interval_seconds"),
        start_time_ms=query.get("start_time_ms"),
        end_time_ms=query.get("end_time_ms"),
    )
    return [
        (p.metric_name, sorted(p.dimensions.items()), sorted((k, round(v, 9)) for k, v in p.values.items()))
        for p in found
    ]


@pytest.fixture(scope="module")
def answers(server, mlflow_server) -> Iterator[dict[str, dict[str, Any]]]:
    """Every query's answer from tracklet and from MLflow, on the same traces."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        answered: dict[str, dict[str, Any]] = {}
        for side, url in (("tracklet", server.url), ("mlflow", mlflow_server.url)):
            client, experiment_id, _ = _record(url, monkeypatch)
            answered[side] = {name: _points(client, experiment_id, q) for name, q in QUERIES.items()}
        yield answered
    finally:
        monkeypatch.undo()


EXPECTED = {
    "trace count": [("trace_count", [], [("COUNT", 5.0)])],
    "by name and status": [
        ("trace_count", [("trace_name", "chat"), ("trace_status", "ERROR")], [("COUNT", 1.0)]),
        ("trace_count", [("trace_name", "chat"), ("trace_status", "OK")], [("COUNT", 2.0)]),
        ("trace_count", [("trace_name", "search"), ("trace_status", "OK")], [("COUNT", 2.0)]),
    ],
    "latency": [
        ("latency", [("trace_name", "chat")], [("AVG", 200.0), ("MAX", 300.0), ("MIN", 100.0), ("P50.0", 200.0), ("P90.0", 280.0)]),
        ("latency", [("trace_name", "search")], [("AVG", 700.0), ("MAX", 1000.0), ("MIN", 400.0), ("P50.0", 700.0), ("P90.0", 940.0)]),
    ],
    "hourly": [
        ("trace_count", [("time_bucket", "2026-01-01T00:00:00+00:00")], [("COUNT", 2.0)]),
        ("trace_count", [("time_bucket", "2026-01-01T01:00:00+00:00")], [("COUNT", 2.0)]),
    ],
    "filtered": [("latency", [], [("P25.0", 150.0)])],
    "sessions": [("session_count", [], [("COUNT", 2.0)])],
    "tokens": [
        ("total_tokens", [("trace_name", "chat")], [("AVG", 40.0), ("SUM", 80.0)]),  # the ERROR one has none
        ("total_tokens", [("trace_name", "search")], [("AVG", 10.0), ("SUM", 10.0)]),
    ],
    "spans": [
        ("span_count", [("span_name", "llm"), ("span_type", "LLM")], [("COUNT", 3.0)]),
        ("span_count", [("span_name", "chat"), ("span_type", "UNKNOWN")], [("COUNT", 3.0)]),
        ("span_count", [("span_name", "search"), ("span_type", "UNKNOWN")], [("COUNT", 2.0)]),
    ],
    "span latency": [("latency", [], [("MAX", 80.0), ("P50.0", 40.0)])],
    "span cost": [
        ("total_cost", [("span_model_name", "gpt-a")], [("SUM", 2.0)]),
        ("total_cost", [("span_model_name", "gpt-b")], [("SUM", 0.25)]),
    ],
    "assessments": [  # values as MLflow's JSON text, a string's with its quotes
        ("assessment_count", [("assessment_name", "answer"), ("assessment_value", '"42"')], [("COUNT", 5.0)]),
        ("assessment_count", [("assessment_name", "good"), ("assessment_value", '"yes"')], [("COUNT", 1.0)]),
        ("assessment_count", [("assessment_name", "good"), ("assessment_value", "0.8")], [("COUNT", 1.0)]),
        ("assessment_count", [("assessment_name", "good"), ("assessment_value", "false")], [("COUNT", 1.0)]),
        ("assessment_count", [("assessment_name", "good"), ("assessment_value", "true")], [("COUNT", 1.0)]),
    ],
    "feedback values": [("assessment_value", [("assessment_name", "good")], [("AVG", 0.7), ("MAX", 1.0)])],
}  # fmt: skip


@pytest.mark.parametrize("name", list(QUERIES))
def test_trace_metrics_answer_as_mlflow_answers(answers, name):
    ours = answers["tracklet"][name]
    assert ours == EXPECTED[name]
    assert ours == answers["mlflow"][name]


def test_a_metric_a_view_does_not_have_is_refused(mlflow_client, experiment_id):
    store = mlflow_client._tracking_client.store
    with pytest.raises(MlflowException, match="metric_name must be one of") as caught:
        store.query_trace_metrics([experiment_id], MetricViewType.SPANS, "trace_count", [_agg("COUNT")])
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="invalid aggregation_type") as caught:
        store.query_trace_metrics([experiment_id], MetricViewType.TRACES, "trace_count", [_agg("AVG")])
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="invalid dimension") as caught:
        store.query_trace_metrics(
            [experiment_id], MetricViewType.TRACES, "latency", [_agg("AVG")], dimensions=["trace_status"]
        )
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="start_time_ms and end_time_ms are required") as caught:
        store.query_trace_metrics(
            [experiment_id], MetricViewType.TRACES, "trace_count", [_agg("COUNT")], time_interval_seconds=60
        )
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("span.name = 'x'", "only supported for SPANS"),
        ("trace.status != 'OK'", "only '=' operator is supported"),
        ("trace.tag = 'x'", "requires a key"),
        ("trace.colour = 'x'", "Invalid entity"),
        ("run.status = 'x'", "Invalid view type"),
        ("trace.status = OK", "Expected a quoted string"),
    ],
)
def test_bad_metric_filters_are_refused(mlflow_client, experiment_id, filter_string, message):
    store = mlflow_client._tracking_client.store
    with pytest.raises(MlflowException, match=message) as caught:
        store.query_trace_metrics(
            [experiment_id], MetricViewType.TRACES, "trace_count", [_agg("COUNT")], filters=[filter_string]
        )
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"


def test_an_empty_experiment_counts_zero_traces(mlflow_client, experiment_id):
    store = mlflow_client._tracking_client.store
    counted = store.query_trace_metrics([experiment_id], MetricViewType.TRACES, "trace_count", [_agg("COUNT")])
    assert [(p.dimensions, p.values) for p in counted] == [({}, {"COUNT": 0.0})]
    assert store.query_trace_metrics([experiment_id], MetricViewType.TRACES, "latency", [_agg("AVG")]) == []


@pytest.mark.parametrize(
    "body",
    [
        {"view_type": "TRACES", "metric_name": "trace_count", "aggregations": [{"aggregation_type": "COUNT"}]},
        {"experiment_ids": ["0"], "metric_name": "trace_count", "aggregations": [{"aggregation_type": "COUNT"}]},
        {"experiment_ids": ["0"], "view_type": "TRACES", "aggregations": [{"aggregation_type": "COUNT"}]},
        {"experiment_ids": ["0"], "view_type": "TRACES", "metric_name": "trace_count"},
    ],
)
def test_metrics_requests_missing_a_field_are_refused_as_by_mlflow(server, mlflow_server, body):
    answers = []
    for url in (server.url, mlflow_server.url):
        response = httpx.post(url + "/api/3.0/mlflow/traces/metrics", json=body)
        answers.append((response.status_code, response.json().get("error_code")))
    assert answers[0] == answers[1] == (400, "INVALID_PARAMETER_VALUE")


def test_an_unknown_view_type_is_a_bad_request(server, mlflow_server):
    body = {"experiment_ids": ["0"], "view_type": "PLANETS", "metric_name": "trace_count", "aggregations": []}
    ours = httpx.post(server.url + "/api/3.0/mlflow/traces/metrics", json=body)
    theirs = httpx.post(mlflow_server.url + "/api/3.0/mlflow/traces/metrics", json=body)
    # MLflow's protobuf parser says BAD_REQUEST; tracklet says INVALID_PARAMETER_VALUE for every value it
    # cannot read, as for its other enums (both 400, which is what MLflow's client acts on).
    assert (ours.status_code, ours.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "PLANETS" in ours.json()["message"]
    assert (theirs.status_code, theirs.json()["error_code"]) == (400, "BAD_REQUEST")


# -- filter correlation ---------------------------------------------------------------------------

CORRELATIONS = [
    ("trace.status = 'ERROR'", "trace.name = 'chat'", None),
    ("trace.status = 'OK'", "trace.name = 'search'", None),
    ("trace.name = 'search'", "trace.status = 'ERROR'", None),  # never together: npmi -1
    ("tag.team = 'c'", "trace.name = 'chat'", None),  # always together: npmi 1
    ("trace.status = 'OK'", "trace.name = 'chat'", "trace.timestamp_ms < 1767229200000"),  # the first hour
    ("trace.name = 'nothing'", "trace.name = 'chat'", None),  # no support: npmi undefined
]


def _correlations(client: MlflowClient, experiment_id: str) -> list[dict[str, Any]]:
    store = client._tracking_client.store
    found = []
    for first, second, base in CORRELATIONS:
        result = store.calculate_trace_filter_correlation([experiment_id], first, second, base)
        found.append(
            {
                "counts": (result.total_count, result.filter1_count, result.filter2_count, result.joint_count),
                "npmi": None if math.isnan(result.npmi) else round(result.npmi, 9),
                "smoothed": None if result.npmi_smoothed is None else round(result.npmi_smoothed, 9),
            }
        )
    return found


def test_filter_correlations_are_mlflows(server, mlflow_server, monkeypatch):
    ours = _correlations(*_record(server.url, monkeypatch)[:2])
    assert [c["counts"] for c in ours] == [
        (5, 1, 3, 1),
        (5, 4, 2, 2),
        (5, 2, 1, 0),
        (5, 3, 3, 3),
        (2, 2, 2, 2),
        (5, 0, 3, 0),
    ]
    assert ours[2]["npmi"] == -1.0 and ours[3]["npmi"] == 1.0 and ours[5]["npmi"] is None
    assert ours[5]["smoothed"] is None
    assert ours == _correlations(*_record(mlflow_server.url, monkeypatch)[:2])


def test_a_bad_correlation_filter_is_refused(mlflow_client, experiment_id):
    store = mlflow_client._tracking_client.store
    with pytest.raises(MlflowException) as caught:
        store.calculate_trace_filter_correlation([experiment_id], "trace.colour = 'x'", "trace.status = 'OK'")
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"


def test_span_metrics_count_spans_the_database_had_not_copied(server, monkeypatch):
    """Spans uploaded as a file are copied into rows after the answer (or were stored by an older tracklet
    without rows): a span metric copies what is missing first, as a span filter does."""
    import time

    from sqlalchemy import text

    from tracklet.store.database import Database

    client, experiment_id, ids = _record(server.url, monkeypatch)
    time.sleep(0.5)  # the upload's copy, done after its answer, is not undone below
    db = Database(server.backend_store_uri)
    try:
        with db.write() as conn:
            for table in ("trace_span_attributes", "trace_spans"):
                conn.execute(text(f"DELETE FROM {table} WHERE trace_id IN (:a, :b)"), {"a": ids[0], "b": ids[3]})
    finally:
        db.dispose()
    assert _points(client, experiment_id, QUERIES["spans"]) == EXPECTED["spans"]
    assert _points(client, experiment_id, QUERIES["span cost"]) == EXPECTED["span cost"]


def _metrics_body(**changes: Any) -> dict[str, Any]:
    body = {
        "experiment_ids": ["0"],
        "view_type": "SPANS",
        "metric_name": "latency",
        "aggregations": [{"aggregation_type": "AVG"}],
    }
    return {**body, **changes}


@pytest.mark.parametrize(
    "body",
    [
        _metrics_body(aggregations=[{"aggregation_type": "PERCENTILE", "percentile_value": 150}]),
        _metrics_body(aggregations=[{"aggregation_type": "PERCENTILE"}]),
        _metrics_body(aggregations=[{"aggregation_type": "AVG", "percentile_value": 50}]),
        _metrics_body(aggregations=[{"aggregation_type": "MEDIAN"}]),
        _metrics_body(time_interval_seconds=-1, start_time_ms=0, end_time_ms=1),
        _metrics_body(time_interval_seconds=2**62, start_time_ms=0, end_time_ms=1),
        _metrics_body(max_results=0),
        _metrics_body(experiment_ids=["x"]),
        _metrics_body(filters=["span.name = 'a' AND span.type = 'b'"]),
        _metrics_body(dimensions=["span_type"]),  # latency is not by type
        _metrics_body(start_time_ms=2**64),
    ],
)
def test_bad_metrics_requests_are_400s_on_both_backends(server, body):
    response = httpx.post(server.url + "/api/3.0/mlflow/traces/metrics", json=body)
    assert (response.status_code, response.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), response.text


@pytest.mark.parametrize(
    "changes",
    [
        dict(time_interval_seconds=(2**63 - 1) // 10**9, start_time_ms=-(2**63), end_time_ms=2**63 - 1),
        dict(
            metric_name="total_cost",
            aggregations=[{"aggregation_type": "SUM"}],
            start_time_ms=2**63 - 1,
            end_time_ms=2**63 - 1,
        ),
        dict(max_results=2**63 - 1, view_type="TRACES", time_interval_seconds=1, start_time_ms=0, end_time_ms=1),
        dict(
            view_type=3,
            metric_name="assessment_count",
            aggregations=[{"aggregation_type": 1}],
            dimensions=["assessment_value"],
        ),
    ],
)
def test_extreme_but_valid_metrics_requests_answer(server, changes):
    response = httpx.post(server.url + "/api/3.0/mlflow/traces/metrics", json=_metrics_body(**changes))
    assert response.status_code == 200, response.text
