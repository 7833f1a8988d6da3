"""`tracklet gc` next to `mlflow gc`: purging the same deleted runs, rows and artifacts.

    python bench/gc_bench.py [--runs 1000] [--threads 8]

Each server (embedded default: SQLite + local artifacts) is filled through the official MLflow client
with the same runs (10 params, 5 metrics, 5 tags in one `log_batch`, one small artifact), which are
then deleted through the client. Each store is then purged by its own command beside its running
server (`tracklet gc`, and `mlflow gc --tracking-uri`, which removes proxied artifacts through the
server), timed as a user runs it, process start included; a second run of each command with nothing
left to purge gives that fixed cost. Verified after: no run row left in the database and no file of
theirs among the artifacts (MLflow's gc leaves the emptied folders).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a script: the repo first
from bench import data  # noqa: E402
from bench.servers import Server, ServerSpec  # noqa: E402


def fill(url: str, n_runs: int, threads: int, folder: Path) -> list[str]:
    """n runs through the official client, each with its batch and one artifact, then deleted."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(url)
    experiment_id = client.create_experiment("gc-bench")
    note = folder / "note.txt"
    note.write_text("an artifact to purge\n")

    def one(i: int) -> str:
        run_id = client.create_run(experiment_id, run_name=data.run_name(i)).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, 0, 0) for k, v in data.run_metrics(i).items()],
            params=[Param(k, v) for k, v in data.run_params(i).items()],
            tags=[RunTag(k, v) for k, v in data.run_tags(i).items()],
        )
        client.log_artifact(run_id, str(note))
        client.delete_run(run_id)
        return run_id

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(n_runs)))


def gc_command(kind: str, python: str, server: Server) -> list[str]:
    store = ["--backend-store-uri", f"sqlite:///{server.db_path}"]
    if kind == "tracklet":
        return [python, "-m", "tracklet", "gc", *store, "--artifacts-destination", str(server.folder / "artifacts")]
    # MLflow's gc removes proxied artifacts (`mlflow-artifacts:` URIs) through the running server.
    return [str(Path(python).parent / "mlflow"), "gc", *store, "--tracking-uri", server.url]


def timed(cmd: list[str], cwd: Path) -> float:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=3600)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{done.stderr[-2000:]}")
    return elapsed


def verify(server: Server, run_ids: list[str]) -> None:
    with sqlite3.connect(server.db_path) as db:
        marks = ", ".join("?" * len(run_ids))
        (left,) = db.execute(f"SELECT count(*) FROM runs WHERE run_uuid IN ({marks})", run_ids).fetchone()
    ids = set(run_ids)
    files = [p for p in (server.folder / "artifacts").rglob("*") if p.is_file() and ids & set(p.parts)]
    if left or files:
        raise AssertionError(f"{server.spec.name}: {left} run rows and {len(files)} artifact files left after gc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8, help="client threads filling each server")
    parser.add_argument("--python", default=sys.executable, help="an interpreter with mlflow and tracklet")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="gc-bench-") as tmp:
        for kind in ("tracklet", "mlflow"):
            server = Server(ServerSpec.parse(kind), args.python, Path(tmp) / kind)
            server.start()
            try:
                t0 = time.perf_counter()
                run_ids = fill(server.url, args.runs, args.threads, server.folder)
                filled = time.perf_counter() - t0
                cmd = gc_command(kind, args.python, server)
                purge = timed(cmd, server.folder)
                verify(server, run_ids)
                results[kind] = {"fill_s": filled, "gc_s": purge, "gc_nothing_s": timed(cmd, server.folder)}
            finally:
                server.stop()
            print(f"{kind}: filled {args.runs} runs in {filled:.1f} s; gc {purge:.2f} s", flush=True)
    t, m = results["tracklet"], results["mlflow"]
    print(f"\n{args.runs} deleted runs (each 10 params, 5 metrics, 5 tags, 1 artifact), SQLite + local artifacts")
    print(f"{'':28} {'tracklet':>10} {'mlflow':>10} {'ratio':>8}")
    for key, label in (("gc_s", "gc, wall (s)"), ("gc_nothing_s", "gc, nothing to purge (s)")):
        print(f"{label:28} {t[key]:10.2f} {m[key]:10.2f} {m[key] / t[key]:7.1f}x")
    per_run = ((t["gc_s"] - t["gc_nothing_s"]) / args.runs, (m["gc_s"] - m["gc_nothing_s"]) / args.runs)
    print(f"{'per run, start-up left out (ms)':28} {per_run[0] * 1000:10.2f} {per_run[1] * 1000:10.2f} "
          f"{per_run[1] / per_run[0]:7.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
