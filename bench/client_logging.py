"""Per-call cost of tracklet.log_metric (queued) next to mlflow.log_metric (synchronous), same server.

    python bench/client_logging.py http://127.0.0.1:5000 [--points 100000] [--mlflow-points 2000]

Per-call times are measured on the caller's thread with time.perf_counter_ns around each call.
"End-to-end" is points / (time from the first call until the server has stored the last point).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid


def _stats(samples_ns: list[int]) -> tuple[float, float, float]:
    s = sorted(samples_ns)
    return statistics.median(s) / 1000, s[int(len(s) * 0.99) - 1] / 1000, sum(s) / len(s) / 1000


def bench_tracklet(url: str, n: int) -> dict[str, float]:
    import tracklet

    tracklet.set_tracking_uri(url)
    tracklet.set_experiment(f"bench-{uuid.uuid4().hex[:8]}")
    samples = [0] * n
    clock = time.perf_counter_ns
    with tracklet.start_run() as run:
        start = time.perf_counter()
        for i in range(n):
            t0 = clock()
            tracklet.log_metric("m", 0.5, step=i)
            samples[i] = clock() - t0
        enqueued = time.perf_counter()
        tracklet.flush()
        done = time.perf_counter()
    stored = len(tracklet.get_metric_history(run.info.run_id, "m"))
    assert stored == n, f"{stored} of {n} points stored"
    median, p99, mean = _stats(samples)
    return {"n": n, "median": median, "p99": p99, "mean": mean, "enqueue_s": enqueued - start,
            "e2e": n / (done - start)}  # fmt: skip


def bench_mlflow(url: str, n: int, synchronous: bool) -> dict[str, float]:
    import mlflow

    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(f"bench-mlflow-{uuid.uuid4().hex[:8]}")
    samples = [0] * n
    clock = time.perf_counter_ns
    with mlflow.start_run():
        start = time.perf_counter()
        for i in range(n):
            t0 = clock()
            mlflow.log_metric("m", 0.5, step=i, synchronous=synchronous)
            samples[i] = clock() - t0
        enqueued = time.perf_counter()
        if not synchronous:
            mlflow.flush_async_logging()
        done = time.perf_counter()
    median, p99, mean = _stats(samples)
    return {"n": n, "median": median, "p99": p99, "mean": mean, "enqueue_s": enqueued - start,
            "e2e": n / (done - start)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="tracking server URL (tracklet server or mlflow server)")
    parser.add_argument("--points", type=int, default=100_000, help="tracklet.log_metric calls")
    parser.add_argument("--mlflow-points", type=int, default=2_000, help="mlflow.log_metric calls (slow)")
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()

    rows = [("tracklet.log_metric (queued)", bench_tracklet(args.url, args.points))]
    if not args.skip_mlflow:
        rows.append(("mlflow.log_metric (synchronous)", bench_mlflow(args.url, args.mlflow_points, True)))
        rows.append(("mlflow.log_metric(synchronous=False)", bench_mlflow(args.url, args.mlflow_points, False)))

    print(f"server: {args.url}")
    header = f"{'call':38} {'calls':>8} {'median µs':>10} {'p99 µs':>10} {'mean µs':>10} {'end-to-end points/s':>20}"
    print(header)
    print("-" * len(header))
    for name, r in rows:
        print(f"{name:38} {r['n']:>8} {r['median']:>10.2f} {r['p99']:>10.1f} {r['mean']:>10.1f} {r['e2e']:>20,.0f}")


if __name__ == "__main__":
    main()
