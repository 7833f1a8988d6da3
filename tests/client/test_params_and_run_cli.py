"""`tracklet.param()` and `tracklet run script.py -P name=value`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracklet
from tracklet import errors
from tracklet.client.run_cli import run_command

SRC = str(Path(tracklet.__file__).parents[1])

SCRIPT = """
import tracklet
alpha = tracklet.param("alpha", 0.5, "numeric")
epochs = tracklet.param("epochs", 3, "integer")
name = tracklet.param("name", "base")
shuffle = tracklet.param("shuffle", False, "boolean")
print("training", flush=True)
with tracklet.start_run() as run:
    for step in range(epochs):
        tracklet.log_metric("loss", alpha / (step + 1), step=step)
    if name == "crash":
        raise RuntimeError("training crashed")
print("RUN", run.info.run_id, type(alpha).__name__, type(epochs).__name__, shuffle)
"""


def test_param_returns_the_default_outside_tracklet_run() -> None:
    assert tracklet.param("alpha", 0.5, "numeric") == 0.5
    assert tracklet.param("n", 3) == 3
    assert tracklet.param("ratio", 1, "numeric") == 1.0 and isinstance(tracklet.param("ratio", 1, float), float)


def test_param_takes_command_line_values_converted_to_the_declared_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TRACKLET_PARAMS", json.dumps({"alpha": "0.3", "n": "7", "flag": "yes", "label": "x", "off": "0"})
    )
    assert tracklet.param("alpha", 0.5, "numeric") == 0.3
    assert tracklet.param("n", 3, "integer") == 7
    assert tracklet.param("flag", False, "boolean") is True
    assert tracklet.param("off", True) is False
    assert tracklet.param("label", "y", "string") == "x"
    assert tracklet.param("unset", 9) == 9


@pytest.mark.parametrize(
    ("given", "declared", "default"),
    [("abc", "numeric", 0.5), ("1.5", "integer", 1), ("maybe", "boolean", True)],
)
def test_param_type_errors_are_clear(
    monkeypatch: pytest.MonkeyPatch, given: str, declared: str, default: object
) -> None:
    monkeypatch.setenv("TRACKLET_PARAMS", json.dumps({"x": given}))
    with pytest.raises(errors.InvalidParameterValue, match=f"param 'x': command-line value '{given}' is not a valid"):
        tracklet.param("x", default, declared)


def test_param_rejects_an_unknown_type_name() -> None:
    with pytest.raises(errors.InvalidParameterValue, match="unknown type 'complex'"):
        tracklet.param("x", 1, "complex")


def test_declared_params_are_logged_to_the_run(remote: str) -> None:
    alpha = tracklet.param("alpha", 0.25, "numeric")
    with tracklet.start_run() as run:
        tracklet.param("late", "yes")
    assert alpha == 0.25
    assert tracklet.get_run(run.info.run_id).data.params == {"alpha": "0.25", "late": "yes"}


def _cli(args: list[str], uri: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=SRC, TRACKLET_TRACKING_URI=uri)
    return subprocess.run(
        [sys.executable, "-m", "tracklet.client.run_cli", *args],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip


def _run_id(stderr: str) -> str:
    line = [ln for ln in stderr.splitlines() if ln.startswith("tracklet run: run ")][-1]
    return line.split()[3]


def test_tracklet_run_passes_params_and_finishes_the_run(remote: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = _cli([str(script), "-P", "alpha=0.3", "-P", "epochs=2", "-P", "extra=1", "--experiment-name", "cli"],
               remote, tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "float int False" in out.stdout
    run_id = _run_id(out.stderr)
    assert f"RUN {run_id}" in out.stdout, "start_run() in the script did not attach to the run"
    run = tracklet.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.3", "epochs": "2", "name": "base", "shuffle": "False", "extra": "1"}
    assert [p.value for p in tracklet.get_metric_history(run_id, "loss")] == [0.3, 0.15]
    exp = tracklet.get_experiment_by_name("cli")
    assert exp is not None and run.info.experiment_id == exp.experiment_id


def test_tracklet_run_marks_a_crashing_script_failed(remote: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = _cli([str(script), "-P", "name=crash"], remote, tmp_path)
    assert out.returncode == 1
    assert tracklet.get_run(_run_id(out.stderr)).info.status == "FAILED"


def test_tracklet_run_type_error_stops_before_training(remote: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = _cli([str(script), "-P", "epochs=many"], remote, tmp_path)
    assert out.returncode != 0
    assert "param 'epochs': command-line value 'many' is not a valid int" in out.stderr
    assert "training" not in out.stdout
    run = tracklet.get_run(_run_id(out.stderr))
    assert run.info.status == "FAILED" and "loss" not in run.data.metrics


def test_run_command_is_a_click_command(remote: str, tmp_path: Path) -> None:
    script = tmp_path / "noop.py"
    script.write_text("import tracklet\ntracklet.param('k', 'v')\n")
    result = CliRunner().invoke(run_command, [str(script), "-P", "k=w", "--tracking-uri", remote])
    assert result.exit_code == 0, result.output
    assert tracklet.get_run(_run_id(result.output)).data.params == {"k": "w"}
    bad = CliRunner().invoke(run_command, [str(script), "-P", "novalue", "--tracking-uri", remote])
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.output
