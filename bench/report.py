"""The results table: each figure for both servers, the ratio, the issue's target and whether it is met.

Ratio is "× faster" of the first server (tracklet) over the second (MLflow): for times it is
second ÷ first, for rates first ÷ second, so above 1 always means the first server is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.sizes import WORKLOADS


@dataclass(frozen=True)
class Row:
    workload: str
    source: str  # "client" (official MLflow client), "driver" (server only), "server" (footprint)
    key: str  # metric name inside that result
    label: str
    higher_is_better: bool
    min_ratio: float | None = None  # target: first ÷ second at least this much better
    below: float | None = None  # target: first server's figure under this
    above: float | None = None  # target: first server's figure at least this


ROWS: tuple[Row, ...] = (
    Row("server", "server", "startup_s", "start to /health (s)", False, below=2.0),
    Row("server", "server", "idle_rss_mb", "idle RSS, whole tree (MB)", False, below=150.0),
    Row("server", "server", "idle_pss_mb", "idle PSS, whole tree (MB)", False, below=150.0),
    Row("server", "server", "peak_rss_mb", "peak RSS, whole tree (MB)", False),
    Row("server", "server", "db_mb", "database on disk (MB)", False),
    Row("log_metric", "client", "median_ms", "mlflow.log_metric median (ms)", False, min_ratio=10.0),
    Row("log_metric", "client", "p99_ms", "mlflow.log_metric p99 (ms)", False),
    Row("log_metric", "client", "client_cpu_per_call_ms", "client CPU per call (ms)", False),
    Row("log_metric", "driver", "median_ms", "log-metric median, server only (ms)", False),
    Row("log_metric", "driver", "stall_pct", "log-metric calls >=35 ms (%)", False, below=1.0),
    Row("log_batch", "client", "points_per_s", "log_batch points/s", True, min_ratio=4.0),
    Row("log_batch", "client", "client_cpu_per_batch_ms", "client CPU per batch (ms)", False),
    Row(
        "log_batch",
        "driver",
        "points_per_s",
        "log-batch points/s, server only",
        True,
        min_ratio=30.0,
        above=200_000.0,
    ),
    Row("create_runs", "client", "runs_per_s", "runs created/s", True, min_ratio=5.0),
    Row("create_runs", "driver", "runs_per_s", "runs created/s, server only", True, min_ratio=20.0),
    Row("search", "client", "no_filter_ms", "search_runs no filter (ms)", False, min_ratio=4.0, below=200.0),
    Row("search", "client", "filtered_ms", "search_runs m0>0.5 & p1 (ms)", False, min_ratio=4.0, below=200.0),
    Row("search", "client", "tag_like_ms", "search_runs tag LIKE (ms)", False, min_ratio=4.0, below=200.0),
    Row("search", "client", "page_all_ms", "search_runs page through all (ms)", False, min_ratio=4.0),
    Row("search", "driver", "no_filter_ms", "runs/search no filter, server only (ms)", False, min_ratio=20.0),
    Row("search", "driver", "filtered_ms", "runs/search filtered, server only (ms)", False, min_ratio=20.0),
    Row("search", "driver", "tag_like_ms", "runs/search tag LIKE, server only (ms)", False, min_ratio=20.0),
    Row("search", "driver", "page_all_ms", "runs/search paging all, server only (ms)", False, min_ratio=20.0),
    Row("artifacts", "client", "big_up_mb_s", "big artifact up (MB/s)", True, min_ratio=1.0),
    Row("artifacts", "client", "big_down_mb_s", "big artifact down (MB/s)", True, min_ratio=1.0),
    Row("artifacts", "client", "small_up_files_s", "1 KB files up (files/s)", True, min_ratio=1.0),
    Row("artifacts", "client", "small_down_files_s", "1 KB files down (files/s)", True, min_ratio=1.0),
    Row("artifacts", "server", "rss_growth_mb", "RSS growth during artifacts (MB)", False, below=32.0),
    Row("artifacts", "driver", "big_up_mb_s", "big artifact up, server only (MB/s)", True),
    Row("artifacts", "driver", "big_down_mb_s", "big artifact down, server only (MB/s)", True),
    Row("concurrency", "client", "wall_s", "N concurrent clients, wall (s)", False, min_ratio=5.0),
    Row("concurrency", "client", "errors", "N concurrent clients, errors", False, below=0.5),
    Row("ui", "client", "runs_table_ms", "runs table via search_runs (ms)", False),
    Row("ui", "driver", "runs_table_ms", "runs table runs/search, server only (ms)", False),
    Row(
        "ui",
        "driver",
        "tracklet_runs_table_ms",
        "runs table, tracklet's /api/tracklet/runs/table (ms)",
        False,
        below=300.0,
    ),
    Row(
        "tracklet_client",
        "client",
        "log_metric_median_us",
        "tracklet.log_metric median (us)",
        False,
        below=10.0,
    ),
    Row(
        "tracklet_client",
        "client",
        "sustained_points_s",
        "tracklet client sustained points/s",
        True,
        above=100_000.0,
    ),
    Row("traces", "client", "trace_median_ms", "@mlflow.trace call, synchronous export (ms)", False),
    Row("traces", "client", "traces_per_s", "traces logged/s", True),
    Row("traces", "client", "search_spans_ms", "search_traces with spans (ms)", False),
    Row("traces", "client", "search_filtered_ms", "search_traces filtered (ms)", False),
    Row("traces", "client", "get_trace_ms", "get_trace (ms)", False),
    Row("otlp", "client", "export_ms", "OTLP export of one trace (ms)", False),
    Row("otlp", "client", "traces_per_s", "OTLP traces/s, one export each", True),
    Row("otlp", "client", "batch_spans_per_s", "OTLP spans/s, exports of 512", True),
    Row("eval_datasets", "client", "records_per_s", "evaluation dataset records merged/s", True),
    Row("eval_datasets", "client", "read_ms", "evaluation dataset read whole, to_df (ms)", False),
    Row("eval_datasets", "client", "search_ms", "search_datasets (ms)", False),
)


# Rows whose keys depend on the sizes (one per history length).
def dynamic_rows(history_points: list[int]) -> list[Row]:
    rows = []
    for n in history_points:
        million = n >= 1_000_000
        rows.append(
            Row(
                "history",
                "client",
                f"history_{n}_ms",
                f"get_metric_history {n:,} pts (ms)",
                False,
                min_ratio=4.0,
            )
        )
        rows.append(
            Row(
                "history",
                "driver",
                f"history_{n}_ms",
                f"get-history {n:,} pts, server only (ms)",
                False,
                below=1500.0 if million else None,
            )
        )
        rows.append(Row("ui", "driver", f"chart_{n}_ms", f"chart bulk-interval {n:,} pts (ms)", False))
        rows.append(
            Row(
                "ui",
                "driver",
                f"tracklet_chart_{n}_ms",
                f"chart, tracklet's downsampled {n:,} pts (ms)",
                False,
                below=100.0,
            )
        )
        rows.append(
            Row(
                "ui", "driver", f"tracklet_chart_{n}_first_ms", f"chart, first read after logging {n:,} pts (ms)", False
            )
        )
    return rows


def value(results: dict[str, Any], row: Row, server: str) -> float | None:
    if row.workload == "server":
        return results["servers"].get(server, {}).get(row.key)
    entry = results["workloads"].get(row.workload, {}).get(server, {}).get(row.source, {})
    return entry.get("metrics", {}).get(row.key)


def cpu_share(results: dict[str, Any], row: Row, server: str) -> float | None:
    if row.source != "client":
        return None
    entry = results["workloads"].get(row.workload, {}).get(server, {}).get("client", {})
    block = entry.get("cpu", {}).get(row.key)
    if not block or not block.get("wall_s"):
        return None
    return block["cpu_s"] / block["wall_s"]


def ratio(row: Row, first: float | None, second: float | None) -> float | None:
    if first is None or second is None:
        return None
    if not first or not second:
        return None  # a zero rate, time or count has no meaningful ratio
    return first / second if row.higher_is_better else second / first


def target_text(row: Row) -> str:
    parts = []
    if row.min_ratio is not None:
        parts.append(f">={row.min_ratio:g}x")
    if row.below is not None:
        parts.append(f"<{row.below:g}")
    if row.above is not None:
        parts.append(f">={row.above:,.0f}")
    return " & ".join(parts)


def met(row: Row, first: float | None, r: float | None) -> bool | None:
    if not target_text(row) or first is None:
        return None
    ok = True
    if row.min_ratio is not None:
        ok = ok and r is not None and r >= row.min_ratio
    if row.below is not None:
        ok = ok and first < row.below
    if row.above is not None:
        ok = ok and first >= row.above
    return ok


def build_rows(results: dict[str, Any], servers: list[str], timing: bool) -> list[dict[str, Any]]:
    first = servers[0]
    second = servers[1] if len(servers) > 1 else None
    history_points = [int(n) for n in results["sizes"]["history_points"]]
    out = []
    order = ["server", *WORKLOADS]
    every = sorted((*ROWS, *dynamic_rows(history_points)), key=lambda r: order.index(r.workload))
    for row in every:
        values = {s: value(results, row, s) for s in servers}
        if all(v is None for v in values.values()):
            continue
        r = ratio(row, values[first], values[second]) if second else None
        out.append(
            {
                "workload": row.workload,
                "source": row.source,
                "metric": row.key,
                "label": row.label,
                "values": values,
                "client_cpu_share": {s: cpu_share(results, row, s) for s in servers},
                "ratio": r,
                "target": target_text(row),
                "met": met(row, values[first], r) if timing and first.startswith("tracklet") else None,
            }
        )
    return out


def ratio_words(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.2f}x faster" if r >= 1 else f"{1 / r:.2f}x slower"


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def render(rows: list[dict[str, Any]], servers: list[str]) -> str:
    header = ["workload", "metric", *servers, "ratio", "client CPU", "target", "met?"]
    lines = []
    for row in rows:
        shares = [row["client_cpu_share"][s] for s in servers]
        share = " / ".join("-" if s is None else f"{100 * s:.0f}%" for s in shares)
        ratio_text = ratio_words(row["ratio"])
        met_text = {True: "yes", False: "NO", None: "-"}[row["met"]]
        lines.append(
            [
                row["workload"],
                row["label"],
                *(_fmt(row["values"][s]) for s in servers),
                ratio_text,
                share if any(s is not None for s in shares) else "",
                row["target"],
                met_text,
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*header), sep, *(fmt.format(*line) for line in lines)])


def markdown(rows: list[dict[str, Any]], servers: list[str]) -> str:
    head = ["workload", "metric", *servers, "ratio", "client CPU share", "target", "met?"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        shares = " / ".join(
            "-" if row["client_cpu_share"][s] is None else f"{100 * row['client_cpu_share'][s]:.0f}%" for s in servers
        )
        if all(row["client_cpu_share"][s] is None for s in servers):
            shares = ""
        out.append(
            "| "
            + " | ".join(
                [
                    row["workload"],
                    row["label"],
                    *(_fmt(row["values"][s]) for s in servers),
                    ratio_words(row["ratio"]).replace("x ", "× "),
                    shares,
                    row["target"],
                    {True: "yes", False: "**no**", None: "-"}[row["met"]],
                ]
            )
            + " |"
        )
    return "\n".join(out)


def main(argv: list[str]) -> None:
    """`python -m bench.report RESULTS.json`: the Markdown table for docs/benchmarks.md."""
    import json
    from pathlib import Path

    results = json.loads(Path(argv[0]).read_text())
    servers = results["meta"]["servers"]
    print(markdown(build_rows(results, servers, results["meta"]["mode"] != "smoke"), servers))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
