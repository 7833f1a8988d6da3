"""Seed a real tracklet server through MLflow's REST API: runs, nested runs, histories, artifacts, a model."""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "/api/2.0/mlflow"
T0 = 1_700_000_000_000


def png(width: int = 64, height: int = 48) -> bytes:
    """A small RGB gradient PNG, written by hand so the tests need no imaging library."""
    raw = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 5 % 256, 160)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@dataclass
class Seeded:
    experiment_id: str
    runs: dict[str, str] = field(default_factory=dict)  # name -> run id
    other_experiment_id: str = ""
    model_id: str = ""
    registered_model: str = ""  # "wine-quality": three versions, aliases, a stage, tags


class Client:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(API + path, json=body)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def create_experiment(self, name: str) -> str:
        return str(self.post("/experiments/create", {"name": name})["experiment_id"])

    def create_run(self, experiment_id: str, name: str, start: int, tags: dict[str, str] | None = None) -> str:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": start,
            "user_id": "ada",
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        return str(self.post("/runs/create", body)["run"]["info"]["run_id"])

    def log_batch(self, run_id: str, params: dict[str, Any] | None = None, metrics: list[dict[str, Any]] | None = None,
                  tags: dict[str, str] | None = None) -> None:  # fmt: skip
        self.post(
            "/runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
                "metrics": metrics or [],
                "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
            },
        )

    def finish(self, run_id: str, end: int) -> None:
        self.post("/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": end})

    def upload(self, run_id: str, path: str, data: bytes) -> None:
        run = self.http.get(API + "/runs/get", params={"run_id": run_id}).json()["run"]
        self.upload_to(run["info"]["artifact_uri"], path, data)

    def upload_to(self, artifact_uri: str, path: str, data: bytes) -> None:
        root = artifact_uri.removeprefix("mlflow-artifacts:").strip("/")
        r = self.http.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/{path}", content=data)
        r.raise_for_status()


def curve(key: str, n: int, seed: float, spike_at: int | None = None) -> list[dict[str, Any]]:
    points = []
    for i in range(n):
        value = math.exp(-i / (n / 4)) * (1 + seed) + 0.05 * math.sin(i * (1.3 + seed))
        if spike_at is not None and i == spike_at:
            value = 25.0
        points.append({"key": key, "value": value, "timestamp": T0 + i * 1000, "step": i})
    return points


ARTIFACTS: dict[str, bytes] = {
    "plots/curve.png": png(),
    "logs/train.log": b"epoch 1 loss 0.9\nepoch 2 loss 0.5\nepoch 3 loss 0.3\n",
    "config/params.json": json.dumps({"lr": 0.01, "layers": [64, 32], "note": "hello"}).encode(),
    "config/conf.yaml": b"optimizer: adam\nlr: 0.01\nlayers:\n  - 64\n  - 32\n",
    "data/table.csv": b"a,b,c\n1,2,3\n4,5,6\n7,8,9\n",
    "report.html": b"<html><body><h1 id='r'>Report</h1><p>accuracy 0.93</p></body></html>",
    "model/MLmodel": b"artifact_path: model\nflavors:\n  python_function:\n    loader_module: tracklet.models\n"
    b"model_uuid: 1234\n",
    "model/requirements.txt": b"numpy\n",
}


MODEL_ARTIFACTS: dict[str, bytes] = {
    "MLmodel": b"artifact_path: alpha-model\nflavors:\n  python_function:\n    loader_module: tracklet.models\n"
    b"model_id: alpha-model-id\n",
    "model.pkl": bytes(range(256)),
    "requirements.txt": b"scikit-learn==1.5\n",
    "metadata/input_example.json": json.dumps({"columns": ["a", "b"], "data": [[1, 2]]}).encode(),
}


def seed(url: str, points: int = 200) -> Seeded:
    """An experiment 'ui-demo' with 6 runs (one RUNNING, two nested under 'parent'), histories and artifacts."""
    c = Client(url)
    exp = c.create_experiment("ui-demo")
    out = Seeded(exp, other_experiment_id=c.create_experiment("ui-empty"))
    specs = [
        ("alpha", {"lr": 0.1, "layers": 2, "optimizer": "adam"}, 0.1, {"team": "vision"}),
        ("beta", {"lr": 0.01, "layers": 3, "optimizer": "adam"}, 0.3, {"team": "vision"}),
        ("gamma", {"lr": 0.001, "layers": 4, "optimizer": "sgd"}, 0.6, {"team": "nlp"}),
        ("parent", {"lr": 0.05, "layers": 2, "optimizer": "sgd"}, 0.2, {"team": "nlp"}),
    ]
    for i, (name, params, s, tags) in enumerate(specs):
        run_id = c.create_run(exp, name, T0 + i * 60_000)
        out.runs[name] = run_id
        metrics = curve("loss", points, s, spike_at=points // 2 if name == "alpha" else None)
        metrics += [{"key": "accuracy", "value": 0.7 + s / 2, "timestamp": T0, "step": 0}]
        for start in range(0, len(metrics), 1000):
            c.log_batch(
                run_id,
                params if start == 0 else None,
                metrics[start : start + 1000],
                tags if start == 0 else None,
            )
        c.finish(run_id, T0 + i * 60_000 + 30_000 + i * 1000)
    for j, child in enumerate(("child-1", "child-2")):
        run_id = c.create_run(exp, child, T0 + 300_000 + j, {"mlflow.parentRunId": out.runs["parent"]})
        out.runs[child] = run_id
        c.log_batch(
            run_id,
            {"lr": 0.05, "fold": j},
            [{"key": "loss", "value": 0.5 - j / 10, "timestamp": T0, "step": 0}],
        )
        c.finish(run_id, T0 + 310_000)
    live = c.create_run(exp, "live", T0 + 400_000, {"mlflow.note.content": "A run that is still going."})
    out.runs["live"] = live
    c.log_batch(live, {"lr": 0.2}, curve("loss", 20, 0.4))
    alpha = out.runs["alpha"]
    c.log_batch(alpha, tags={"mlflow.source.name": "train.py", "mlflow.source.git.commit": "0123abcd" * 5,
                             "mlflow.note.content": "The **first** run."})  # fmt: skip
    for path, data in ARTIFACTS.items():
        c.upload(alpha, path, data)
    wine = {"name": "wine-quality", "digest": "3f9a1c2e", "source_type": "local", "source": '{"uri": "data/wine.csv"}',
            "schema": '{"mlflow_colspec": [{"name": "alcohol", "type": "double"}]}', "profile": '{"num_rows": 4898}'}  # fmt: skip
    c.post("/runs/log-inputs", {"run_id": alpha, "datasets": [
        {"dataset": wine, "tags": [{"key": "mlflow.data.context", "value": "training"}]}]})  # fmt: skip
    model = c.http.post(
        "/api/2.0/mlflow/logged-models",
        json={"experiment_id": exp, "name": "alpha-model", "source_run_id": alpha, "model_type": "sklearn"},
    )
    model.raise_for_status()
    info = model.json()["model"]["info"]
    out.model_id = info["model_id"]
    for path, data in MODEL_ARTIFACTS.items():  # where MLflow 3 keeps a logged model's files
        c.upload_to(info["artifact_uri"], path, data)
    out.registered_model = seed_registry(c, out)
    return out


def seed_registry(c: Client, out: Seeded) -> str:
    """'wine-quality' with versions 1-3 (1 from alpha's logged model), aliases, a stage, tags; 'churn' empty."""
    name = "wine-quality"
    c.post("/registered-models/create", {"name": name, "description": "Predicts the **quality** of a wine.",
                                         "tags": [{"key": "team", "value": "vision"}]})  # fmt: skip
    sources = [
        (out.runs["alpha"], f"models:/{out.model_id}", out.model_id),
        (out.runs["beta"], f"runs:/{out.runs['beta']}/model", None),
        (out.runs["gamma"], f"runs:/{out.runs['gamma']}/model", None),
    ]
    for run_id, source, model_id in sources:
        body = {"name": name, "source": source, "run_id": run_id, "model_id": model_id}
        c.post("/model-versions/create", {k: v for k, v in body.items() if v})
    c.post("/model-versions/transition-stage", {"name": name, "version": "2", "stage": "Production",
                                                "archive_existing_versions": False})  # fmt: skip
    c.post("/model-versions/set-tag", {"name": name, "version": "3", "key": "validated", "value": "no"})
    c.post("/registered-models/alias", {"name": name, "alias": "champion", "version": "2"})
    c.post("/registered-models/alias", {"name": name, "alias": "challenger", "version": "3"})
    c.post("/registered-models/create", {"name": "churn"})
    return name
