"""Web UI benchmark: the runs table at 10,000 runs and downsampled histories of 1,000,000 points.

    python bench/ui_bench.py                      # full sizes of issue 5 (seeding takes a while)
    python bench/ui_bench.py --small              # 1,000 runs and 20 × 100,000 points, for development
    python bench/ui_bench.py --runs 2000 --points 200000 --history-runs 5

Starts a fresh `tracklet server` on SQLite in a temporary folder, seeds it over HTTP with MLflow's
`runs/create` and `runs/log-batch` (1,000 points per batch), then times tracklet's UI endpoints
(median of several repeats, client-side wall time over one kept-alive connection) and prints a
table. Targets: table page, sort and filter < 300 ms; history < 100 ms per run.

With `--browser` it also opens the runs page in headless Chromium (Playwright, Debian's
/usr/bin/chromium or TRACKLET_CHROMIUM) and times the first screen: navigation start → the first
rows of the table painted with the default 40 columns, in a new browser context each time (empty
cache and no remembered columns). Target < 1 s. One run's request timeline is printed as a profile.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.processes import TrackletServer

API = "/api/2.0/mlflow"
T0 = 1_700_000_000_000
N_PARAMS, N_METRICS, N_TAGS = 20, 20, 10


def seed_table(url: str, experiment_id: str, runs: int, threads: int = 2) -> None:
    def worker(part: range) -> None:
        with httpx.Client(base_url=url, timeout=120) as c:  # one kept-alive connection per thread
            for i in part:
                rng = random.Random(i)
                r = c.post(API + "/runs/create", json={"experiment_id": experiment_id, "run_name": f"run-{i:05d}",
                                                      "start_time": T0 + i * 1000, "user_id": "bench"})  # fmt: skip
                run_id = r.json()["run"]["info"]["run_id"]
                c.post(API + "/runs/log-batch", json={
                    "run_id": run_id,
                    "params": [{"key": f"p{k}", "value": f"v{rng.randrange(10)}"} for k in range(N_PARAMS)],
                    "metrics": [{"key": f"m{k}", "value": rng.random(), "timestamp": T0, "step": 0} for k in range(N_METRICS)],
                    "tags": [{"key": f"t{k}", "value": f"tag-{rng.randrange(100)}"} for k in range(N_TAGS)],
                }).raise_for_status()  # fmt: skip
                if (i + 1) % 2000 == 0:
                    print(f"  seeded run {i + 1:,}", flush=True)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, [range(t, runs, threads) for t in range(threads)]))


def seed_history(url: str, experiment_id: str, runs: int, points: int, threads: int = 2) -> list[str]:
    def one(j: int) -> str:
        with httpx.Client(base_url=url, timeout=300) as c:
            r = c.post(
                API + "/runs/create",
                json={"experiment_id": experiment_id, "run_name": f"long-{j}", "start_time": T0},
            )
            run_id = r.json()["run"]["info"]["run_id"]
            rng = random.Random(j)
            for start in range(0, points, 1000):
                metrics = [
                    {
                        "key": "loss",
                        "value": 1 / (1 + i / 1000) + rng.random() * 0.05,
                        "timestamp": T0 + i * 100,
                        "step": i,
                    }
                    for i in range(start, min(points, start + 1000))
                ]
                c.post(API + "/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).raise_for_status()
            print(f"  history run {j}: {points:,} points", flush=True)
            return str(run_id)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(runs)))


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# The first screen: rows with run ids and the default metric columns in the header, read at an
# animation frame (the frame that paints them).
FIRST_SCREEN = """() => document.querySelector('#runs-table .tr[data-run-id] a.run-link')
    && document.querySelector(".th[data-col='p:p0']") && performance.now()"""


def browser_first_screen(url: str, experiment_id: str, repeat: int = 7) -> tuple[list[float], str]:
    """Milliseconds from navigation start to the first rows painted, one new context per repeat,
    and the request timeline of the last repeat."""
    import os

    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("TRACKLET_CHROMIUM", "/usr/bin/chromium")
    times: list[float] = []
    timeline = ""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for i in range(repeat + 1):  # the first one warms the server's caches and is left out
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/#/experiments/{experiment_id}", wait_until="commit")
                ms = page.wait_for_function(FIRST_SCREEN, polling="raf", timeout=30_000).json_value()
                if i:
                    times.append(float(ms))
                entries = page.evaluate(
                    """() => performance.getEntriesByType('resource').map(e =>
                        [e.name.replace(location.origin, ''), e.startTime, e.responseStart, e.responseEnd])"""
                )
                timeline = "\n".join(
                    f"    {start:7.0f} → {first:7.0f} → {end:7.0f} ms  {name}" for name, start, first, end in entries
                )
                context.close()
        finally:
            browser.close()
    return times, timeline


def timed(fn: Any, repeat: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def time_endpoints(
    c: httpx.Client, args: argparse.Namespace, exp: str, run_ids: list[str]
) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    columns = {
        "params": [f"p{k}" for k in range(N_PARAMS)],
        "metrics": [f"m{k}" for k in range(N_METRICS)],
    }

    def table(**body: Any) -> dict[str, Any]:
        r = c.post("/api/tracklet/runs/table", json={"experiment_ids": [exp], "limit": 100, **columns, **body})
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    cases = [
        ("table: first page + column keys", {"include_keys": True}, ""),
        ("table: first page", {}, ""),
        ("table: sort by metric m7 DESC", {"order_by": ["metrics.m7 DESC"]}, ""),
        ("table: sort by param p3 ASC", {"order_by": ["params.p3 ASC"]}, ""),
        (
            "table: filter metrics.m1 > 0.5 AND params.p2 = 'v3'",
            {"filter": "metrics.m1 > 0.5 AND params.p2 = 'v3'"},
            "",
        ),
        ("table: filter tags.t0 LIKE 'tag-1%'", {"filter": "tags.t0 LIKE 'tag-1%'"}, ""),
        (
            "table: last page (offset total-100) sorted by m3",
            {"order_by": ["metrics.m3 ASC"], "offset": max(0, args.runs - 100)},
            "",
        ),
        ("table: nested (top-level runs + child counts)", {"nested": True}, ""),
        (
            "table: nested under filter metrics.m1 > 0.5 AND params.p2 = 'v3'",
            {"nested": True, "filter": "metrics.m1 > 0.5 AND params.p2 = 'v3'"},
            "",
        ),
    ]
    for label, body, _ in cases:
        ms, res = timed(lambda body=body: table(**body))
        rows.append((label, ms, f"{len(res['rows'])} rows of {res['total']:,}"))

    def hist(ids: list[str], **q: Any) -> dict[str, Any]:
        r = c.get(
            "/api/tracklet/metrics/history",
            params={"run_ids": ids, "metric_key": "loss", "buckets": 1000, **q},
        )
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    cold = []
    for run_id in [] if args.reuse else run_ids:  # the first read after logging (tiles kept at ingestion)
        ms, _ = timed(lambda run_id=run_id: hist([run_id]), repeat=1)
        cold.append(ms)
    if cold:
        label = f"history: first read of one run after logging, {args.points:,} pts"
        rows.append((label, statistics.median(cold), f"max {max(cold):.0f} ms"))
    warm = [timed(lambda run_id=run_id: hist([run_id]))[0] for run_id in run_ids]
    rows.append(
        (
            f"history: one run, {args.points:,} pts → 1,000 buckets",
            statistics.median(warm),
            f"max {max(warm):.0f} ms",
        )
    )
    ms, res = timed(lambda: hist(run_ids))
    n_buckets = sum(len(s["x"]) for s in res["series"])
    rows.append(
        (
            f"history: {len(run_ids)} runs in one request",
            ms,
            f"{ms / len(run_ids):.1f} ms per run, {n_buckets:,} buckets",
        )
    )
    lo, hi = args.points * 0.4, args.points * 0.45
    ms, res = timed(lambda: hist(run_ids[:1], min=lo, max=hi))
    rows.append(("history: zoom to 5% of one run", ms, res["series"][0]["source"]))
    lo, hi = args.points * 0.4, args.points * 0.4 + 2000
    ms, res = timed(lambda: hist(run_ids[:1], min=lo, max=hi))
    rows.append(("history: zoom to 2,000 steps (raw points)", ms, res["series"][0]["source"]))
    ms, res = timed(lambda: hist(run_ids[:1], x="time"))
    rows.append(("history: one run against wall time", ms, res["series"][0]["source"]))
    if args.history_runs and run_ids:
        c.post(API + "/runs/log-batch", json={"run_id": run_ids[0], "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": T0 + args.points * 100 + i, "step": args.points + i} for i in range(100)]})  # fmt: skip
        ms, res = timed(lambda: hist(run_ids[:1]), repeat=1)
        rows.append(("history: first read after 100 new points (live)", ms, res["series"][0]["source"]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--history-runs", type=int, default=20)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--small", action="store_true", help="1,000 runs and 20 × 100,000 points")
    ap.add_argument("--reuse", action="store_true", help="time the data already seeded in --workdir (no seeding)")
    ap.add_argument("--browser", action="store_true", help="also time the runs page's first screen in Chromium")
    ap.add_argument("--browser-only", action="store_true", help="only the Chromium timing (implies --reuse)")
    ap.add_argument("--workdir", default=None, help="keep the server's data here (default: a temporary folder)")
    args = ap.parse_args()
    if args.small:
        args.runs, args.points = 1000, 100_000
    if args.browser_only:
        args.reuse = args.browser = True
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tracklet-ui-bench-"))
    server = TrackletServer(f"sqlite:///{work / 'tracklet.db'}", str(work / "artifacts")).start()
    rows: list[tuple[str, float, str]] = []
    try:
        c = httpx.Client(base_url=server.url, timeout=600)
        if args.reuse:
            exps = {e["name"]: e["experiment_id"] for e in c.get("/api/tracklet/experiments").json()["experiments"]}
            exp, hist_exp = exps["table"], exps["history"]
            hist_rows = c.post("/api/tracklet/runs/table", json={"experiment_ids": [hist_exp], "limit": 1000}).json()
            run_ids = [r["run_id"] for r in hist_rows["rows"]]
        else:
            exp = c.post(API + "/experiments/create", json={"name": "table"}).json()["experiment_id"]
            hist_exp = c.post(API + "/experiments/create", json={"name": "history"}).json()["experiment_id"]
            t = time.perf_counter()
            print(
                f"seeding {args.runs:,} runs × ({N_PARAMS} params, {N_METRICS} metrics, {N_TAGS} tags) …",
                flush=True,
            )
            seed_table(server.url, exp, args.runs)
            print(f"  {time.perf_counter() - t:.0f} s", flush=True)
            t = time.perf_counter()
            print(f"seeding {args.history_runs} runs × {args.points:,} points …", flush=True)
            run_ids = seed_history(server.url, hist_exp, args.history_runs, args.points)
            print(f"  {time.perf_counter() - t:.0f} s", flush=True)

        if args.browser:
            times, timeline = browser_first_screen(server.url, exp)
            rows.append(("browser: runs page first screen (nav → rows painted)", statistics.median(times),
                         f"min {min(times):.0f}, max {max(times):.0f} ms over {len(times)} new contexts"))  # fmt: skip
            print("request timeline of one first screen (start → first byte → end, ms after navigation start):")
            print(timeline, flush=True)
        if not args.browser_only:
            rows += time_endpoints(c, args, exp, run_ids)
    finally:
        server.stop()

    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'measure'.ljust(width)}  {'median ms':>10}  note")
    for label, ms, note in rows:
        print(f"{label.ljust(width)}  {ms:10.1f}  {note}")
    print(f"\ndata: {work}")


if __name__ == "__main__":
    main()
