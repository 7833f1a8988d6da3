"""The benchmark in smoke form: both servers start and every workload writes, reads back and verifies.

No timing is asserted (CI machines are shared); bench/run.py --smoke exits non-zero when any data is
missing, and the results file says per workload and server whether its data verified.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.sizes import WORKLOADS

REPO = Path(__file__).resolve().parent.parent
# Workloads that must verify on both servers; tracklet's own client is judged on tracklet's alone.
REQUIRED = tuple(w for w in WORKLOADS if w != "tracklet_client")


def run_smoke(tmp_path: Path, *options: str) -> dict:
    out = tmp_path / "smoke.json"
    cmd = [sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--out", str(out), *options]
    cmd += ["--workdir", str(tmp_path / "servers")]
    proc = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=880)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def assert_every_workload_verified(results: dict, servers: list[str]) -> None:
    assert results["meta"]["servers"] == servers
    for name in servers:
        assert results["servers"][name]["startup_s"] > 0
        assert 0 < results["servers"][name]["idle_pss_mb"] <= results["servers"][name]["idle_rss_mb"]
        assert results["servers"][name]["db_mb"] > 0
    for workload in REQUIRED:
        for name in servers:
            assert results["verification"][workload][name] is True, (
                workload,
                name,
                results["workloads"][workload],
            )
    verdicts = results["verification"].get("tracklet_client", {})
    assert False not in verdicts.values()
    assert results["ok"] and not results["failures"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_smoke_every_workload_verifies_on_both_servers(tmp_path: Path) -> None:
    assert_every_workload_verified(run_smoke(tmp_path), ["tracklet", "mlflow"])


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_bench_smoke_scale_out_both_servers_on_postgresql_and_s3(tmp_path: Path) -> None:
    """`-pg` variants: one throwaway PostgreSQL and one S3 server on loopback, a database and bucket each."""
    servers = ["tracklet-pg-w2", "mlflow-pg"]
    results = run_smoke(tmp_path, "--servers", ",".join(servers))
    assert_every_workload_verified(results, servers)
    for name in servers:
        command = results["servers"][name]["command"]
        assert command[command.index("--backend-store-uri") + 1].startswith("postgresql+psycopg://")
        assert command[command.index("--artifacts-destination") + 1].startswith("s3://")
        # Artifacts landed in the bucket (the big file alone is 1 MB in smoke sizes).
        assert results["servers"][name]["artifact_mb"] >= 1


@pytest.mark.parametrize(
    ("name", "kind", "store", "workers"),
    [
        ("tracklet", "tracklet", "sqlite", None),
        ("mlflow-w1", "mlflow", "sqlite", 1),
        ("tracklet-pg", "tracklet", "pg", None),
        ("tracklet-pg-w4", "tracklet", "pg", 4),
    ],
)
def test_server_variant_names(name: str, kind: str, store: str, workers: int | None) -> None:
    from bench.servers import ServerSpec

    assert ServerSpec.parse(name) == ServerSpec(name, kind, workers, store)


@pytest.mark.parametrize(
    "name", ["mysql", "tracklet-w", "tracklet-wx", "tracklet-w2-pg", "mlflow-s3", "tracklet-pg-w2-w3"]
)
def test_unknown_server_variants_are_refused(name: str) -> None:
    from bench.servers import ServerSpec

    with pytest.raises(ValueError, match="unknown server"):
        ServerSpec.parse(name)


def test_pss_counts_the_pages_forked_workers_share_once() -> None:
    """A parent holding 64 MB and three forked children that only read it: RSS summed over the tree counts
    the 64 MB four times, PSS once (the bench reports both for the servers' idle memory)."""
    from bench.proctree import stop_tree, tree_pss, tree_rss

    script = (
        "import os, sys, time\n"
        "block = bytearray(64 * 2**20)\n"
        "for i in range(0, len(block), 4096): block[i] = 1\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60); os._exit(0)\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        rss, pss = tree_rss(proc.pid), tree_pss(proc.pid)
        assert pss is not None
        assert rss > 4 * 64 * 2**20 > 2 * 64 * 2**20 > pss > 64 * 2**20
    finally:
        stop_tree(proc.pid, grace=2.0)
        proc.wait(timeout=10)


@pytest.mark.slow
def test_auth_bench_smoke_runs_both_servers_with_and_without_users(tmp_path: Path) -> None:
    """bench/auth_bench.py, tiny: tracklet and `mlflow server`, each without and with authentication, log,
    read and search as a user; the script itself checks that every point is stored and that no hidden
    experiment is listed."""
    out = tmp_path / "auth.json"
    cmd = [
        sys.executable,
        str(REPO / "bench" / "auth_bench.py"),
        "--calls",
        "5",
        "--experiments",
        "5",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"tracklet", "tracklet --auth", "mlflow", "mlflow basic-auth"}
    assert all(value > 0 for figures in results.values() for value in figures.values())
