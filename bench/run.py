"""Run every workload against `tracklet server` and `mlflow server` side by side; print the table.

    python bench/run.py [--quick | --smoke] [--only search,history] [--servers tracklet,mlflow]
                        [--make-env] [--out bench/results/NAME.json]

See bench/README.md. Exit status 0 only when every workload verified its data on every server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.servers import SERVER_NAMES_HELP  # noqa: E402 - runnable as a script: the repo joins sys.path first
from bench.sizes import MODES, WORKLOADS, Sizes  # noqa: E402

if TYPE_CHECKING:
    from bench.servers import Server

MLFLOW_VERSION = "3.17.2"


# -- environment ---------------------------------------------------------------------------------


def _missing_modules(servers: list[str]) -> list[str]:
    needed = ["mlflow"] + (["tracklet"] if any(s.startswith("tracklet") for s in servers) else [])
    return [m for m in needed if importlib.util.find_spec(m) is None]


# What the benchmark venv holds besides the pinned MLflow and this checkout of tracklet (editable, with
# its PostgreSQL and S3 extras): psutil for memory, httpx for tests/support/processes.py, moto's S3
# server (which runs on flask) for the `-pg` variants, and OpenTelemetry's OTLP exporter for the `otlp`
# workload. MLflow reaches PostgreSQL through psycopg 3 too.
BENCH_PACKAGES = (
    f"mlflow[auth]=={MLFLOW_VERSION}",  # [auth]: `mlflow server --app-name basic-auth` (bench/auth_bench.py)
    "psutil",
    "httpx",
    "moto[s3]>=5.0",
    "flask>=2.3",
    "flask-cors>=4.0",
    "opentelemetry-exporter-otlp-proto-http>=1.20",
)


def make_env(env_dir: Path) -> Path:
    """A virtualenv with the pinned MLflow and this checkout of tracklet (editable); reused when present."""
    python = env_dir / "bin" / "python"
    marker = env_dir / ".bench-ready"
    want = f"{' '.join(BENCH_PACKAGES)} repo={REPO}[postgres,s3]"
    if marker.exists() and marker.read_text() == want:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", *BENCH_PACKAGES, "-e", f"{REPO}[postgres,s3]"]
    subprocess.run(install, check=True)
    marker.write_text(want)
    return python


def ensure_environment(args: argparse.Namespace) -> None:
    """Re-run this script inside the benchmark venv when asked to, or when the current one lacks a piece."""
    if os.environ.get("TRACKLET_BENCH_IN_ENV") == "1":
        return
    if args.make_env:
        python = make_env(Path(args.env_dir))
        argv = [a for a in sys.argv[1:] if a != "--make-env"]
        os.environ["TRACKLET_BENCH_IN_ENV"] = "1"
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])
    missing = _missing_modules(args.servers)
    if missing:
        sys.exit(
            f"not importable here: {', '.join(missing)}. Run with --make-env (creates {args.env_dir} with "
            f"mlflow=={MLFLOW_VERSION} and tracklet), or install them, or choose --servers mlflow."
        )


# -- the harness ---------------------------------------------------------------------------------


class Harness:
    def __init__(self, args: argparse.Namespace, sizes: Sizes) -> None:
        from bench.servers import ScaleOut, Server, ServerSpec

        self.args, self.sizes = args, sizes
        self.python = sys.executable
        self.own_workdir = not args.workdir
        self.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tracklet-bench-"))
        specs = [ServerSpec.parse(name) for name in args.servers]
        self.scale_out = ScaleOut() if any(spec.store == "pg" for spec in specs) else None
        self.servers: list[Server] = [
            Server(spec, self.python, self.workdir / f"{i}-{spec.name}", scale_out=self.scale_out)
            for i, spec in enumerate(specs)
        ]
        self.state: dict[str, dict[str, Any]] = {s.spec.name: {} for s in self.servers}
        self.results: dict[str, Any] = {
            "servers": {},
            "workloads": {},
            "verification": {},
            "sizes": sizes.as_dict(),
        }
        self.failures: list[str] = []
        self.not_measured: list[str] = []
        self.timeout = 300.0 if sizes.mode == "smoke" else 6 * 3600.0

    # subprocesses ----------------------------------------------------------------------------

    def _env(self, server: Server) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        return dict(
            os.environ,
            MLFLOW_TRACKING_URI=server.url,
            MLFLOW_ENABLE_ASYNC_LOGGING="false",
            MLFLOW_DISABLE_TELEMETRY="true",
            DO_NOT_TRACK="true",
            PYTHONPATH=path,
        )

    def _run(self, module: str, server: Server, workload: str, args: dict[str, Any]) -> dict[str, Any]:
        args = {"url": server.url, "kind": server.spec.kind, **args}
        cmd = [self.python, "-m", f"bench.{module}", workload, json.dumps(args)]
        try:
            proc = subprocess.run(
                cmd,
                check=False,
                cwd=REPO,
                env=self._env(server),
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            return {"verified": False, "error": f"timed out after {self.timeout:.0f} s"}
        return _parse_result(proc.stdout, proc.stderr, proc.returncode)

    def client(self, server: Server, workload: str, args: dict[str, Any]) -> dict[str, Any]:
        return self._run("clientload", server, workload, args)

    def driver(self, server: Server, workload: str, args: dict[str, Any]) -> dict[str, Any]:
        return self._run("driver", server, workload, args)

    # shared data -----------------------------------------------------------------------------

    def runs_experiment(self, server: Server) -> str:
        """The 10,000-run experiment of workload 3; written by the driver if workload 3 did not run."""
        state = self.state[server.spec.name]
        if "runs_experiment_id" not in state:
            res = self.driver(
                server,
                "create_runs",
                {"experiment": "bench-runs", "runs": self.sizes.runs, "page_size": self.sizes.page_size},
            )
            self._require(res, server, "setup: runs for search")
            state["runs_experiment_id"] = res["info"]["experiment_id"]
        return str(state["runs_experiment_id"])

    def history_runs(self, server: Server) -> dict[str, str]:
        state = self.state[server.spec.name]
        if "history_runs" not in state:
            res = self.driver(
                server,
                "populate_history",
                {"experiment": "bench-history", "history_points": list(self.sizes.history_points)},
            )
            self._require(res, server, "setup: metric histories")
            state["history_runs"] = res["info"]["history_runs"]
            state["populate"] = res["metrics"]
        return dict(state["history_runs"])

    def _require(self, res: dict[str, Any], server: Server, what: str) -> None:
        if not res.get("verified"):
            raise RuntimeError(f"[{server.spec.name}] {what} failed: {res.get('error')}\n{res.get('trace', '')}")

    # main loop -------------------------------------------------------------------------------

    def run(self, workloads: list[str]) -> int:
        from bench.servers import MemorySampler

        sampler = MemorySampler(self.servers)
        if self.scale_out is not None:
            print("starting PostgreSQL and an S3 server (moto) for the -pg variants ...", flush=True)
            self.scale_out.start()
        try:
            for server in self.servers:
                print(f"starting {server.spec.name} ...", flush=True)
                startup = server.start(timeout=240.0)
                print(f"  healthy after {startup:.2f} s: {' '.join(server.command())}", flush=True)
            time.sleep(2.0)  # let start-up work settle before reading idle memory
            for server in self.servers:
                pss = server.pss()
                self.results["servers"][server.spec.name] = {
                    "startup_s": server.startup_s,
                    "idle_rss_mb": server.rss() / 2**20,
                    "idle_pss_mb": None if pss is None else pss / 2**20,
                    "command": server.command(),
                }
            sampler.start()
            for workload in workloads:
                for server in self.servers:
                    self._one(workload, server)
        finally:
            sampler.stop()
            for server in self.servers:
                server.stop()
                entry = self.results["servers"].setdefault(server.spec.name, {})
                disk = server.disk_bytes()
                entry.update(
                    peak_rss_mb=server.peak_rss() / 2**20,
                    db_mb=disk["db_bytes"] / 2**20,
                    artifact_mb=disk["artifact_bytes"] / 2**20,
                    populate=self.state[server.spec.name].get("populate"),
                )
            if self.scale_out is not None:
                self.scale_out.stop()
            if not self.args.keep:
                for server in self.servers:
                    server.cleanup()
                if self.own_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)
            else:
                print(f"kept server data and logs in {self.workdir}")
        return 1 if self.failures else 0

    def _one(self, workload: str, server: Server) -> None:
        name = server.spec.name
        print(f"[{name}] {workload} ...", flush=True)
        t0 = time.perf_counter()
        rss0 = server.rss()
        try:
            parts = WORKLOAD_FUNCS[workload](self, server)
        except Exception as exc:  # noqa: BLE001 - a broken setup step fails this workload, not the run
            parts = {"harness": {"verified": False, "error": f"{type(exc).__name__}: {exc}"}}
        t1 = time.perf_counter()
        window_peak = server.peak_rss(t0, t1)
        parts.setdefault("server", {"metrics": {}})["metrics"].update(
            {"rss_growth_mb": max(0, window_peak - rss0) / 2**20, "seconds": t1 - t0}
        )
        parts["server"].setdefault("verified", None)
        self.results["workloads"].setdefault(workload, {})[name] = parts
        verdicts = [p.get("verified") for p in parts.values()]
        verified = False if False in verdicts else (True if True in verdicts else None)
        self.results["verification"].setdefault(workload, {})[name] = verified
        for part, res in parts.items():
            if res.get("verified") is False:
                message = f"[{name}] {workload} ({part}) FAILED: {res.get('error')}"
                self.failures.append(message)
                print("  " + message, flush=True)
                if res.get("trace"):
                    print("    " + res["trace"].strip().replace("\n", "\n    "), flush=True)
            elif res.get("skipped"):
                print(f"  {part}: skipped ({res['skipped']})", flush=True)
            elif part != "server":
                shown = ", ".join(f"{k}={_short(v)}" for k, v in res.get("metrics", {}).items())
                print(f"  {part}: {shown}  [verified]", flush=True)
            for what in res.get("unsupported", []):
                self.not_measured.append(f"[{name}] {workload} ({part}): {what}")
                print(f"  {part}: NOT MEASURED: {what}", flush=True)


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _parse_result(stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return {"verified": False, "error": f"no result (exit {returncode}); stderr tail: {stderr[-2000:]}"}


# -- workloads: each returns {"client": result, "driver": result} --------------------------------


def w_log_metric(h: Harness, s: Server) -> dict[str, Any]:
    args = {"experiment": "bench-log-metric", "calls": h.sizes.log_metric_calls}
    return {"client": h.client(s, "log_metric", args), "driver": h.driver(s, "log_metric", args)}


def w_log_batch(h: Harness, s: Server) -> dict[str, Any]:
    args = {"experiment": "bench-log-batch", "batches": h.sizes.batches, "batch_points": h.sizes.batch_points}
    return {"client": h.client(s, "log_batch", args), "driver": h.driver(s, "log_batch", args)}


def w_create_runs(h: Harness, s: Server) -> dict[str, Any]:
    args = {"runs": h.sizes.runs, "page_size": h.sizes.page_size}
    client = h.client(s, "create_runs", {"experiment": "bench-runs", **args})
    if client.get("verified"):
        h.state[s.spec.name]["runs_experiment_id"] = client["info"]["experiment_id"]
    driver_args = {**args, "runs": h.sizes.driver_runs}
    driver = h.driver(s, "create_runs", {"experiment": "bench-runs-driver", **driver_args})
    return {"client": client, "driver": driver}


def w_search(h: Harness, s: Server) -> dict[str, Any]:
    z = h.sizes
    args = {
        "experiment_id": h.runs_experiment(s),
        "runs": z.runs,
        "search_max": z.search_max,
        "search_top": z.search_top,
        "page_size": z.page_size,
        "reps": z.search_reps,
    }
    return {"client": h.client(s, "search", args), "driver": h.driver(s, "search", args)}


def w_history(h: Harness, s: Server) -> dict[str, Any]:
    args = {"history_runs": h.history_runs(s), "reps": h.sizes.history_reps}
    return {"client": h.client(s, "history", args), "driver": h.driver(s, "history", args)}


def w_artifacts(h: Harness, s: Server) -> dict[str, Any]:
    z = h.sizes
    args = {
        "experiment": "bench-artifacts",
        "big_artifact_mb": z.big_artifact_mb,
        "small_files": z.small_files,
        "small_file_bytes": z.small_file_bytes,
    }
    return {"client": h.client(s, "artifacts", args), "driver": h.driver(s, "artifacts", args)}


def w_concurrency(h: Harness, s: Server) -> dict[str, Any]:
    """N client processes started, imported and waiting; released at once; wall = first start to last end."""
    from bench.wire import Conn, experiment_id

    z = h.sizes
    conn = Conn(s.url)
    exp_id = experiment_id(conn, "bench-concurrency")
    conn.close()
    base = {
        "url": s.url,
        "experiment_id": exp_id,
        "runs_per_proc": z.runs_per_proc,
        "points_per_run": z.points_per_run,
        "procs": z.procs,
    }
    logs = h.workdir / f"concurrency-{s.spec.name}.log"
    with logs.open("w") as err:
        procs = [
            subprocess.Popen(
                [h.python, "-m", "bench.clientload", "concurrency_worker", json.dumps({**base, "worker": k})],
                cwd=REPO,
                env=h._env(s),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            for k in range(z.procs)
        ]
        for p in procs:
            assert p.stdout is not None
            while (line := p.stdout.readline()) and line.strip() != "READY":
                pass
        t0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=h.timeout)[0] for p in procs]
        harness_wall = time.perf_counter() - t0
    results = [_parse_result(o, logs.read_text()[-2000:], p.returncode) for o, p in zip(outs, procs, strict=True)]
    broken = [r for r in results if "info" not in r]
    if broken:
        return {"client": {"verified": False, "error": f"{len(broken)} workers failed: {broken[0].get('error')}"}}
    wall = max(r["info"]["end"] for r in results) - min(r["info"]["start"] for r in results)
    errors = sum(int(r["metrics"]["errors"]) for r in results)
    cpu = sum(r["cpu"]["wall_s"]["cpu_s"] for r in results)
    verify = h.client(s, "concurrency_verify", base)
    client = {
        "metrics": {
            "wall_s": wall,
            "errors": errors,
            "runs_per_s": z.procs * z.runs_per_proc / wall,
            "harness_wall_s": harness_wall,
        },
        "cpu": {"wall_s": {"wall_s": wall * z.procs, "cpu_s": cpu}},
        "verified": bool(verify.get("verified")) and errors == 0,
        "error": verify.get("error") or (f"{errors} client errors: {results[0]['info']['errors']}" if errors else None),
    }
    return {"client": client}


def w_ui(h: Harness, s: Server) -> dict[str, Any]:
    z = h.sizes
    args = {
        "experiment_id": h.runs_experiment(s),
        "runs": z.runs,
        "ui_rows": z.ui_rows,
        "reps": z.ui_reps,
        "history_runs": h.history_runs(s),
        "ui_chart_points": z.ui_chart_points,
    }
    return {"client": h.client(s, "ui", args), "driver": h.driver(s, "ui", args)}


def w_tracklet_client(h: Harness, s: Server) -> dict[str, Any]:
    args = {"experiment": "bench-tracklet-client", "points": h.sizes.tracklet_client_points}
    return {"client": h.client(s, "tracklet_client", args)}


def w_traces(h: Harness, s: Server) -> dict[str, Any]:
    z = h.sizes
    args = {"experiment": "bench-traces", "traces": z.traces, "search_max": z.trace_search_max, "reps": z.search_reps}
    return {"client": h.client(s, "traces", args)}


def w_otlp(h: Harness, s: Server) -> dict[str, Any]:
    args = {"experiment": "bench-otlp", "traces": h.sizes.otlp_traces, "batch_traces": h.sizes.otlp_batch_traces}
    return {"client": h.client(s, "otlp", args)}


def w_eval_datasets(h: Harness, s: Server) -> dict[str, Any]:
    z = h.sizes
    args = {
        "experiment": "bench-eval-datasets",
        "records": z.eval_records,
        "batch": z.eval_batch,
        "reps": z.search_reps,
    }
    return {"client": h.client(s, "eval_datasets", args)}


WORKLOAD_FUNCS: dict[str, Callable[[Harness, Server], dict[str, Any]]] = {
    "log_metric": w_log_metric,
    "log_batch": w_log_batch,
    "create_runs": w_create_runs,
    "search": w_search,
    "history": w_history,
    "artifacts": w_artifacts,
    "concurrency": w_concurrency,
    "ui": w_ui,
    "tracklet_client": w_tracklet_client,
    "traces": w_traces,
    "otlp": w_otlp,
    "eval_datasets": w_eval_datasets,
}


# -- reporting -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gb"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def versions() -> dict[str, str]:
    """Installed versions, and the git commit of the tracklet source actually imported (may be another checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("mlflow", "tracklet"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "importable (no metadata)" if importlib.util.find_spec(name) else "absent"
    spec = importlib.util.find_spec("tracklet")
    if spec and spec.origin:
        source = Path(spec.origin).parent
        git = ["git", "-C", str(source)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True)
        dirty = subprocess.run([*git, "status", "--porcelain", "."], check=False, capture_output=True, text=True)
        out["tracklet_source"] = str(source)
        out["tracklet_commit"] = head.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick", help="a few minutes")
    mode.add_argument(
        "--smoke",
        action="store_const",
        dest="mode",
        const="smoke",
        help="tiny sizes; checks completeness and data, no timing targets",
    )
    p.set_defaults(mode="full")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    p.add_argument(
        "--servers",
        default="tracklet,mlflow",
        help=f"comma-separated servers; the first is compared to the second. Variants: {SERVER_NAMES_HELP}. "
        "Default: tracklet,mlflow",
    )
    p.add_argument("--out", default="", help="results JSON (default bench/results/<date>-<mode>.json)")
    p.add_argument(
        "--make-env",
        action="store_true",
        help=f"create/reuse a venv with mlflow=={MLFLOW_VERSION} and this tracklet, and run in it",
    )
    p.add_argument("--env-dir", default=str(REPO / "bench" / ".venv"), help="venv folder for --make-env")
    p.add_argument("--workdir", default="", help="where the servers' fresh data folders go (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the servers' data folders and logs")
    args = p.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in args.only if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ensure_environment(args)
    from bench import report

    sizes = MODES[args.mode]
    workloads = [w for w in WORKLOADS if not args.only or w in args.only]
    harness = Harness(args, sizes)
    started = dt.datetime.now(dt.UTC)
    code = harness.run(workloads)
    results = harness.results
    results["meta"] = {
        "date": started.isoformat(timespec="seconds"),
        "mode": args.mode,
        "seconds": (dt.datetime.now(dt.UTC) - started).total_seconds(),
        "servers": args.servers,
        "workloads": workloads,
        "machine": machine(),
        "versions": versions(),
    }
    timing = args.mode != "smoke"
    rows = report.build_rows(results, args.servers, timing)
    results["rows"] = rows
    results["failures"] = harness.failures
    results["not_measured"] = harness.not_measured
    results["ok"] = code == 0
    out = Path(args.out) if args.out else REPO / "bench" / "results" / f"{started:%Y%m%d-%H%M%S}-{args.mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print()
    print(report.render(rows, args.servers))
    print()
    if not timing:
        print("smoke mode: sizes are tiny; figures above are not meaningful and no target is judged.")
    if harness.not_measured:
        print("not measured (the server lacks the endpoint; no data was lost):")
        for line in harness.not_measured:
            print("  " + line)
    print(f"results: {out}")
    if harness.failures:
        print(f"\n{len(harness.failures)} FAILURE(S) — data missing or a workload broke:")
        for f in harness.failures:
            print("  " + f)
    return code


if __name__ == "__main__":
    sys.exit(main())
