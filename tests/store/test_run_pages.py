"""Paging through runs/search with page tokens, on SQLite and PostgreSQL.

A token holds the sort values of the last run handed out (keyset paging): the pages must add up to
one big page, in the same order, whatever the order_by, filter or view, and runs created or deleted
between two pages must not make an earlier run come back or a later one go missing.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, _store_uri
from tracklet.entities import KeyValue
from tracklet.errors import InvalidParameterValue
from tracklet.store.metrics import MetricPoint
from tracklet.store.search import encode_page_token
from tracklet.store.store import Store

N_RUNS = 30
PARAM_VALUES = ["b", "B", "a", "é", "a"]  # ties, case and a non-ASCII value (sorted by code point)


def _metric(i: int) -> float | None:
    """Missing for every 5th run, NaN for every 7th, ±inf (stored as ±DOUBLE_MAX) for two, else ties."""
    if i % 5 == 0:
        return None
    if i % 7 == 0:
        return math.nan
    return {8: math.inf, 9: -math.inf}.get(i, (i * 37 % 11) / 10)


class Experiment:
    """One experiment of a store, searched page by page."""

    def __init__(self, store: Store, experiment_id: int) -> None:
        self.store = store
        self.experiment_id = experiment_id

    def search(self, **kwargs: Any) -> tuple[list[str], str | None]:
        """Run ids of one runs/search page and the next page's token."""
        args: dict[str, Any] = {"filter_string": "", "view_type": "ACTIVE_ONLY", "max_results": 1000,
                                "order_by": None, "page_token": None, **kwargs}  # fmt: skip
        experiment_ids = args.pop("experiment_ids", [self.experiment_id])
        runs, token = self.store.search_runs(experiment_ids, **args)
        return [r.info.run_id for r in runs], token

    def all_pages(self, page_size: int, **kwargs: Any) -> list[str]:
        seen: list[str] = []
        token = None
        while True:
            ids, token = self.search(max_results=page_size, page_token=token, **kwargs)
            seen += ids
            if token is None:
                return seen
            assert len(ids) == page_size


@pytest.fixture(scope="module", params=BACKENDS)
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Experiment]:
    """30 runs: start times tied in threes, keys missing from some runs, NaN and ±inf metrics, tied
    values, runs without an end time, two deleted runs."""
    tmp: Path = tmp_path_factory.mktemp("pages")
    store = Store(_store_uri(request.param, tmp, request))
    experiment_id = int(store.create_experiment("pages"))
    for i in range(N_RUNS):
        user, start_time = ["ann", "bob"][i % 2], 1000 + (i // 3) * 10
        run_id = store.create_run(experiment_id, user, start_time, f"run-{i % 4}", []).info.run_id
        metric = _metric(i)
        metrics = [] if metric is None else [MetricPoint("m", metric, 1, 0)]
        params = [] if i % 4 == 0 else [KeyValue(key="p", value=PARAM_VALUES[i % 5])]
        tags = [] if i % 6 == 0 else [KeyValue(key="t", value=f"t{i % 3}")]
        store.log_batch(run_id, metrics, params, tags)
        if i % 3:
            store.update_run(run_id, "FINISHED", 5000 + i % 4, None)
        if i in (4, 11):
            store.delete_run(run_id)
    yield Experiment(store, experiment_id)
    store.close()


ORDERS = [
    None,
    ["start_time"],
    ["created DESC"],
    ["end_time"],
    ["end_time DESC"],
    ["run_name", "user_id DESC"],
    ["attributes.run_id DESC"],
    ["status DESC", "metrics.m"],
    ["metrics.m"],
    ["metrics.m DESC"],
    ["params.p"],
    ["params.p DESC"],
    ["tags.t DESC"],
    ["metrics.m DESC", "params.p", "tags.t"],
    ["tags.nobody_has_it"],
]


@pytest.mark.parametrize("order_by", ORDERS, ids=lambda o: ",".join(o or ["default"]))
@pytest.mark.parametrize("page_size", [1, 4, 7])
def test_pages_add_up_to_one_big_page(runs: Experiment, order_by: list[str] | None, page_size: int) -> None:
    everything, token = runs.search(order_by=order_by)
    assert token is None and len(everything) == N_RUNS - 2
    assert runs.all_pages(page_size, order_by=order_by) == everything


@pytest.mark.parametrize(
    ("filter_string", "view_type"),
    [
        ("metrics.m > 0.2", "ACTIVE_ONLY"),
        ("params.p != 'a'", "ALL"),
        ("tags.t = 't1'", "DELETED_ONLY"),
        ("", "ALL"),
    ],
)
@pytest.mark.parametrize("order_by", [None, ["metrics.m DESC"], ["params.p", "end_time"]])
def test_pages_with_a_filter_and_a_view(runs: Experiment, filter_string: str, view_type: str, order_by: Any) -> None:
    query = {"filter_string": filter_string, "view_type": view_type, "order_by": order_by}
    everything, _ = runs.search(**query)
    assert everything
    assert runs.all_pages(3, **query) == everything


def test_a_page_that_ends_with_the_last_run_has_no_token(runs: Experiment) -> None:
    ids, token = runs.search(max_results=N_RUNS - 2)
    assert len(ids) == N_RUNS - 2 and token is None


def test_ties_in_start_time_break_on_the_run_id(runs: Experiment) -> None:
    found, _ = runs.store.search_runs([runs.experiment_id], "", "ACTIVE_ONLY", 1000, None, None)
    keys = [(-r.info.start_time, r.info.run_id) for r in found]
    assert keys == sorted(keys)
    assert len({start for start, _ in keys}) < len(keys)  # there are ties
    assert runs.all_pages(2) == [run_id for _, run_id in keys]


def test_offset_tokens_of_earlier_versions_still_work(runs: Experiment) -> None:
    everything, _ = runs.search(order_by=["metrics.m"])
    ids, token = runs.search(order_by=["metrics.m"], max_results=5, page_token=encode_page_token(5))
    assert ids == everything[5:10]
    assert token is not None
    assert runs.search(order_by=["metrics.m"], max_results=5, page_token=token)[0] == everything[10:15]


def test_mlflow_style_offset_tokens_work(runs: Experiment) -> None:
    everything, _ = runs.search()
    mlflow_token = base64.b64encode(json.dumps({"offset": 3}).encode()).decode()
    assert runs.search(max_results=2, page_token=mlflow_token)[0] == everything[3:5]


def test_runs_created_or_deleted_between_pages_do_not_repeat_or_skip_others(store_uri: str) -> None:
    store = Store(store_uri)
    experiment_id = int(store.create_experiment("growing"))
    created = [store.create_run(experiment_id, "ann", 1000 + i, None, []).info.run_id for i in range(10)]
    newest_first = created[::-1]
    first, token = store.search_runs([experiment_id], "", "ACTIVE_ONLY", 4, None, None)
    assert [r.info.run_id for r in first] == newest_first[:4]
    # Newer runs sort before the page already read: with an OFFSET they would push the last runs of
    # that page into the next one. A deleted run not yet seen would make an OFFSET skip another run.
    for i in range(3):
        store.create_run(experiment_id, "ann", 2000 + i, None, [])
    store.delete_run(newest_first[5])
    rest: list[str] = []
    while token:
        page, token = store.search_runs([experiment_id], "", "ACTIVE_ONLY", 4, None, token)
        rest += [r.info.run_id for r in page]
    assert rest == newest_first[4:5] + newest_first[6:]
    store.close()


def _tampered(token: str, **changes: Any) -> str:
    payload = json.loads(base64.urlsafe_b64decode(token))
    payload.update(changes)
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def test_a_token_only_continues_the_order_it_came_from(runs: Experiment) -> None:
    _, token = runs.search(order_by=["metrics.m"], max_results=3)
    assert token is not None
    with pytest.raises(InvalidParameterValue, match="another order_by"):
        runs.search(order_by=["params.p"], page_token=token)
    with pytest.raises(InvalidParameterValue, match="another order_by"):
        runs.search(order_by=["metrics.m DESC"], page_token=token)
    # The same order spelt differently is the same order.
    assert runs.search(order_by=["metric.m ASC"], max_results=3, page_token=token)[0]


@pytest.mark.parametrize(
    "after",
    [
        ["x", 1.0, "run"],  # wrong length
        [0, 0.5, 1000, None],  # the run id may not be missing
        ["0", 0.5, 1000, "id"],  # a rank must be an integer
        [0, "0.5", 1000, "id"],  # a metric must be a number
        [0, 0.5, "1000", "id"],  # start_time must be an integer
        [0, 0.5, 2**70, "id"],  # beyond int64
        [0, 0.5, True, "id"],
        [0, 0.5, 1000, 7],
        "not a list",
    ],
)
def test_tampered_tokens_are_rejected_before_the_database_sees_them(runs: Experiment, after: Any) -> None:
    _, token = runs.search(order_by=["metrics.m"], max_results=3)
    assert token is not None
    with pytest.raises(InvalidParameterValue, match="Invalid page token"):
        runs.search(order_by=["metrics.m"], page_token=_tampered(token, after=after))


@pytest.mark.parametrize("token", ["not-a-token!", "e30=", "bnVsbA==", "eyJ2IjogMywgImFmdGVyIjogW119"])
def test_garbage_tokens_are_rejected(runs: Experiment, token: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid page token"):
        runs.search(page_token=token)


def test_a_bad_token_is_an_error_even_without_experiments(runs: Experiment) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid page token"):
        runs.search(experiment_ids=[], page_token="not-a-token!")
