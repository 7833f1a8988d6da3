"""`tracklet experiments|runs|artifacts …` from a terminal, against a real server and the local store."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tracklet
from tracklet.cli import cli


def tracklet_cmd(uri: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [args[0], args[1], "--tracking-uri", uri, *args[2:]])


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_experiments_are_created_listed_renamed_deleted_and_restored(tracking_uri: str) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    experiment_id = ok(tracklet_cmd(tracking_uri, "experiments", "create", name)).strip()
    listed = ok(tracklet_cmd(tracking_uri, "experiments", "list"))
    assert listed.splitlines()[0].split() == ["ID", "NAME", "CREATED", "LAST", "UPDATE", "STAGE"]
    assert any(line.split()[:2] == [experiment_id, name] for line in listed.splitlines())

    ok(tracklet_cmd(tracking_uri, "experiments", "rename", experiment_id, f"{name}-renamed"))
    ok(tracklet_cmd(tracking_uri, "experiments", "delete", experiment_id))
    active = json.loads(ok(tracklet_cmd(tracking_uri, "experiments", "list", "--json")))
    assert experiment_id not in {e["experiment_id"] for e in active}
    deleted = json.loads(ok(tracklet_cmd(tracking_uri, "experiments", "list", "--view", "deleted", "--json")))
    assert {"experiment_id": experiment_id, "name": f"{name}-renamed"}.items() <= next(
        e for e in deleted if e["experiment_id"] == experiment_id
    ).items()
    ok(tracklet_cmd(tracking_uri, "experiments", "restore", experiment_id))
    filtered = json.loads(
        ok(tracklet_cmd(tracking_uri, "experiments", "list", "--filter", f"name = '{name}-renamed'", "--json"))
    )
    assert [e["experiment_id"] for e in filtered] == [experiment_id]


def test_runs_are_listed_with_chosen_columns_described_deleted_and_restored(tracking_uri: str) -> None:
    experiment_id = tracklet.set_experiment(f"cli-runs-{uuid.uuid4().hex[:8]}").experiment_id
    for rmse in (0.9, 0.5, 0.7):
        with tracklet.start_run(run_name=f"rmse-{rmse}"):
            tracklet.log_param("alpha", rmse / 2)
            tracklet.log_metric("rmse", rmse)
    listed = ok(tracklet_cmd(tracking_uri, "runs", "list", "--experiment-id", experiment_id, "--filter", "metrics.rmse < 0.8",
                             "--order-by", "metrics.rmse ASC", "--column", "metrics.rmse", "--column", "params.alpha"))  # fmt: skip
    lines = listed.splitlines()
    assert lines[0].split() == ["RUN", "ID", "NAME", "STATUS", "STARTED", "metrics.rmse", "params.alpha"]
    assert [line.split()[1] for line in lines[1:]] == ["rmse-0.5", "rmse-0.7"]
    assert [line.split()[-2:] for line in lines[1:]] == [["0.5", "0.25"], ["0.7", "0.35"]]

    runs = json.loads(ok(tracklet_cmd(tracking_uri, "runs", "list", "--experiment-id", experiment_id, "--json")))
    assert len(runs) == 3
    run_id = runs[0]["info"]["run_id"]
    described = json.loads(ok(tracklet_cmd(tracking_uri, "runs", "describe", run_id)))
    assert described["info"]["status"] == "FINISHED" and "rmse" in described["data"]["metrics"]

    ok(tracklet_cmd(tracking_uri, "runs", "delete", run_id))
    assert (
        len(json.loads(ok(tracklet_cmd(tracking_uri, "runs", "list", "--experiment-id", experiment_id, "--json")))) == 2
    )
    ok(tracklet_cmd(tracking_uri, "runs", "restore", run_id))
    assert (
        len(json.loads(ok(tracklet_cmd(tracking_uri, "runs", "list", "--experiment-id", experiment_id, "--json")))) == 3
    )


def test_a_runs_artifacts_are_uploaded_listed_and_downloaded(tracking_uri: str, tmp_path: Path) -> None:
    with tracklet.start_run() as run:
        pass
    run_id = run.info.run_id
    (tmp_path / "report.txt").write_text("accuracy 0.93")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "loss.csv").write_text("step,loss\n0,1.0\n")
    ok(tracklet_cmd(tracking_uri, "artifacts", "log", "--run-id", run_id, str(tmp_path / "report.txt")))
    ok(
        tracklet_cmd(
            tracking_uri, "artifacts", "log", "--run-id", run_id, "--artifact-path", "plots", str(tmp_path / "plots")
        )
    )
    top = ok(tracklet_cmd(tracking_uri, "artifacts", "list", "--run-id", run_id))
    assert [line.split()[0] for line in top.splitlines()[1:]] == ["plots/", "report.txt"]
    files = json.loads(
        ok(tracklet_cmd(tracking_uri, "artifacts", "list", "--run-id", run_id, "--path", "plots", "--json"))
    )
    assert files == [{"path": "plots/loss.csv", "is_dir": False, "file_size": 16}]
    local = ok(tracklet_cmd(tracking_uri, "artifacts", "download", "--run-id", run_id, "--path", "report.txt",
                            "--dst-path", str(tmp_path / "down"))).strip()  # fmt: skip
    assert Path(local).read_text() == "accuracy 0.93"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["experiments", "delete", "987654"], 1, "No Experiment with id=987654 exists"),
        (["runs", "describe", "0" * 32], 1, "not found"),
        (["runs", "list", "--experiment-id", "0", "--column", "rmse"], 2, "expected params.X, metrics.Y or tags.Z"),
        (["runs", "list", "--experiment-id", "0", "--filter", "metrics.rmse <"], 1, "Error:"),
    ],
)
def test_mistakes_are_one_line_errors(tracking_uri: str, args: list[str], code: int, message: str) -> None:
    result = tracklet_cmd(tracking_uri, *args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
