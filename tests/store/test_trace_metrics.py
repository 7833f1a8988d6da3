"""Trace metrics in the store, on SQLite and PostgreSQL: percentiles interpolate as numpy's default (what
MLflow computes), time buckets floor (before 1970 too), and token counts read from metadata that is not
the JSON MLflow's client writes are left out instead of failing the query."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy
import pytest

from tracklet.store import schema as s
from tracklet.store.store import Store
from tracklet.store.trace_metrics import Aggregation


@pytest.fixture
def store(store_uri: str, tmp_path: Any) -> Iterator[Store]:
    made = Store(store_uri, str(tmp_path / "artifacts"))
    yield made
    made.close()


def _traces(store: Store, rows: Sequence[tuple[int, int | None, str | None]]) -> int:
    """An experiment with a trace per (start ms, duration ms, token usage metadata) row."""
    experiment_id = int(store.create_experiment(f"m-{uuid.uuid4().hex[:8]}"))
    ids = [f"tr-{uuid.uuid4().hex}" for _ in rows]
    with store.db.write() as conn:
        conn.execute(
            s.traces.insert(),
            [
                {
                    "trace_id": i,
                    "experiment_id": experiment_id,
                    "request_time": start,
                    "execution_duration": duration,
                    "state": "OK",
                }
                for i, (start, duration, _) in zip(ids, rows, strict=True)
            ],
        )
        usage = [
            {"trace_id": i, "key": "mlflow.trace.tokenUsage", "value": u}
            for i, (_, _, u) in zip(ids, rows, strict=True)
            if u
        ]
        if usage:
            conn.execute(s.trace_metadata.insert(), usage)
    return experiment_id


def _query(
    store: Store, experiment_id: int, metric: str, aggregations: list[Aggregation], **more: Any
) -> list[dict[str, Any]]:
    return store.query_trace_metrics(
        [experiment_id],
        "TRACES",
        metric,
        aggregations,
        more.get("dimensions", []),
        more.get("filters", []),
        more.get("interval"),
        more.get("start"),
        more.get("end"),
        1000,
    )


def test_percentiles_interpolate_between_ranks_as_numpy(store: Store) -> None:
    rng = random.Random(7)
    durations = [rng.randrange(1, 10_000) for _ in range(101)] + [5, 5, 5]
    experiment_id = _traces(store, [(1_000 + i, d, None) for i, d in enumerate(durations)])
    percents = [0.0, 1.0, 25.0, 50.0, 62.5, 90.0, 99.9, 100.0]
    (point,) = _query(store, experiment_id, "latency", [Aggregation("PERCENTILE", p) for p in percents])
    for p in percents:
        assert point["values"][f"P{p}"] == pytest.approx(numpy.percentile(durations, p), rel=1e-12)
    (single,) = _query(store, _traces(store, [(5, 42, None)]), "latency", [Aggregation("PERCENTILE", 75.0)])
    assert single["values"] == {"P75.0": 42.0}


def test_time_buckets_floor_before_and_after_1970(store: Store) -> None:
    experiment_id = _traces(
        store, [(-1_500, 1, None), (-1_000, 1, None), (-1, 1, None), (0, 1, None), (999, 1, None), (1_000, 1, None)]
    )
    points = _query(store, experiment_id, "trace_count", [Aggregation("COUNT")], interval=1, start=-10_000, end=10_000)
    assert [(p["dimensions"]["time_bucket"], p["values"]["COUNT"]) for p in points] == [
        ("1969-12-31T23:59:58+00:00", 1.0),
        ("1969-12-31T23:59:59+00:00", 2.0),
        ("1970-01-01T00:00:00+00:00", 2.0),
        ("1970-01-01T00:00:01+00:00", 1.0),
    ]


def test_token_usage_that_is_not_mlflows_json_is_left_out(store: Store) -> None:
    usages = [
        json.dumps({"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}),
        json.dumps({"total_tokens": 20}),
        '{"total_tokens":5}',  # compact
        "garbage",
        "{not json",
        json.dumps({"total_tokens": "12"}),
        json.dumps({"total_tokens": True}),
        json.dumps({"total_tokens": None}),
        json.dumps({"input_tokens": 1}),
        json.dumps([1, 2]),
        "",
    ]
    experiment_id = _traces(store, [(i, 1, u) for i, u in enumerate(usages)])
    aggregations = [Aggregation(kind) for kind in ("SUM", "MIN", "MAX", "AVG")]
    (point,) = _query(store, experiment_id, "total_tokens", aggregations)
    assert point["values"] == {"SUM": 32.0, "MIN": 5.0, "MAX": 20.0, "AVG": pytest.approx(32 / 3)}
    (inputs,) = _query(store, experiment_id, "input_tokens", [Aggregation("SUM")])
    assert inputs["values"] == {"SUM": 4.0}


def test_an_empty_window_counts_zero_and_averages_nothing(store: Store) -> None:
    experiment_id = _traces(store, [(10, 5, None)])
    assert _query(store, experiment_id, "trace_count", [Aggregation("COUNT")], start=11, end=20) == [
        {"metric_name": "trace_count", "dimensions": {}, "values": {"COUNT": 0.0}}
    ]
    assert _query(store, experiment_id, "latency", [Aggregation("AVG")], start=11, end=20) == []
    assert _query(store, experiment_id, "trace_count", [Aggregation("COUNT")], start=2**62, end=2**63 - 1) == [
        {"metric_name": "trace_count", "dimensions": {}, "values": {"COUNT": 0.0}}
    ]
