"""The module-level API against a real server and against the local store (fixture `tracking_uri`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import tracklet
from tracklet import errors


def test_tracking_uri_comes_from_tracklet_env_then_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert tracklet.get_tracking_uri() == "http://mlflow:5000"
    monkeypatch.setenv("TRACKLET_TRACKING_URI", "http://tracklet:5000")
    assert tracklet.get_tracking_uri() == "http://tracklet:5000"
    tracklet.set_tracking_uri("http://explicit:1")
    assert tracklet.get_tracking_uri() == "http://explicit:1"


def test_without_a_uri_the_default_is_the_servers_default_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert tracklet.get_tracking_uri() == "sqlite:///" + str(tmp_path / "tracklet-data" / "tracklet.db")


def test_context_manager_ends_the_run_finished(tracking_uri: str) -> None:
    with tracklet.start_run(run_name="ok") as run:
        assert tracklet.active_run() is run
        assert tracklet.get_run(run.info.run_id).info.status == "RUNNING"
    assert tracklet.active_run() is None
    ended = tracklet.get_run(run.info.run_id)
    assert ended.info.status == "FINISHED" and ended.info.end_time
    assert ended.info.run_name == "ok"
    assert tracklet.last_active_run().info.run_id == run.info.run_id  # type: ignore[union-attr]


def test_an_exception_in_the_block_marks_the_run_failed(tracking_uri: str) -> None:
    with pytest.raises(ZeroDivisionError):
        with tracklet.start_run() as run:
            1 / 0  # noqa: B018 - the failure under test
    assert tracklet.get_run(run.info.run_id).info.status == "FAILED"
    assert tracklet.active_run() is None


def test_nested_runs_record_their_parent(tracking_uri: str) -> None:
    with tracklet.start_run() as parent:
        with pytest.raises(errors.InvalidState, match="nested=True"):
            tracklet.start_run()
        with tracklet.start_run(nested=True) as child:
            assert tracklet.active_run() is child
        assert tracklet.active_run() is parent
    child_run = tracklet.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_run.info.status == "FINISHED"
    assert "mlflow.parentRunId" not in tracklet.get_run(parent.info.run_id).data.tags


def test_resume_a_run_by_id(tracking_uri: str) -> None:
    with tracklet.start_run() as run:
        tracklet.log_metric("loss", 1.0, step=0)
    with tracklet.start_run(run_id=run.info.run_id) as resumed:
        assert resumed.info.run_id == run.info.run_id
        assert tracklet.get_run(run.info.run_id).info.status == "RUNNING"
        tracklet.log_metric("loss", 0.5, step=1)
    final = tracklet.get_run(run.info.run_id)
    assert final.info.status == "FINISHED"
    assert [p.value for p in tracklet.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.5]


def test_source_user_and_git_commit_tags(tracking_uri: str) -> None:
    with tracklet.start_run(tags={"team": "wine"}) as run:
        pass
    tags = tracklet.get_run(run.info.run_id).data.tags
    assert tags["team"] == "wine"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"]
    assert tags["mlflow.user"]


def test_git_commit_of_a_script_in_a_repo(tracking_uri: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import tracklet, sys\n"
        f"tracklet.set_tracking_uri({tracking_uri!r})\n"
        "with tracklet.start_run() as run:\n    print(run.info.run_id)\n"
    )
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "train.py"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, PYTHONPATH=str(Path(tracklet.__file__).parents[1]))
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    tags = tracklet.get_run(out.stdout.strip()).data.tags
    assert tags["mlflow.source.git.commit"] == head
    assert tags["mlflow.source.name"] == str(script)


def test_params_metrics_and_tags_read_back_as_dicts(tracking_uri: str) -> None:
    with tracklet.start_run() as run:
        assert tracklet.log_param("alpha", 0.5) == 0.5
        tracklet.log_params({"lambda": 0.01, "solver": "cd"})
        tracklet.log_metric("rmse", 0.9)
        tracklet.log_metric("rmse", 0.7, step=1)
        tracklet.log_metrics({"mae": 0.5, "r2": 0.25}, step=3)
        tracklet.log_metric("nan", float("nan"))
        tracklet.set_tag("stage", "dev")
        tracklet.set_tags({"owner": "me", "n": 3})
    data = tracklet.get_run(run.info.run_id).data
    assert data.params == {"alpha": "0.5", "lambda": "0.01", "solver": "cd"}
    assert data.metrics["rmse"] == 0.7 and data.metrics["mae"] == 0.5 and data.metrics["r2"] == 0.25
    assert np.isnan(data.metrics["nan"])
    assert {"stage": "dev", "owner": "me", "n": "3"}.items() <= data.tags.items()
    assert [(p.step, p.value) for p in tracklet.get_metric_history(run.info.run_id, "rmse")] == [(0, 0.9), (1, 0.7)]
    assert tracklet.get_metric_history(run.info.run_id, "absent") == []


def test_logging_without_a_run_starts_one(tracking_uri: str) -> None:
    tracklet.log_metric("x", 1.0)
    run = tracklet.active_run()
    assert run is not None
    tracklet.end_run()
    assert tracklet.get_run(run.info.run_id).data.metrics == {"x": 1.0}


def test_artifacts_files_folders_text_dicts_figures_images(tracking_uri: str, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    (tmp_path / "one.txt").write_text("one")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.csv").write_text("a,b\n1,2\n")
    (tree / "sub" / "b.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with tracklet.start_run() as run:
        tracklet.log_artifact(tmp_path / "one.txt")
        tracklet.log_artifact(tmp_path / "one.txt", artifact_path="copies")
        tracklet.log_artifacts(tree, artifact_path="tree")
        tracklet.log_text("hello", "notes/hello.md")
        tracklet.log_dict({"a": [1, 2]}, "config.json")
        tracklet.log_dict({"a": 1}, "config.yaml")
        tracklet.log_figure(fig, "plots/line.png")
        tracklet.log_image(np.random.default_rng(0).random((16, 16, 3)), "images/noise.png")
        tracklet.log_image(Image.new("L", (8, 8), 128), "images/grey.png")
    plt.close(fig)
    rid = run.info.run_id
    top = {f.path: f for f in tracklet.list_artifacts(rid)}
    assert set(top) == {"one.txt", "copies", "tree", "notes", "config.json", "config.yaml", "plots", "images"}
    assert top["tree"].is_dir and not top["one.txt"].is_dir and top["one.txt"].file_size == 3
    assert {f.path for f in tracklet.list_artifacts(rid, "tree")} == {"tree/a.csv", "tree/sub"}
    assert tracklet.list_artifacts(rid, "one.txt") == []

    dst = Path(tracklet.download_artifacts(rid, "tree", str(tmp_path / "dl")))
    assert (dst / "a.csv").read_text() == "a,b\n1,2\n"
    assert (dst / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    everything = Path(tracklet.download_artifacts(rid, "", str(tmp_path / "all")))
    assert (everything / "notes" / "hello.md").read_text() == "hello"
    assert json.loads((everything / "config.json").read_text()) == {"a": [1, 2]}
    assert (everything / "config.yaml").read_text().strip() == "a: 1"
    assert (everything / "plots" / "line.png").read_bytes().startswith(b"\x89PNG")
    assert Image.open(everything / "images" / "noise.png").size == (16, 16)
    assert Image.open(everything / "images" / "grey.png").mode == "L"
    with pytest.raises(errors.ResourceDoesNotExist):
        tracklet.download_artifacts(rid, "missing.txt", str(tmp_path / "none"))


def test_search_runs_as_dataframe_and_list(tracking_uri: str) -> None:
    ids = []
    for i, alpha in enumerate([0.1, 0.5, 0.9]):
        with tracklet.start_run(run_name=f"r{i}") as run:
            tracklet.log_param("alpha", alpha)
            tracklet.log_metric("rmse", 1 - alpha)
            tracklet.set_tag("kind", "grid")
        ids.append(run.info.run_id)
    df = tracklet.search_runs()
    assert list(df.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert {"metrics.rmse", "params.alpha", "tags.kind", "tags.mlflow.runName"} <= set(df.columns)
    assert set(df["run_id"]) == set(ids)
    assert (df["status"] == "FINISHED").all()
    assert str(df["start_time"].dtype).startswith("datetime64")

    best = tracklet.search_runs(filter_string="metrics.rmse < 0.6", order_by=["metrics.rmse ASC"])
    assert list(best["params.alpha"]) == ["0.9", "0.5"]
    runs = tracklet.search_runs(filter_string="params.alpha = '0.1'", output_format="list")
    assert [r.info.run_id for r in runs] == [ids[0]]
    assert runs[0].data.params == {"alpha": "0.1"}
    exp = tracklet.get_experiment(runs[0].info.experiment_id)
    assert len(tracklet.search_runs(experiment_names=[exp.name])) == 3
    assert tracklet.search_runs(experiment_names=["no-such-experiment"]).empty


def test_experiments_by_name_and_by_environment(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"exp-{uuid.uuid4().hex[:8]}"
    assert tracklet.get_experiment_by_name(name) is None
    exp_id = tracklet.create_experiment(name, tags={"k": "v"})
    exp = tracklet.get_experiment_by_name(name)
    assert exp is not None and exp.experiment_id == exp_id and exp.name == name
    with pytest.raises(errors.ResourceAlreadyExists):
        tracklet.create_experiment(name)
    assert tracklet.set_experiment(name).experiment_id == exp_id
    with tracklet.start_run() as run:
        pass
    assert run.info.experiment_id == exp_id

    env_name = f"env-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TRACKLET_EXPERIMENT_NAME", env_name)
    tracklet.set_tracking_uri(tracking_uri)  # forgets the experiment set above
    with tracklet.start_run() as run:
        pass
    created = tracklet.get_experiment_by_name(env_name)
    assert created is not None and run.info.experiment_id == created.experiment_id


def test_trials_in_parallel_threads_each_log_to_their_own_run(tracking_uri: str) -> None:
    """As with Optuna's n_jobs or a thread pool: runs are per thread, nested under the script's run."""
    from concurrent.futures import ThreadPoolExecutor

    def trial(i: int) -> str:
        with tracklet.start_run(run_name=f"trial-{i}", nested=True) as run:
            tracklet.log_param("alpha", i)
            for step in range(20):
                tracklet.log_metric("loss", i + step / 100, step=step)
            assert tracklet.active_run() is run
        return run.info.run_id

    with tracklet.start_run(run_name="study") as study:
        with ThreadPoolExecutor(4) as pool:
            trials = list(pool.map(trial, range(8)))
        assert tracklet.active_run() is study  # the workers' runs never showed in the main thread
    assert len(set(trials)) == 8
    for i, run_id in enumerate(trials):
        run = tracklet.get_run(run_id)
        assert run.info.status == "FINISHED" and run.info.run_name == f"trial-{i}"
        assert run.data.params == {"alpha": str(i)}
        assert run.data.tags["mlflow.parentRunId"] == study.info.run_id
        assert [p.value for p in tracklet.get_metric_history(run_id, "loss")] == [i + s / 100 for s in range(20)]
    assert tracklet.get_run(study.info.run_id).data.metrics == {}


def test_a_thread_without_a_run_logs_to_the_scripts_run(tracking_uri: str) -> None:
    import threading

    def callback() -> None:  # e.g. a framework's progress callback on its own thread
        tracklet.log_metric("throughput", 42.0)
        tracklet.set_tag("from", "callback")

    with tracklet.start_run() as run:
        worker = threading.Thread(target=callback)
        worker.start()
        worker.join()
    logged = tracklet.get_run(run.info.run_id)
    assert logged.data.metrics == {"throughput": 42.0} and logged.data.tags["from"] == "callback"


def test_separate_runs_in_threads_without_a_main_run(tracking_uri: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def trial(i: int) -> str:
        with tracklet.start_run(run_name=f"alone-{i}") as run:  # not nested: no error, no parent
            tracklet.log_metric("score", float(i))
        return run.info.run_id

    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(trial, range(3)))
    assert tracklet.active_run() is None
    for i, run_id in enumerate(runs):
        run = tracklet.get_run(run_id)
        assert run.data.metrics == {"score": float(i)} and "mlflow.parentRunId" not in run.data.tags
