"""The deterministic data every workload writes, and the checks that it reads back intact.

Client workloads and the server-only driver write the same values and verify with the same
functions, on runs normalised to :class:`RunView` so neither depends on the other's types.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

N_PARAMS = 10
N_METRICS = 5
N_TAGS = 5
TIMESTAMP0 = 1_700_000_000_000  # ms; fixed so duplicate-point rules never hide a point
HISTORY_KEY = "h"


class VerificationError(AssertionError):
    """Data read back differs from what was written: the workload's figures are void."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise VerificationError(message)


# -- runs (workloads 3, 4, 8) ------------------------------------------------------------------


def run_name(i: int) -> str:
    return f"run-{i:06d}"


def run_index(name: str) -> int:
    return int(name.split("-", 1)[1])


def run_params(i: int) -> dict[str, str]:
    return {f"p{j}": f"v{(i + j) % 7}" for j in range(N_PARAMS)}


def run_metrics(i: int) -> dict[str, float]:
    return {f"m{j}": ((i * 7919 + j * 104_729) % 1000) / 1000.0 for j in range(N_METRICS)}


def run_tags(i: int) -> dict[str, str]:
    return {f"t{j}": f"g{(i + j) % 10}-{j}" for j in range(N_TAGS)}


@dataclass
class RunView:
    run_id: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    status: str = ""


def run_view_from_json(run: dict[str, Any]) -> RunView:
    """A run as the REST API returns it (runs/search, runs/get)."""
    info = run.get("info", {})
    data = run.get("data", {})
    return RunView(
        run_id=info.get("run_id") or info.get("run_uuid", ""),
        name=info.get("run_name", ""),
        params={p["key"]: p.get("value", "") for p in data.get("params", [])},
        metrics={m["key"]: float(m["value"]) for m in data.get("metrics", [])},
        tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
        status=info.get("status", ""),
    )


def verify_run_contents(run: RunView) -> None:
    i = run_index(run.name)
    check(run.params == run_params(i), f"{run.name}: params {run.params} != {run_params(i)}")
    want_metrics = run_metrics(i)
    check(
        set(run.metrics) == set(want_metrics)
        and all(math.isclose(run.metrics[k], v, abs_tol=1e-12) for k, v in want_metrics.items()),
        f"{run.name}: metrics {run.metrics} != {want_metrics}",
    )
    user_tags = {k: v for k, v in run.tags.items() if not k.startswith("mlflow.")}
    check(user_tags == run_tags(i), f"{run.name}: tags {user_tags} != {run_tags(i)}")


def verify_all_runs(runs: list[RunView], n: int) -> None:
    names = [r.name for r in runs]
    check(len(runs) == n, f"expected {n} runs, read back {len(runs)}")
    check(len(set(names)) == n, f"duplicate runs: {n} expected, {len(set(names))} distinct")
    check(set(names) == {run_name(i) for i in range(n)}, "run names differ from those written")
    for run in runs:
        verify_run_contents(run)


# -- searches (workload 4) ---------------------------------------------------------------------

FILTERED = "metrics.m0 > 0.5 and params.p1 = 'v3'"
FILTERED_ORDER = "metrics.m0 DESC"
TAG_LIKE = "tags.t0 LIKE 'g3-%'"


def search_queries(max_results: int, top: int) -> dict[str, dict[str, Any]]:
    """The single-page queries of workload 4, as runs/search arguments."""
    return {
        "no_filter": {"filter": "", "order_by": [], "max_results": max_results},
        "filtered": {"filter": FILTERED, "order_by": [FILTERED_ORDER], "max_results": top},
        "tag_like": {"filter": TAG_LIKE, "order_by": [], "max_results": max_results},
    }


def _matches(query: str, i: int) -> bool:
    if query == "no_filter":
        return True
    if query == "filtered":
        return run_metrics(i)["m0"] > 0.5 and run_params(i)["p1"] == "v3"
    if query == "tag_like":
        return run_tags(i)["t0"].startswith("g3-")
    raise KeyError(query)


def verify_search(query: str, spec: dict[str, Any], runs: list[RunView], n: int) -> None:
    expected = sum(1 for i in range(n) if _matches(query, i))
    want = min(expected, spec["max_results"])
    check(len(runs) == want, f"search {query}: {len(runs)} results, expected {want}")
    check(len({r.run_id for r in runs}) == len(runs), f"search {query}: duplicate runs")
    for run in runs:
        check(_matches(query, run_index(run.name)), f"search {query}: {run.name} does not match")
        verify_run_contents(run)
    if query == "filtered":
        values = [r.metrics["m0"] for r in runs]
        check(values == sorted(values, reverse=True), "search filtered: not ordered by m0 DESC")
        if want:
            best = max(run_metrics(i)["m0"] for i in range(n) if _matches(query, i))
            check(math.isclose(values[0], best), f"search filtered: top m0 {values[0]} != {best}")


def verify_runs_table(runs: list[RunView], n: int, rows: int) -> None:
    """The UI's runs table: the first `rows` runs ordered by m0 descending."""
    check(len(runs) == min(n, rows), f"runs table: {len(runs)} rows, expected {min(n, rows)}")
    values = [r.metrics["m0"] for r in runs]
    check(values == sorted(values, reverse=True), "runs table: not ordered by m0 DESC")
    best = sorted((run_metrics(i)["m0"] for i in range(n)), reverse=True)[: len(runs)]
    check(all(math.isclose(a, b) for a, b in zip(values, best, strict=True)), "runs table: not the top rows")
    for run in runs:
        verify_run_contents(run)


# -- metric points (workloads 1, 2, 5, 7) ------------------------------------------------------


def history_value(step: int) -> float:
    """A value per step that is cheap to recompute and sensitive to lost or shuffled points."""
    return ((step * 2_654_435_761) % 1_000_003) / 1_000_003.0


def history_checksum(n: int) -> float:
    return math.fsum(history_value(s) * (s % 97 + 1) for s in range(n))


def verify_history(points: list[tuple[int, float]], n: int, what: str) -> None:
    """points: (step, value) pairs read back; n points with steps 0..n-1 were written."""
    check(len(points) == n, f"{what}: {len(points)} points read back, {n} written")
    steps = {s for s, _ in points}
    check(steps == set(range(n)), f"{what}: steps differ from 0..{n - 1}")
    got = math.fsum(v * (s % 97 + 1) for s, v in points)
    want = history_checksum(n)
    check(math.isclose(got, want, rel_tol=1e-9), f"{what}: checksum {got} != {want}")


def eval_record(i: int) -> dict[str, Any]:
    """Record `i` of the evaluation dataset workload: a question, its expected answer and a tag."""
    return {
        "inputs": {"question": f"What is {i} + {i}?", "context": f"doc-{i % 50}"},
        "expectations": {"answer": str(2 * i)},
        "tags": {"topic": f"t{i % 7}"},
    }


def log_metric_value(i: int) -> float:
    return i * 0.5


def traced_predict(trace: Any, start_span: Any) -> Callable[[int], str]:
    """The traced call of the tracing workloads, built with MLflow's or tracklet's verbs (the same names):
    a root span `predict` with two children, `retrieve` (inputs and outputs set by hand) and an LLM span
    `generate`."""

    @trace(span_type="LLM")
    def generate(i: int) -> str:
        return f"answer {i}"

    @trace(name="predict")
    def predict(i: int) -> str:
        with start_span("retrieve") as span:
            span.set_inputs({"query": i})
            span.set_outputs([i, i + 1])
        return generate(i)

    return predict  # type: ignore[no-any-return]
