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

REPO = Path(__file__).resolve().parent.parent
# Workloads that must verify on both servers (tracklet's own client is judged once it exists).
REQUIRED = ("log_metric", "log_batch", "create_runs", "search", "history", "artifacts", "concurrency", "ui")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_smoke_every_workload_verifies_on_both_servers(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--smoke",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "servers"),
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=880,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    servers = results["meta"]["servers"]
    assert servers == ["tracklet", "mlflow"]
    for name in servers:
        assert results["servers"][name]["startup_s"] > 0
        assert results["servers"][name]["idle_rss_mb"] > 0
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
