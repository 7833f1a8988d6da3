"""`tracklet server --auth` next to `mlflow server --app-name basic-auth`, and what signing in costs each.

    python bench/auth_bench.py [--calls 1000] [--experiments 100] [--with-cache] [--only V,V] [--out F]

Four servers, one at a time (embedded default: SQLite + local artifacts, each its default workers):
tracklet and MLflow without authentication, then each with it. With it, an admin creates a user, who
creates an experiment (so MANAGEs it) and a run; then, as that user:

- `log_metric` through the official client (`MlflowClient.log_metric`), N calls: median ms;
- server only, over one kept-alive connection with the Basic header: N `runs/log-metric` POSTs and N
  `runs/get` GETs (median µs), and `experiments/search` among 100 other experiments, every fifth hidden
  from the user (DENY, i.e. NO_PERMISSIONS) (median ms; verified: none of the hidden ones is listed).

`--with-cache` adds MLflow with its credential cache on; `--only` picks variants by name.

Needs an interpreter with `mlflow[auth]` (Flask-WTF) and tracklet: the test environment, or bench/.venv.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a script: the repo first
from bench.servers import Server, ServerSpec  # noqa: E402

ADMIN = ("admin", "bench-admin-password")
USER = ("bench-user", "bench-user-password")
API = "/api/2.0/mlflow"
MLFLOW_AUTH_ENV = {"MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1], "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex}
VARIANTS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "tracklet": ((), {}),
    "tracklet --auth": (("--auth",), {"TRACKLET_ADMIN_PASSWORD": ADMIN[1]}),
    "mlflow": ((), {}),
    "mlflow basic-auth": (("--app-name", "basic-auth"), MLFLOW_AUTH_ENV),
}
# MLflow's credential cache is off by default (basic_auth.ini: `auth_cache_ttl_seconds = 0`): each request
# checks the password's PBKDF2 hash. This variant turns it on (a config file of its own, written at start).
CACHED = "mlflow basic-auth cached"
CACHED_CONFIG = """[mlflow]
default_permission = READ
database_uri = sqlite:///basic_auth.db
admin_username = admin
auth_cache_ttl_seconds = 60
"""


def median_of(n: int, call: Callable[[], object]) -> float:
    """Median seconds of n calls."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def prepare(url: str, signed_in: bool, others: int) -> tuple[str, str, set[str]]:
    """(experiment id, run id, experiments hidden from the user) — as the user where there are users."""
    import httpx

    auth = USER if signed_in else None
    with httpx.Client(base_url=url + API, timeout=60) as http:
        if signed_in:
            http.post("/users/create", json={"username": USER[0], "password": USER[1]}, auth=ADMIN).raise_for_status()
        experiment_id = http.post("/experiments/create", json={"name": "auth-bench"}, auth=auth).json()["experiment_id"]
        run = http.post("/runs/create", json={"experiment_id": experiment_id}, auth=auth).json()
        hidden = set()
        for i in range(others):
            created = http.post("/experiments/create", json={"name": f"other-{i}"}, auth=ADMIN if signed_in else None)
            other = created.json()["experiment_id"]
            if signed_in and i % 5 == 0:
                grant(url, other, "DENY")  # MLflow 3.17 grants NO_PERMISSIONS under this name
                hidden.add(other)
    return experiment_id, run["run"]["info"]["run_id"], hidden


def grant(url: str, experiment_id: str, permission: str) -> None:
    import httpx

    body = {"username": USER[0], "resource_type": "experiment", "resource_id": experiment_id, "permission": permission}
    httpx.post(f"{url}/api/3.0/mlflow/users/permissions/grant", json=body, auth=ADMIN, timeout=60).raise_for_status()


def measure(url: str, signed_in: bool, calls: int, others: int) -> dict[str, float]:
    import os

    import httpx
    from mlflow import MlflowClient

    experiment_id, run_id, hidden = prepare(url, signed_in, others)
    if signed_in:
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = USER
    else:
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    client = MlflowClient(url)
    step = iter(range(10**9))
    results = {"client log_metric (ms)": median_of(calls, lambda: client.log_metric(run_id, "m", 0.5, step=next(step)))}
    auth = USER if signed_in else None
    with httpx.Client(base_url=url + API, auth=auth, timeout=60) as http:
        point = {"run_id": run_id, "key": "s", "value": 0.5, "timestamp": 1}

        def log() -> None:
            http.post("/runs/log-metric", json={**point, "step": next(step)}).raise_for_status()

        results["log-metric, server only (µs)"] = median_of(calls, log)
        results["runs/get, server only (µs)"] = median_of(
            calls, lambda: http.get("/runs/get", params={"run_id": run_id}).raise_for_status()
        )

        def search() -> None:
            answer = http.post("/experiments/search", json={"max_results": 1000})
            answer.raise_for_status()
            listed = {e["experiment_id"] for e in answer.json().get("experiments", [])}
            assert experiment_id in listed and not listed & hidden, "a hidden experiment was listed"

        results[f"experiments/search, {others + 1} (ms)"] = median_of(max(calls // 10, 10), search)
        history = http.get("/metrics/get-history", params={"run_id": run_id, "metric_key": "s", "max_results": 25000})
        assert len(history.json()["metrics"]) == calls, "log-metric lost points"
    for key in list(results):
        results[key] *= 1000 if "(ms)" in key else 1_000_000
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--experiments", type=int, default=100, help="other experiments (every fifth hidden)")
    parser.add_argument("--python", default=sys.executable, help="an interpreter with mlflow[auth] and tracklet")
    parser.add_argument("--with-cache", action="store_true", help=f"also run '{CACHED}'")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--only", default="", help="comma-separated variants to run (default: all)")
    args = parser.parse_args()
    variants = dict(VARIANTS)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="auth-bench-") as tmp:
        if args.with_cache:
            config = Path(tmp) / "basic_auth.ini"
            config.write_text(CACHED_CONFIG)
            variants[CACHED] = (
                ("--app-name", "basic-auth"),
                {**MLFLOW_AUTH_ENV, "MLFLOW_AUTH_CONFIG_PATH": str(config)},
            )
        if args.only:
            variants = {name: variants[name] for name in args.only.split(",")}
        for name, (extra_args, extra_env) in variants.items():
            kind = name.split()[0]
            server = Server(ServerSpec.parse(kind), args.python, Path(tmp) / name.replace(" ", "_").replace(",", ""))
            server.extra_args, server.extra_env = extra_args, extra_env
            server.start()
            try:
                results[name] = measure(server.url, bool(extra_args), args.calls, args.experiments)
            finally:
                server.stop()
            print(f"{name}: done", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"calls": args.calls, "results": results}, indent=1))
    names = list(variants)
    print(f"\n{'':32}" + "".join(f"{n[:20]:>22}" for n in names))
    for row in next(iter(results.values())):
        print(f"{row:32}" + "".join(f"{results[n][row]:22.1f}" for n in names))


if __name__ == "__main__":
    main()
