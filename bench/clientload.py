"""Workloads driven through the official MLflow Python client, each in its own process.

Usage (the harness does this): ``python -m bench.clientload WORKLOAD '<json args>'`` with
MLFLOW_TRACKING_URI set to the server under test. The last stdout line is ``RESULT <json>``:
metrics, the client's own CPU time per timed block, and whether the data read back verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import data
from bench.data import check
from bench.wire import Clock, median_ms, percentile_ms

Result = dict[str, Any]


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def _experiment(client: Any, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    return exp.experiment_id if exp else client.create_experiment(name)


def _view(run: Any) -> data.RunView:
    return data.RunView(
        run_id=run.info.run_id,
        name=run.info.run_name,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        status=run.info.status,
    )


def _all_runs(client: Any, exp_id: str, page_size: int) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs([exp_id], max_results=page_size, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


# -- 1. mlflow.log_metric ----------------------------------------------------------------------


def log_metric(a: dict[str, Any]) -> Result:
    import mlflow

    n = a["calls"]
    mlflow.set_experiment(a["experiment"])
    latencies: list[float] = []
    with mlflow.start_run() as run:
        mlflow.log_metric("warmup", 0.0)
        with Clock() as clock:
            for i in range(n):
                t0 = time.perf_counter()
                mlflow.log_metric("m", data.log_metric_value(i), step=i)
                latencies.append(time.perf_counter() - t0)
    points = _history(_client(), run.info.run_id, "m")
    check(len(points) == n, f"log_metric: {len(points)} of {n} points read back")
    check(
        sorted(points) == [(i, data.log_metric_value(i)) for i in range(n)],
        "log_metric: values read back differ from those logged",
    )
    return {
        "metrics": {
            "median_ms": median_ms(latencies),
            "p99_ms": percentile_ms(latencies, 99),
            "client_cpu_per_call_ms": 1000.0 * clock.cpu_s / n,
        },
        "cpu": {"median_ms": clock.as_dict(), "p99_ms": clock.as_dict()},
    }


# -- 2. MlflowClient.log_batch -----------------------------------------------------------------


def log_batch(a: dict[str, Any]) -> Result:
    from mlflow.entities import Metric

    client = _client()
    exp_id = _experiment(client, a["experiment"])
    run_id = client.create_run(exp_id, run_name="log-batch").info.run_id
    size, count = a["batch_points"], a["batches"]
    batches = [
        [Metric("loss", data.history_value(s), data.TIMESTAMP0 + s, s) for s in range(b * size, (b + 1) * size)]
        for b in range(count)
    ]
    with Clock() as clock:
        for batch in batches:
            client.log_batch(run_id, metrics=batch)
    data.verify_history(_history(client, run_id, "loss"), size * count, "log_batch")
    return {
        "metrics": {
            "points_per_s": size * count / clock.wall_s,
            "client_cpu_per_batch_ms": 1000.0 * clock.cpu_s / count,
        },
        "cpu": {"points_per_s": clock.as_dict()},
    }


# -- 3. run creation ---------------------------------------------------------------------------


def create_runs(a: dict[str, Any]) -> Result:
    from mlflow.entities import Metric, Param, RunTag

    client = _client()
    exp_id = _experiment(client, a["experiment"])
    n = a["runs"]
    payloads = [
        (
            data.run_name(i),
            [Metric(k, v, data.TIMESTAMP0, 0) for k, v in data.run_metrics(i).items()],
            [Param(k, v) for k, v in data.run_params(i).items()],
            [RunTag(k, v) for k, v in data.run_tags(i).items()],
        )
        for i in range(n)
    ]
    with Clock() as clock:
        for name, metrics, params, tags in payloads:
            run_id = client.create_run(exp_id, run_name=name).info.run_id
            client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    runs = [_view(r) for r in _all_runs(client, exp_id, a["page_size"])]
    data.verify_all_runs(runs, n)
    return {
        "metrics": {"runs_per_s": n / clock.wall_s, "client_cpu_per_run_ms": 1000.0 * clock.cpu_s / n},
        "cpu": {"runs_per_s": clock.as_dict()},
        "info": {"experiment_id": exp_id},
    }


# -- 4. search_runs ----------------------------------------------------------------------------


def search(a: dict[str, Any]) -> Result:
    client = _client()
    exp_id, n = a["experiment_id"], a["runs"]
    metrics: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}
    for query, spec in data.search_queries(a["search_max"], a["search_top"]).items():
        times, clock, result = [], Clock(), []
        for _ in range(a["reps"]):
            t0 = time.perf_counter()
            with clock:
                result = client.search_runs(
                    [exp_id],
                    filter_string=spec["filter"],
                    order_by=spec["order_by"],
                    max_results=spec["max_results"],
                )
            times.append(time.perf_counter() - t0)
        data.verify_search(query, spec, [_view(r) for r in result], n)
        metrics[f"{query}_ms"] = median_ms(times)
        cpu[f"{query}_ms"] = clock.as_dict()
    times, clock, runs = [], Clock(), []
    for _ in range(a["reps"]):
        t0 = time.perf_counter()
        with clock:
            runs = _all_runs(client, exp_id, a["page_size"])
        times.append(time.perf_counter() - t0)
    data.verify_all_runs([_view(r) for r in runs], n)
    metrics["page_all_ms"] = median_ms(times)
    cpu["page_all_ms"] = clock.as_dict()
    return {"metrics": metrics, "cpu": cpu}


# -- 5. metric history -------------------------------------------------------------------------


def history(a: dict[str, Any]) -> Result:
    client = _client()
    metrics: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}
    for n, run_id in a["history_runs"].items():
        times, clock, points = [], Clock(), []
        for _ in range(a["reps"]):
            t0 = time.perf_counter()
            with clock:
                got = client.get_metric_history(run_id, data.HISTORY_KEY)
            times.append(time.perf_counter() - t0)
            points = [(m.step, m.value) for m in got]
        data.verify_history(points, int(n), f"history {n}")
        metrics[f"history_{n}_ms"] = median_ms(times)
        cpu[f"history_{n}_ms"] = clock.as_dict()
    return {"metrics": metrics, "cpu": cpu}


# -- 6. artifacts ------------------------------------------------------------------------------


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def artifacts(a: dict[str, Any]) -> Result:
    client = _client()
    exp_id = _experiment(client, a["experiment"])
    run_id = client.create_run(exp_id, run_name="artifacts").info.run_id
    mb, nfiles = a["big_artifact_mb"], a["small_files"]
    with tempfile.TemporaryDirectory(prefix="bench-art-") as tmp:
        root = Path(tmp)
        big = root / "up" / "big.bin"
        big.parent.mkdir()
        with big.open("wb") as f:
            for _ in range(mb):
                f.write(os.urandom(1 << 20))
        small = root / "small"
        small.mkdir()
        for i in range(nfiles):
            (small / f"f{i:05d}.txt").write_bytes(os.urandom(a["small_file_bytes"] // 2).hex().encode())
        times: dict[str, Clock] = {k: Clock() for k in ("big_up", "big_down", "small_up", "small_down")}
        with times["big_up"]:
            client.log_artifact(run_id, str(big))
        with times["big_down"]:
            got = Path(client.download_artifacts(run_id, "big.bin", str(root / "down")))
        check(_sha(got) == _sha(big), "artifacts: 100 MB file came back different")
        with times["small_up"]:
            client.log_artifacts(run_id, str(small), "small")
        with times["small_down"]:
            got_dir = Path(client.download_artifacts(run_id, "small", str(root / "down2")))
        files = sorted(got_dir.iterdir())
        check(len(files) == nfiles, f"artifacts: {len(files)} of {nfiles} small files came back")
        for path in files:
            check(path.read_bytes() == (small / path.name).read_bytes(), f"artifacts: {path.name} differs")
    return {
        "metrics": {
            "big_up_mb_s": mb / times["big_up"].wall_s,
            "big_down_mb_s": mb / times["big_down"].wall_s,
            "small_up_files_s": nfiles / times["small_up"].wall_s,
            "small_down_files_s": nfiles / times["small_down"].wall_s,
        },
        "cpu": {
            "big_up_mb_s": times["big_up"].as_dict(),
            "big_down_mb_s": times["big_down"].as_dict(),
            "small_up_files_s": times["small_up"].as_dict(),
            "small_down_files_s": times["small_down"].as_dict(),
        },
    }


# -- 7. concurrency: one of N worker processes, then one verifier ------------------------------


def concurrency_worker(a: dict[str, Any]) -> Result:
    from mlflow.entities import Metric

    client = _client()
    print("READY", flush=True)
    sys.stdin.readline()  # the harness releases all workers at once
    errors: list[str] = []
    start = time.time()
    with Clock() as clock:
        for r in range(a["runs_per_proc"]):
            try:
                run_id = client.create_run(a["experiment_id"], run_name=f"w{a['worker']}-r{r}").info.run_id
                points = [
                    Metric("loss", data.history_value(s), data.TIMESTAMP0 + s, s) for s in range(a["points_per_run"])
                ]
                client.log_batch(run_id, metrics=points)
                client.set_terminated(run_id)
            except Exception as exc:  # noqa: BLE001 - counted, not raised: errors are a reported figure
                errors.append(repr(exc)[:300])
    return {
        "metrics": {"errors": len(errors)},
        "cpu": {"wall_s": clock.as_dict()},
        "info": {"start": start, "end": time.time(), "errors": errors[:5]},
    }


def concurrency_verify(a: dict[str, Any]) -> Result:
    client = _client()
    runs = _all_runs(client, a["experiment_id"], 1000)
    want = {f"w{w}-r{r}" for w in range(a["procs"]) for r in range(a["runs_per_proc"])}
    names = [r.info.run_name for r in runs]
    check(len(names) == len(want) and set(names) == want, f"concurrency: {len(names)} of {len(want)} runs")
    last = data.history_value(a["points_per_run"] - 1)
    for run in runs:
        check(run.info.status == "FINISHED", f"concurrency: {run.info.run_name} is {run.info.status}")
        check(run.data.metrics.get("loss") == last, f"concurrency: {run.info.run_name} lost points")
    for run in runs[:: max(1, len(runs) // 20)]:
        data.verify_history(_history(client, run.info.run_id, "loss"), a["points_per_run"], run.info.run_name)
    return {"metrics": {}}


# -- 8. what the UI needs: the runs table (the chart has no client call; see driver.py) --------


def ui(a: dict[str, Any]) -> Result:
    client = _client()
    times, clock, result = [], Clock(), []
    for _ in range(a["reps"]):
        t0 = time.perf_counter()
        with clock:
            result = client.search_runs([a["experiment_id"]], order_by=[data.FILTERED_ORDER], max_results=a["ui_rows"])
        times.append(time.perf_counter() - t0)
    data.verify_runs_table([_view(r) for r in result], a["runs"], a["ui_rows"])
    return {"metrics": {"runs_table_ms": median_ms(times)}, "cpu": {"runs_table_ms": clock.as_dict()}}


# -- tracklet's own client ---------------------------------------------------------------------


def tracklet_client(a: dict[str, Any]) -> Result:
    """tracklet.log_metric (non-blocking) per call on the caller's thread, and sustained points/s.

    Written against the API the client issue promises (start_run/log_metric/end_run, MLflow-like);
    skipped while tracklet has no client.
    """
    try:
        import tracklet
    except ImportError:
        return {"skipped": "tracklet is not importable"}
    needed = ("start_run", "log_metric", "end_run", "set_tracking_uri", "set_experiment")
    missing = [name for name in needed if not callable(getattr(tracklet, name, None))]
    if missing:
        return {"skipped": f"tracklet client not available yet (missing {', '.join(missing)})"}
    n = a["points"]
    tracklet.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    tracklet.set_experiment(a["experiment"])
    latencies: list[float] = []
    run = tracklet.start_run()
    run_id = getattr(run, "info", run).run_id
    with Clock() as clock:
        for i in range(n):
            t0 = time.perf_counter()
            tracklet.log_metric(data.HISTORY_KEY, data.history_value(i), step=i)
            latencies.append(time.perf_counter() - t0)
        tracklet.end_run()  # flushes: the points are on the server when it returns
    data.verify_history(_history(_client(), run_id, data.HISTORY_KEY), n, "tracklet client")
    return {
        "metrics": {
            "log_metric_median_us": median_ms(latencies) * 1000.0,
            "sustained_points_s": n / clock.wall_s,
        },
        "cpu": {"sustained_points_s": clock.as_dict()},
    }


# -- 9. tracing (MLflow 3) ---------------------------------------------------------------------


def traces(a: dict[str, Any]) -> Result:
    """`@mlflow.trace` calls of three spans each, exported synchronously (each call returns once its
    trace is on the server), then `search_traces` with spans, filtered, and `get_trace`.

    The client sends each server what that server asks for: MLflow (version >= 3.4) gets the spans over
    OTLP and the trace info; tracklet gets the trace info and the spans as a `traces.json` artifact.
    """
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    import mlflow

    client = _client()
    exp_id = _experiment(client, a["experiment"])
    mlflow.set_experiment(experiment_id=exp_id)

    predict = data.traced_predict(mlflow.trace, mlflow.start_span)

    n, reps, top = a["traces"], a["reps"], a["search_max"]
    latencies, log_clock = [], Clock()
    with log_clock:
        for i in range(n):
            t0 = time.perf_counter()
            predict(i)
            latencies.append(time.perf_counter() - t0)

    def search_all() -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = client.search_traces(locations=[exp_id], max_results=100, page_token=token, include_spans=False)
            found += page
            token = page.token
            if not token:
                return found

    every = search_all()
    check(len(every) == n, f"{len(every)} traces found, {n} logged")
    metrics = {"trace_median_ms": median_ms(latencies), "traces_per_s": n / log_clock.wall_s}
    cpu = {"traces_per_s": log_clock.as_dict()}
    queries = {
        "search_spans_ms": {"filter_string": None},
        "search_filtered_ms": {"filter_string": "trace.status = 'OK' AND trace.name = 'predict'"},
    }
    for key, query in queries.items():
        times, clock, found = [], Clock(), []
        for _ in range(reps):
            t0 = time.perf_counter()
            with clock:
                found = mlflow.search_traces(locations=[exp_id], max_results=top, return_type="list", **query)
            times.append(time.perf_counter() - t0)
        check(len(found) == min(top, n), f"{key}: {len(found)} traces, expected {min(top, n)}")
        for trace in found:
            names = sorted(span.name for span in trace.data.spans)
            check(names == ["generate", "predict", "retrieve"], f"{key}: spans {names}")
        metrics[key] = median_ms(times)
        cpu[key] = clock.as_dict()
    trace_id = every[len(every) // 2].info.trace_id
    times, clock, one = [], Clock(), None
    for _ in range(reps):
        t0 = time.perf_counter()
        with clock:
            one = mlflow.get_trace(trace_id)
        times.append(time.perf_counter() - t0)
    check(one is not None and len(one.data.spans) == 3, "get_trace: the trace or its spans are missing")
    metrics["get_trace_ms"] = median_ms(times)
    cpu["get_trace_ms"] = clock.as_dict()
    return {"metrics": metrics, "cpu": cpu}


def otlp(a: dict[str, Any]) -> Result:
    """An application instrumented with OpenTelemetry alone: traces of three spans sent by OpenTelemetry's
    OTLP/HTTP exporter (protobuf) to `/v1/traces`, first one export per trace (a SimpleSpanProcessor's
    pattern, the caller waits for each), then in exports of 512 spans (a BatchSpanProcessor's default).
    The spans are recorded beforehand, so only the exports are timed; MLflow's client reads them back."""
    import mlflow
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    client = _client()
    exp_id = _experiment(client, a["experiment"])
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench.otlp")

    def record(n: int) -> list[list[Any]]:
        memory.clear()
        for i in range(n):
            with tracer.start_as_current_span("predict") as root:
                root.set_attribute("mlflow.spanInputs", json.dumps({"i": i}))
                with tracer.start_as_current_span("retrieve") as span:
                    span.set_attribute("query", f"question {i}")
                with tracer.start_as_current_span("generate") as span:
                    span.set_attribute("gen_ai.usage.output_tokens", i % 50)
                root.set_attribute("mlflow.spanOutputs", json.dumps(f"answer {i}"))
        spans = list(memory.get_finished_spans())
        return [spans[k : k + 3] for k in range(0, len(spans), 3)]  # children end first, then their root

    url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/v1/traces"
    exporter = OTLPSpanExporter(endpoint=url, headers={"x-mlflow-experiment-id": exp_id}, timeout=120)
    single, batched = record(a["traces"]), record(a["batch_traces"])
    latencies, single_clock = [], Clock()
    with single_clock:
        for spans in single:
            t0 = time.perf_counter()
            check(exporter.export(spans) == SpanExportResult.SUCCESS, "an export of one trace failed")
            latencies.append(time.perf_counter() - t0)
    flat = [span for spans in batched for span in spans]
    batch_clock = Clock()
    with batch_clock:
        for k in range(0, len(flat), 512):
            check(exporter.export(flat[k : k + 512]) == SpanExportResult.SUCCESS, "a batch export failed")
    exporter.shutdown()

    found, token = 0, None
    while True:
        page = client.search_traces(locations=[exp_id], max_results=500, page_token=token, include_spans=False)
        found += len(page)
        token = page.token
        if not token:
            break
    total = len(single) + len(batched)
    check(found == total, f"{found} traces found, {total} exported")
    for spans in (single[0], single[-1], batched[0], batched[len(batched) // 2], batched[-1]):
        trace = mlflow.get_trace(f"tr-{spans[0].context.trace_id:032x}")
        check(trace is not None, "an exported trace is missing")
        names = sorted(span.name for span in trace.data.spans)
        check(names == ["generate", "predict", "retrieve"], f"spans {names}")
        root = next(span for span in trace.data.spans if span.parent_id is None)
        check(trace.info.state.value == "OK" and isinstance(root.inputs, dict), f"root {root.inputs!r}")
    metrics = {
        "export_ms": median_ms(latencies),
        "traces_per_s": len(single) / single_clock.wall_s,
        "batch_spans_per_s": len(flat) / batch_clock.wall_s,
    }
    cpu = {"traces_per_s": single_clock.as_dict(), "batch_spans_per_s": batch_clock.as_dict()}
    return {"metrics": metrics, "cpu": cpu}


# -- 11. evaluation datasets (MLflow 3 GenAI) ----------------------------------------------------


def eval_datasets(a: dict[str, Any]) -> Result:
    """`mlflow.genai.datasets`: one dataset, `merge_records` of its records in batches, then read back whole
    (`to_df`, which pages through the records) and found by `search_datasets`; every record checked."""
    from mlflow.genai.datasets import create_dataset, get_dataset, search_datasets

    client = _client()
    exp_id = _experiment(client, a["experiment"])
    n, batch, reps = a["records"], a["batch"], a["reps"]
    records = [data.eval_record(i) for i in range(n)]
    dataset = create_dataset(name=f"bench-{os.getpid()}-{time.time_ns()}", experiment_id=[exp_id])
    latencies, merge_clock = [], Clock()
    with merge_clock:
        for start in range(0, n, batch):
            t0 = time.perf_counter()
            dataset.merge_records(records[start : start + batch])
            latencies.append(time.perf_counter() - t0)

    read_times, read_clock, frame = [], Clock(), None
    for _ in range(reps):
        t0 = time.perf_counter()
        with read_clock:
            frame = get_dataset(dataset_id=dataset.dataset_id).to_df()
        read_times.append(time.perf_counter() - t0)
    assert frame is not None
    check(len(frame) == n, f"{len(frame)} records read, {n} merged")
    by_question = {
        row["question"]: (row, expected) for row, expected in zip(frame["inputs"], frame["expectations"], strict=True)
    }
    for record in records:
        found = by_question.get(record["inputs"]["question"])
        check(
            found is not None and found == (record["inputs"], record["expectations"]),
            f"record {record} read back as {found}",
        )

    search_times, search_clock = [], Clock()
    for _ in range(reps):
        t0 = time.perf_counter()
        with search_clock:
            found = search_datasets(experiment_ids=[exp_id])
        search_times.append(time.perf_counter() - t0)
        check(dataset.dataset_id in [d.dataset_id for d in found], "the dataset is not found by search_datasets")
    metrics = {
        "records_per_s": n / merge_clock.wall_s,
        "merge_batch_median_ms": median_ms(latencies),
        "read_ms": median_ms(read_times),
        "search_ms": median_ms(search_times),
    }
    cpu = {"records_per_s": merge_clock.as_dict(), "read_ms": read_clock.as_dict(), "search_ms": search_clock.as_dict()}
    return {"metrics": metrics, "cpu": cpu}


WORKLOADS: dict[str, Callable[[dict[str, Any]], Result]] = {
    "log_metric": log_metric,
    "log_batch": log_batch,
    "create_runs": create_runs,
    "search": search,
    "history": history,
    "artifacts": artifacts,
    "concurrency_worker": concurrency_worker,
    "concurrency_verify": concurrency_verify,
    "ui": ui,
    "tracklet_client": tracklet_client,
    "traces": traces,
    "otlp": otlp,
    "eval_datasets": eval_datasets,
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2])
    try:
        result = WORKLOADS[name](args)
        result.setdefault("verified", None if "skipped" in result else True)
    except Exception as exc:  # noqa: BLE001 - any failure is reported to the harness as unverified
        result = {"verified": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
