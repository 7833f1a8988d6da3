"""Cost of a traced call on the caller's thread: `@tracklet.trace` next to `@mlflow.trace`, same server.

    python bench/client_tracing.py http://127.0.0.1:5000 [--calls 2000]

Each call is a function of three spans (a root and two children, inputs and outputs recorded), timed with
time.perf_counter_ns around the call. Both clients send in the background (MLflow's default, asynchronous
trace logging); "end-to-end" is calls / (time from the first call until every trace is on the server),
checked by reading each client's last trace back with its three spans and counting the traces stored.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a script: the repo first
from bench import data  # noqa: E402


def _stats(samples_ns: list[int]) -> dict[str, float]:
    s = sorted(samples_ns)
    return {"median_us": statistics.median(s) / 1000, "p99_us": s[int(len(s) * 0.99) - 1] / 1000}


def _timed(call: Callable[[int], Any], n: int) -> tuple[list[int], float]:
    samples, clock = [0] * n, time.perf_counter_ns
    start = time.perf_counter()
    for i in range(n):
        t0 = clock()
        call(i)
        samples[i] = clock() - t0
    return samples, start


def bench_tracklet(url: str, n: int) -> dict[str, float]:
    import tracklet

    tracklet.set_tracking_uri(url)
    tracklet.set_experiment(f"bench-traces-{uuid.uuid4().hex[:8]}")

    predict = data.traced_predict(tracklet.trace, tracklet.start_span)

    samples, start = _timed(predict, n)
    tracklet.flush()
    done = time.perf_counter()
    client = tracklet.client.fluent._state.client()
    last = client.transport.get("/api/3.0/mlflow/traces/get", trace_id=tracklet.get_last_active_trace_id())
    assert len(last["trace"].get("spans", [])) == 3, "the last trace is not complete"
    experiment_id = tracklet.client.fluent._current_experiment_id(client)
    stored, token = 0, None
    while True:
        location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
        page = client.transport.post(
            "/api/3.0/mlflow/traces/search", {"locations": [location], "max_results": 500, "page_token": token}
        )
        stored += len(page.get("traces", []))
        if not (token := page.get("next_page_token")):
            break
    return {**_stats(samples), "e2e_per_s": n / (done - start), "stored": stored, "last_complete": True}


def bench_mlflow(url: str, n: int) -> dict[str, float]:
    import mlflow

    mlflow.set_tracking_uri(url)
    experiment_id = mlflow.set_experiment(f"bench-mlflow-traces-{uuid.uuid4().hex[:8]}").experiment_id

    predict = data.traced_predict(mlflow.trace, mlflow.start_span)

    samples, start = _timed(predict, n)
    mlflow.flush_trace_async_logging()
    done = time.perf_counter()
    last = mlflow.get_trace(mlflow.get_last_active_trace_id())
    # Reported, not asserted: MLflow's client drops spans when its export queue is full.
    complete = last is not None and len(last.data.spans) == 3
    stored = len(
        mlflow.search_traces(locations=[experiment_id], max_results=n + 1, return_type="list", include_spans=False)
    )
    return {**_stats(samples), "e2e_per_s": n / (done - start), "stored": stored, "last_complete": complete}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'client':<16} {'median us':>10} {'p99 us':>10} {'e2e traces/s':>13} {'traces stored':>14}  last trace")
    for name, bench in (("tracklet.trace", bench_tracklet), ("mlflow.trace", bench_mlflow)):
        r = bench(args.url, args.calls)
        stored = f"{r['stored']} of {args.calls}"
        last = "complete" if r["last_complete"] else "spans missing"
        print(f"{name:<16} {r['median_us']:>10.1f} {r['p99_us']:>10.1f} {r['e2e_per_s']:>13.1f} {stored:>14}  {last}")


if __name__ == "__main__":
    main()
