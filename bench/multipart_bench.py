"""A large artifact up and down through the official MLflow client, on S3 (moto's server on loopback), with
MLflow's proxied multipart upload and presigned download off (every byte through the server) and on
(the bytes go straight between the client and S3; the server begins and completes the upload).

    python bench/multipart_bench.py [--mb 100] [--repeat 3] [--servers tracklet,mlflow]

Each server (SQLite metadata, artifacts in `s3://<its bucket>/artifacts`, default workers) sits behind a
relay that counts the bytes it carries. Per mode: seconds and MB/s of `log_artifact` and
`download_artifacts` (the median of --repeat, each a new run), the bytes that passed through the server,
and the server's CPU seconds (its whole process tree). Multipart on: MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD
and MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD true, the least size for a multipart upload lowered to 1 MB
(MLflow's default, 500 MB, would leave a 100 MB file out), parts and ranges of MLflow's default sizes
(10 MB up, 100 MB down; a third mode reads in 10 MB ranges, in parallel). Every download is checked
against the file sent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a script: the repo first
from bench.proctree import tree_pids  # noqa: E402
from bench.servers import Server, ServerSpec  # noqa: E402
from tests.support.processes import MotoS3  # noqa: E402
from tests.support.relay import CountingRelay  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")
MODES = {
    "through the server": {"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "false", "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false"},
    "multipart": {
        "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
        "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "true",
        "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(1024 * 1024),
    },
    "multipart, 10 MB ranges": {
        "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
        "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "true",
        "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(1024 * 1024),
        "MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE": str(10 * 1024 * 1024),
    },
}  # fmt: skip


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (Linux /proc)."""
    total = 0
    for one in tree_pids(pid):
        try:
            text = Path(f"/proc/{one}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def measure(server: Server, relay: CountingRelay, local: Path, repeat: int, work: Path) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(relay.url)
    experiment_id = client.create_experiment("multipart-" + uuid.uuid4().hex[:6])
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    size_mb = local.stat().st_size / 1e6
    out: dict[str, Any] = {}
    for mode, env in MODES.items():
        os.environ.update(env)
        figures: dict[str, list[float]] = {"up_s": [], "down_s": [], "up_bytes": [], "down_bytes": [], "up_cpu": [], "down_cpu": []}  # fmt: skip
        for i in range(repeat):
            run_id = client.create_run(experiment_id).info.run_id
            for direction in ("up", "down"):
                relay.reset()
                cpu0, t0 = tree_cpu_seconds(server.proc.pid), time.perf_counter()  # type: ignore[union-attr]
                if direction == "up":
                    client.log_artifact(run_id, str(local))
                else:
                    back = Path(client.download_artifacts(run_id, local.name, str(work / f"{mode[:4]}-{i}")))
                elapsed = time.perf_counter() - t0
                figures[f"{direction}_s"].append(elapsed)
                figures[f"{direction}_cpu"].append(tree_cpu_seconds(server.proc.pid) - cpu0)  # type: ignore[union-attr]
                figures[f"{direction}_bytes"].append(relay.sent + relay.received)
            if hashlib.sha256(back.read_bytes()).hexdigest() != digest:
                raise SystemExit(f"{server.spec.name}, {mode}: the file read back differs from the one sent")
            back.unlink()
        for key in env:
            os.environ.pop(key, None)
        out[mode] = {
            "up_MBps": size_mb / statistics.median(figures["up_s"]),
            "down_MBps": size_mb / statistics.median(figures["down_s"]),
            "up_MB_through_server": statistics.median(figures["up_bytes"]) / 1e6,
            "down_MB_through_server": statistics.median(figures["down_bytes"]) / 1e6,
            "up_server_cpu_s": statistics.median(figures["up_cpu"]),
            "down_server_cpu_s": statistics.median(figures["down_cpu"]),
            "raw": figures,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--servers", default="tracklet,mlflow")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})  # fmt: skip

    moto = MotoS3().start()
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="multipart-bench-") as tmp:
            work = Path(tmp)
            local = work / "weights.bin"
            local.write_bytes(os.urandom(args.mb * 1_000_000))
            for name in args.servers.split(","):
                bucket = f"bench-{name}-{uuid.uuid4().hex[:6]}"
                moto.create_bucket(bucket)
                server = Server(
                    ServerSpec.parse(name),
                    sys.executable,
                    work / name,
                    artifacts_destination=f"s3://{bucket}/artifacts",
                    extra_env={**moto.env(), "MLFLOW_S3_ENDPOINT_URL": moto.url},
                )
                server.start()
                relay = CountingRelay(server.port).start()
                try:
                    results[name] = measure(server, relay, local, args.repeat, work)
                finally:
                    relay.stop()
                    server.stop()
    finally:
        moto.stop()

    print(f"{args.mb} MB, median of {args.repeat}; MB/s, MB through the server, server CPU s")
    print("| server | mode | up MB/s | down MB/s | up MB via server | down MB via server | server CPU up s | server CPU down s |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, modes in results.items():
        for mode, r in modes.items():
            print(
                f"| {name} | {mode} | {r['up_MBps']:.1f} | {r['down_MBps']:.1f} | {r['up_MB_through_server']:.3f} | "
                f"{r['down_MB_through_server']:.3f} | {r['up_server_cpu_s']:.2f} | {r['down_server_cpu_s']:.2f} |"
            )
    out = Path(args.out or f"bench/results/multipart-{time.strftime('%Y%m%d-%H%M')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"mb": args.mb, "repeat": args.repeat, "results": results}, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
