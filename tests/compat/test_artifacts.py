"""Artifacts through the official client and the mlflow-artifacts proxy: files, folders, text, dicts, images, figures."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import mlflow
import pytest
from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository


@pytest.fixture
def run_id(mlflow_client, experiment_id):
    with mlflow.start_run() as run:
        pass
    return run.info.run_id


def _listing(client, run_id, path=None):
    return {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, path)}


def test_log_and_download_a_file(mlflow_client, run_id, tmp_path):
    src = tmp_path / "notes.txt"
    src.write_text("hello artifacts\n")
    mlflow_client.log_artifact(run_id, str(src))
    mlflow_client.log_artifact(run_id, str(src), artifact_path="sub/dir")

    assert _listing(mlflow_client, run_id) == {("notes.txt", False, 16), ("sub", True, None)}
    assert _listing(mlflow_client, run_id, "sub") == {("sub/dir", True, None)}
    assert _listing(mlflow_client, run_id, "sub/dir") == {("sub/dir/notes.txt", False, 16)}

    local = mlflow_client.download_artifacts(run_id, "sub/dir/notes.txt", str(tmp_path / "out"))
    assert Path(local).read_text() == "hello artifacts\n"


def test_log_and_download_a_folder(mlflow_client, run_id, tmp_path):
    tree = tmp_path / "tree"
    (tree / "nested" / "deeper").mkdir(parents=True)
    (tree / "a.csv").write_text("x,y\n1,2\n")
    (tree / "nested" / "b.bin").write_bytes(bytes(range(256)) * 10)
    (tree / "nested" / "deeper" / "c.json").write_text('{"c": 1}')
    (tree / "nested" / "name with spaces & ünïcode.txt").write_text("odd name")
    mlflow_client.log_artifacts(run_id, str(tree), artifact_path="tree")

    assert _listing(mlflow_client, run_id, "tree") == {("tree/a.csv", False, 8), ("tree/nested", True, None)}
    out = Path(mlflow_client.download_artifacts(run_id, "tree", str(tmp_path / "out")))
    downloaded = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    expected = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
    assert downloaded == expected
    for rel in expected:
        assert (out / rel).read_bytes() == (tree / rel).read_bytes()


def test_download_everything_via_artifact_uri(mlflow_client, run_id, tmp_path):
    with mlflow.start_run(run_id=run_id):
        mlflow.log_text("root file", "root.txt")
        mlflow.log_text("deep file", "a/b/c.txt")
    out = Path(download_artifacts(run_id=run_id, dst_path=str(tmp_path / "all")))
    assert (out / "root.txt").read_text() == "root file"
    assert (out / "a" / "b" / "c.txt").read_text() == "deep file"


def test_log_text_and_dict(mlflow_client, run_id):
    with mlflow.start_run(run_id=run_id):
        mlflow.log_text("some text ✓", "texts/note.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        mlflow.log_dict({"a": 1}, "config.yaml")
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/texts/note.txt") == "some text ✓"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"a": 1, "b": [1, 2]}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/config.yaml").strip() == "a: 1"


def test_log_image(mlflow_client, run_id):
    import numpy as np
    from PIL import Image

    pixels = (np.arange(30 * 20 * 3) % 256).astype(np.uint8).reshape(30, 20, 3)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_image(pixels, "images/array.png")
        mlflow.log_image(Image.fromarray(pixels), "images/pil.png")
        mlflow.log_image(pixels, key="training", step=3)  # the step-tracked form
    loaded = mlflow.artifacts.load_image(f"runs:/{run_id}/images/array.png")
    assert np.array_equal(np.asarray(loaded), pixels)
    assert {f.path for f in mlflow_client.list_artifacts(run_id, "images")} >= {
        "images/array.png",
        "images/pil.png",
    }
    assert any(f.path == "images" for f in mlflow_client.list_artifacts(run_id))


def test_log_figure(mlflow_client, run_id, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 1, 3])
    with mlflow.start_run(run_id=run_id):
        mlflow.log_figure(fig, "plots/curve.png")
        mlflow.log_figure(fig, "plots/curve.svg")
    plt.close(fig)
    png = Path(mlflow_client.download_artifacts(run_id, "plots/curve.png", str(tmp_path)))
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = Path(mlflow_client.download_artifacts(run_id, "plots/curve.svg", str(tmp_path)))
    assert b"<svg" in svg.read_bytes()


def test_overwrite_an_artifact(mlflow_client, run_id):
    with mlflow.start_run(run_id=run_id):
        mlflow.log_text("v1", "same.txt")
        mlflow.log_text("second version", "same.txt")
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/same.txt") == "second version"


def test_empty_file(mlflow_client, run_id, tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    mlflow_client.log_artifact(run_id, str(empty))
    assert _listing(mlflow_client, run_id) == {("empty.bin", False, 0)}
    assert Path(mlflow_client.download_artifacts(run_id, "empty.bin", str(tmp_path / "o"))).read_bytes() == b""


def test_listing_of_an_empty_run_and_missing_paths(mlflow_client, run_id):
    assert mlflow_client.list_artifacts(run_id) == []
    assert mlflow_client.list_artifacts(run_id, "nothing/here") == []


def test_download_missing_artifact(mlflow_client, run_id, tmp_path):
    with pytest.raises((MlflowException, OSError)):
        mlflow_client.download_artifacts(run_id, "missing.txt", str(tmp_path))


def test_delete_artifacts(mlflow_client, run_id):
    with mlflow.start_run(run_id=run_id):
        mlflow.log_text("keep", "keep.txt")
        mlflow.log_text("a", "doomed/a.txt")
        mlflow.log_text("b", "doomed/sub/b.txt")
        mlflow.log_text("c", "single.txt")
    repo = get_artifact_repository(mlflow_client.get_run(run_id).info.artifact_uri)
    repo.delete_artifacts("doomed")
    repo.delete_artifacts("single.txt")
    assert {f.path for f in mlflow_client.list_artifacts(run_id)} == {"keep.txt"}


@pytest.mark.slow
def test_large_file_round_trip(mlflow_client, run_id, tmp_path):
    size = 64 * 1024 * 1024 + 123  # > 50 MB and not a multiple of any chunk size
    src = tmp_path / "large.bin"
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with src.open("wb") as f:
        written = 0
        while written < size:
            chunk = block[: min(len(block), size - written)]
            f.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    mlflow_client.log_artifact(run_id, str(src), artifact_path="big")
    assert _listing(mlflow_client, run_id, "big") == {("big/large.bin", False, size)}

    out = Path(mlflow_client.download_artifacts(run_id, "big/large.bin", str(tmp_path / "out")))
    got = hashlib.sha256()
    with out.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            got.update(chunk)
    assert out.stat().st_size == size
    assert got.hexdigest() == digest.hexdigest()


def test_artifacts_of_two_runs_are_separate(mlflow_client, experiment_id):
    with mlflow.start_run() as a:
        mlflow.log_text("from a", "f.txt")
    with mlflow.start_run() as b:
        mlflow.log_text("from b", "f.txt")
    assert mlflow.artifacts.load_text(f"runs:/{a.info.run_id}/f.txt") == "from a"
    assert mlflow.artifacts.load_text(f"runs:/{b.info.run_id}/f.txt") == "from b"


def test_log_table(mlflow_client, run_id):
    with mlflow.start_run(run_id=run_id):
        mlflow.log_table({"x": [1, 2], "y": ["a", "b"]}, artifact_file="table.json")
    run = mlflow_client.get_run(run_id)
    logged = json.loads(run.data.tags["mlflow.loggedArtifacts"])
    assert logged == [{"path": "table.json", "type": "table"}]
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/table.json")["columns"] == ["x", "y"]


def test_names_with_percent_signs_and_spaces_keep_their_exact_name(mlflow_client, run_id, tmp_path):
    src = tmp_path / "score 100% top.txt"
    src.write_text("exact")
    mlflow_client.log_artifact(run_id, str(src), "odd names")
    assert _listing(mlflow_client, run_id, "odd names") == {("odd names/score 100% top.txt", False, 5)}
    back = Path(mlflow_client.download_artifacts(run_id, "odd names/score 100% top.txt", str(tmp_path / "dl")))
    assert back.name == "score 100% top.txt" and back.read_text() == "exact"
