"""Params, tags and metrics through the official client: immutability, truncation, history, latest value, batches."""

from __future__ import annotations

import math
import sys

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from tests.compat.conftest import error_code


@pytest.fixture
def run_id(mlflow_client, experiment_id):
    return mlflow_client.create_run(experiment_id).info.run_id


def _is_inf(value, sign=1):
    # MLflow's SQL store clamps ±inf to ±DBL_MAX; a store keeping real infinities is fine too.
    return value == sign * math.inf or value == sign * sys.float_info.max


# ---- params -----------------------------------------------------------------------------------


def test_params_are_stored_as_strings(mlflow_client, run_id):
    mlflow_client.log_param(run_id, "lr", 0.01)
    mlflow_client.log_param(run_id, "layers", 3)
    mlflow_client.log_param(run_id, "name with space", "x")
    mlflow_client.log_param(run_id, "empty", "")
    assert mlflow_client.get_run(run_id).data.params == {
        "lr": "0.01",
        "layers": "3",
        "name with space": "x",
        "empty": "",
    }


def test_relogging_the_same_param_value_is_fine(mlflow_client, run_id):
    mlflow_client.log_param(run_id, "alpha", "0.5")
    mlflow_client.log_param(run_id, "alpha", "0.5")
    mlflow_client.log_batch(run_id, params=[Param("alpha", "0.5")])
    assert mlflow_client.get_run(run_id).data.params == {"alpha": "0.5"}


def test_params_are_immutable(mlflow_client, run_id):
    mlflow_client.log_param(run_id, "alpha", "0.5")
    expected = (
        f"Changing param values is not allowed. Param with key='alpha' was already logged with value='0.5' "
        f"for run ID='{run_id}'. Attempted logging new value '0.7'."
    )
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.log_param(run_id, "alpha", "0.7")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert expected in excinfo.value.message
    assert mlflow_client.get_run(run_id).data.params == {"alpha": "0.5"}


def test_params_are_immutable_in_a_batch(mlflow_client, run_id):
    mlflow_client.log_batch(run_id, params=[Param("a", "1"), Param("b", "2")])
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.log_batch(run_id, params=[Param("a", "1"), Param("b", "3"), Param("c", "4")])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in excinfo.value.message
    assert "'b'" in excinfo.value.message
    # Nothing of the failed batch was written.
    assert mlflow_client.get_run(run_id).data.params == {"a": "1", "b": "2"}


def test_long_param_values_are_truncated(mlflow_client, run_id):
    mlflow_client.log_param(run_id, "long", "p" * 7000)
    mlflow_client.log_param(run_id, "exact", "q" * 6000)
    params = mlflow_client.get_run(run_id).data.params
    assert params["long"] == "p" * 6000
    assert params["exact"] == "q" * 6000
    # Comparison for immutability happens after truncation.
    mlflow_client.log_param(run_id, "long", "p" * 6500)


def test_long_tag_values_are_truncated(mlflow_client, run_id):
    mlflow_client.set_tag(run_id, "long", "t" * 9000)
    mlflow_client.log_batch(run_id, tags=[RunTag("batched", "u" * 8001)])
    tags = mlflow_client.get_run(run_id).data.tags
    assert tags["long"] == "t" * 8000
    assert tags["batched"] == "u" * 8000


def test_unicode_keys_and_values(mlflow_client, run_id):
    mlflow_client.log_param(run_id, "métrique_ü", "ümlaut ✓")
    mlflow_client.log_metric(run_id, "größe", 1.5)
    run = mlflow_client.get_run(run_id)
    assert run.data.params == {"métrique_ü": "ümlaut ✓"}
    assert run.data.metrics == {"größe": 1.5}


@pytest.mark.parametrize("bad_key", ["a*b", "../up", "/abs", "a//b", "trailing/", ".", "k" * 251])
def test_invalid_keys_are_rejected(mlflow_client, run_id, bad_key):
    for log in (
        lambda: mlflow_client.log_param(run_id, bad_key, "v"),
        lambda: mlflow_client.set_tag(run_id, bad_key, "v"),
        lambda: mlflow_client.log_metric(run_id, bad_key, 1.0),
    ):
        with pytest.raises(MlflowException) as excinfo:
            log()
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert mlflow_client.get_run(run_id).data.params == {}


def test_longest_key_is_accepted(mlflow_client, run_id):
    key = "k" * 250
    mlflow_client.log_param(run_id, key, "v")
    assert mlflow_client.get_run(run_id).data.params == {key: "v"}


# ---- metrics ----------------------------------------------------------------------------------


def test_metric_history_steps_and_order(mlflow_client, run_id):
    for step, (ts, value) in enumerate([(300, 0.3), (100, 0.1), (200, 0.2)]):
        mlflow_client.log_metric(run_id, "loss", value, timestamp=ts, step=step)
    history = mlflow_client.get_metric_history(run_id, "loss")
    # History is ordered by timestamp, then step, then value.
    assert [(m.timestamp, m.step, m.value) for m in history] == [(100, 1, 0.1), (200, 2, 0.2), (300, 0, 0.3)]
    assert all(m.key == "loss" for m in history)


def test_metric_history_of_unknown_key_is_empty(mlflow_client, run_id):
    assert mlflow_client.get_metric_history(run_id, "never-logged") == []


def test_metric_history_of_unknown_run_is_empty_as_in_mlflow(mlflow_client):
    # MLflow 3.17.2's server answers `{}` here (checked side by side: tests/compat/test_differential.py).
    assert mlflow_client.get_metric_history("0123456789abcdef0123456789abcdef", "m") == []


def test_latest_value_rule(mlflow_client, run_id):
    # Reference d.4: the latest value has the largest (step, timestamp, value).
    for step, ts, value in [(1, 100, 5.0), (2, 50, 9.0), (2, 40, 1.0), (2, 50, 3.0)]:
        mlflow_client.log_metric(run_id, "m", value, timestamp=ts, step=step)
    assert mlflow_client.get_run(run_id).data.metrics == {"m": 9.0}
    history = mlflow_client.get_metric_history(run_id, "m")
    assert [(m.timestamp, m.step, m.value) for m in history] == [
        (40, 2, 1.0),
        (50, 2, 3.0),
        (50, 2, 9.0),
        (100, 1, 5.0),
    ]


def test_latest_value_rule_in_one_batch(mlflow_client, run_id):
    points = [(1, 100, 5.0), (2, 50, 9.0), (2, 40, 1.0), (2, 50, 3.0)]
    mlflow_client.log_batch(run_id, metrics=[Metric("m", v, ts, step) for step, ts, v in points])
    assert mlflow_client.get_run(run_id).data.metrics == {"m": 9.0}
    # A later point with a smaller step does not become the latest value.
    mlflow_client.log_metric(run_id, "m", 100.0, timestamp=10_000, step=0)
    assert mlflow_client.get_run(run_id).data.metrics == {"m": 9.0}
    mlflow_client.log_metric(run_id, "m", -1.0, timestamp=1, step=3)
    assert mlflow_client.get_run(run_id).data.metrics == {"m": -1.0}


def test_exact_duplicate_points_are_ignored(mlflow_client, run_id):
    for _ in range(3):
        mlflow_client.log_metric(run_id, "dup", 1.0, timestamp=5, step=1)
    mlflow_client.log_metric(run_id, "dup", 2.0, timestamp=5, step=1)
    assert [m.value for m in mlflow_client.get_metric_history(run_id, "dup")] == [1.0, 2.0]


def test_nan_and_infinities(mlflow_client, run_id):
    mlflow_client.log_metric(run_id, "nan", math.nan, timestamp=1, step=0)
    mlflow_client.log_metric(run_id, "pinf", math.inf, timestamp=1, step=0)
    mlflow_client.log_metric(run_id, "ninf", -math.inf, timestamp=1, step=0)
    mlflow_client.log_batch(run_id, metrics=[Metric("batched-nan", math.nan, 1, 0)])
    metrics = mlflow_client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert math.isnan(metrics["batched-nan"])
    assert _is_inf(metrics["pinf"], 1)
    assert _is_inf(metrics["ninf"], -1)
    assert math.isnan(mlflow_client.get_metric_history(run_id, "nan")[0].value)
    assert _is_inf(mlflow_client.get_metric_history(run_id, "ninf")[0].value, -1)


def test_nan_after_a_real_value(mlflow_client, run_id):
    mlflow_client.log_metric(run_id, "m", 1.0, timestamp=1, step=0)
    mlflow_client.log_metric(run_id, "m", math.nan, timestamp=2, step=1)
    assert math.isnan(mlflow_client.get_run(run_id).data.metrics["m"])
    mlflow_client.log_metric(run_id, "m", 2.0, timestamp=3, step=2)
    assert mlflow_client.get_run(run_id).data.metrics["m"] == 2.0


def test_default_step_and_timestamp(mlflow_client, run_id):
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("auto", 1.0)
    (point,) = mlflow_client.get_metric_history(run_id, "auto")
    assert point.step == 0
    assert point.timestamp > 1_600_000_000_000


def test_large_steps_and_timestamps(mlflow_client, run_id):
    big = 2**53
    mlflow_client.log_metric(run_id, "big", 1.0, timestamp=big, step=big)
    mlflow_client.log_metric(run_id, "neg-step", 1.0, timestamp=1, step=-5)
    (point,) = mlflow_client.get_metric_history(run_id, "big")
    assert (point.timestamp, point.step) == (big, big)
    assert mlflow_client.get_metric_history(run_id, "neg-step")[0].step == -5


def test_long_history(mlflow_client, run_id):
    mlflow_client.log_batch(run_id, metrics=[Metric("curve", i / 10, 1000 + i, i) for i in range(1000)])
    history = mlflow_client.get_metric_history(run_id, "curve")
    assert [m.step for m in history] == list(range(1000))
    assert mlflow_client.get_run(run_id).data.metrics["curve"] == 99.9


# ---- log_batch --------------------------------------------------------------------------------


def test_log_batch_everything_at_once(mlflow_client, run_id):
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric("m1", 1.0, 10, 0), Metric("m2", 2.0, 10, 0)],
        params=[Param("p1", "a"), Param("p2", "b")],
        tags=[RunTag("t1", "x"), RunTag("t1", "y")],  # the last value of a key wins
    )
    data = mlflow_client.get_run(run_id).data
    assert data.metrics == {"m1": 1.0, "m2": 2.0}
    assert data.params == {"p1": "a", "p2": "b"}
    assert data.tags["t1"] == "y"


def test_empty_batch(mlflow_client, run_id):
    mlflow_client.log_batch(run_id)
    assert mlflow_client.get_run(run_id).data.metrics == {}


def test_client_splits_big_batches(mlflow_client, run_id):
    # The client cuts these into several requests within the server's limits (1000 metrics, 100 params).
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric("m", float(i), i, i) for i in range(2500)],
        params=[Param(f"p{i}", str(i)) for i in range(250)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(150)],
    )
    data = mlflow_client.get_run(run_id).data
    assert len(data.params) == 250
    assert len([k for k in data.tags if k.startswith("t")]) == 150
    assert len(mlflow_client.get_metric_history(run_id, "m")) == 2500


def test_duplicate_param_keys_in_a_batch(mlflow_client, run_id):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.log_batch(run_id, params=[Param("same", "1"), Param("same", "2")])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert "Duplicate parameter keys" in excinfo.value.message


def test_batch_errors_name_the_element(mlflow_client, run_id):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.log_batch(run_id, params=[Param("ok", "1"), Param("bad*key", "2")])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert "bad*key" in excinfo.value.message
    assert "params[1].key" in excinfo.value.message
    assert mlflow_client.get_run(run_id).data.params == {}


def test_log_batch_to_unknown_run(mlflow_client):
    with pytest.raises(MlflowException) as excinfo:
        mlflow_client.log_batch("0123456789abcdef0123456789abcdef", params=[Param("a", "1")])
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_async_logging(mlflow_client, run_id):
    with mlflow.start_run(run_id=run_id):
        for i in range(20):
            mlflow.log_metric("async", float(i), step=i, synchronous=False)
        mlflow.log_params({"a": "1", "b": "2"}, synchronous=False)
        mlflow.set_tags({"x": "y"}, synchronous=False)
        mlflow.flush_async_logging()
    run = mlflow_client.get_run(run_id)
    assert run.data.metrics["async"] == 19.0
    assert run.data.params == {"a": "1", "b": "2"}
    assert len(mlflow_client.get_metric_history(run_id, "async")) == 20


# ---- deleted runs -----------------------------------------------------------------------------


def test_writes_to_a_deleted_run_are_rejected(mlflow_client, run_id):
    mlflow_client.log_param(run_id, "before", "1")
    mlflow_client.delete_run(run_id)
    message = f"The run {run_id} must be in the 'active' state. Current state is deleted."
    writes = [
        lambda: mlflow_client.log_param(run_id, "p", "1"),
        lambda: mlflow_client.log_metric(run_id, "m", 1.0),
        lambda: mlflow_client.set_tag(run_id, "t", "v"),
        lambda: mlflow_client.delete_tag(run_id, "mlflow.runName"),
        lambda: mlflow_client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)]),
        lambda: mlflow_client.update_run(run_id, status="FINISHED"),
    ]
    for write in writes:
        with pytest.raises(MlflowException) as excinfo:
            write()
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
        assert message in excinfo.value.message
    # Reads still work.
    assert mlflow_client.get_run(run_id).data.params == {"before": "1"}
    mlflow_client.restore_run(run_id)
    mlflow_client.log_param(run_id, "after", "2")
