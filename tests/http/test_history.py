"""`GET metrics/get-history` on the wire: exact values, NaN and infinities across page tokens, and the
page shape the official client reads (it asks for max_results=25000 and follows next_page_token)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.http.conftest import API, new_run, ok, post
from tests.support.doubles import EXTREME_DOUBLES, random_doubles

DOUBLE_MAX = 1.7976931348623157e308


def history_pages(api: httpx.Client, run_id: str, key: str, max_results: int) -> list[httpx.Response]:
    pages, token = [], None
    while True:
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": max_results}
        if token:
            params["page_token"] = token
        response = api.get(f"{API}/metrics/get-history", params=params)
        ok(response)
        pages.append(response)
        token = response.json().get("next_page_token")
        if not token:
            return pages


def test_values_cross_the_wire_bit_for_bit(api):
    run_id = new_run(api)
    values = EXTREME_DOUBLES + random_doubles(500)
    metrics = [{"key": "m", "value": v, "timestamp": i, "step": i} for i, v in enumerate(values)]
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    pages = history_pages(api, run_id, "m", 64)
    assert len(pages) == -(-len(values) // 64)
    read = [m for page in pages for m in json.loads(page.content)["metrics"]]
    assert [float(m["value"]).hex() for m in read] == [v.hex() for v in values]
    assert [(m["timestamp"], m["step"]) for m in read] == [(i, i) for i in range(len(values))]


def test_nan_and_infinities_page_one_point_at_a_time(api):
    """Points at one (timestamp, step) differ only in value; NaN is stored as 0 with a flag, so it
    follows a real 0 and the token after it must not skip or repeat a point."""
    run_id = new_run(api)
    sent = ["Infinity", 5e-324, "NaN", 0.0, -1.5, "-Infinity"]
    metrics = [{"key": "loss/val: a", "value": v, "timestamp": 7, "step": 3} for v in sent]
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    pages = history_pages(api, run_id, "loss/val: a", 1)
    assert [page.json()["metrics"] for page in pages] == [
        [{"key": "loss/val: a", "value": v, "timestamp": 7, "step": 3}]
        for v in (-DOUBLE_MAX, -1.5, 0.0, "NaN", 5e-324, DOUBLE_MAX)
    ]
    assert b'"value":"NaN"' in pages[3].content
    assert "next_page_token" not in pages[-1].json()


def test_a_full_last_page_ends_the_history(api):
    run_id = new_run(api)
    metrics = [{"key": "m", "value": i / 7, "timestamp": 1000 - i, "step": i} for i in range(50)]
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    pages = [page.json() for page in history_pages(api, run_id, "m", 25)]
    assert [len(page["metrics"]) for page in pages] == [25, 25]
    assert "next_page_token" in pages[0] and "next_page_token" not in pages[1]
    assert [m["step"] for page in pages for m in page["metrics"]] == list(reversed(range(50)))
    empty = ok(api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "none"}))
    assert empty == {}


def test_an_unknown_runs_history_is_empty_as_in_mlflow(api):
    query = {"run_id": "f" * 32, "metric_key": "loss"}
    assert ok(api.get(f"{API}/metrics/get-history", params=query)) == {}
    assert ok(api.get(f"{API}/metrics/get-history", params={**query, "max_results": 10})) == {}
