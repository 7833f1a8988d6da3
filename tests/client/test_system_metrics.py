"""System metrics of a run: the machine sampled on a thread of its own, the means logged under MLflow's
names (`system/…`) with the count of logs as the step."""

from __future__ import annotations

import sys
import threading
import time

import psutil
import pytest

import tracklet
from tracklet.client.system_metrics import SystemMetricsMonitor, check_interval, check_samples

NAMES = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
}


class Recorder:
    def __init__(self) -> None:
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.threads: set[str] = set()

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        self.logs.append((step, metrics))
        self.threads.add(threading.current_thread().name)


def test_a_monitor_logs_the_machines_figures_under_mlflows_names_step_after_step() -> None:
    recorded = Recorder()
    monitor = SystemMetricsMonitor(recorded, interval=0.05, samples_before_logging=2, psutil=psutil).start()
    time.sleep(0.6)
    monitor.stop()
    steps = [step for step, _ in recorded.logs]
    assert len(steps) >= 3 and steps == list(range(len(steps)))
    assert recorded.threads == {"tracklet-system-metrics"}  # never the caller's thread
    for _, metrics in recorded.logs:
        assert set(metrics) == NAMES
        assert 0 <= metrics["system/cpu_utilization_percentage"] <= 100 * psutil.cpu_count()
        assert 0 < metrics["system/system_memory_usage_percentage"] < 100
        total_mb = psutil.virtual_memory().total / 1024 / 1024
        assert 0 < metrics["system/system_memory_usage_megabytes"] < total_mb
        assert metrics["system/disk_available_megabytes"] > 0
        assert metrics["system/network_receive_megabytes"] >= 0  # counted from the start of the run


def test_samples_are_averaged_and_a_partial_set_is_logged_when_the_run_ends() -> None:
    recorded = Recorder()
    monitor = SystemMetricsMonitor(recorded, interval=0.05, samples_before_logging=1000, psutil=psutil).start()
    time.sleep(0.3)
    assert recorded.logs == []  # still collecting
    monitor.stop()
    assert [step for step, _ in recorded.logs] == [0]
    assert not monitor._thread.is_alive()


def test_a_failing_log_warns_and_sampling_goes_on() -> None:
    calls = []

    def failing(metrics: dict[str, float], step: int) -> None:
        calls.append(step)
        raise ConnectionError("server gone")

    with pytest.warns(RuntimeWarning, match="could not log system metrics: server gone"):
        monitor = SystemMetricsMonitor(failing, interval=0.05, psutil=psutil).start()
        time.sleep(0.4)
        monitor.stop()
    assert len(calls) >= 3 and calls == list(range(len(calls)))


@pytest.mark.parametrize("interval", [0, -1, "10", True])
def test_a_bad_interval_is_refused(interval: object) -> None:
    with pytest.raises(ValueError, match="sampling interval must be a positive number"):
        check_interval(interval)  # type: ignore[arg-type]


@pytest.mark.parametrize("samples", [0, -2, 1.5, "3"])
def test_a_bad_sample_count_is_refused(samples: object) -> None:
    with pytest.raises(ValueError, match="samples before logging must be a positive integer"):
        check_samples(samples)  # type: ignore[arg-type]


def system_history(run_id: str, key: str = "system/cpu_utilization_percentage") -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in tracklet.get_metric_history(run_id, key)]


def test_a_run_started_with_log_system_metrics_charts_the_machine(tracking_uri: str) -> None:
    tracklet.set_system_metrics_sampling_interval(0.1)
    with tracklet.start_run(log_system_metrics=True) as run:
        tracklet.log_metric("loss", 0.5)
        time.sleep(0.7)
    points = system_history(run.info.run_id)
    assert len(points) >= 4 and [step for step, _ in points] == list(range(len(points)))
    memory = system_history(run.info.run_id, "system/system_memory_usage_megabytes")
    assert len(memory) == len(points) and all(value > 0 for _, value in memory)
    assert set(tracklet.get_run(run.info.run_id).data.metrics) == NAMES | {"loss"}
    time.sleep(0.3)  # the monitor stopped with the run: nothing more arrives
    assert len(system_history(run.info.run_id)) == len(points)


def test_system_metrics_follow_mlflows_environment_and_the_explicit_choice_wins(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.1")
    with tracklet.start_run() as by_env:
        time.sleep(0.35)
    with tracklet.start_run(log_system_metrics=False) as declined:
        time.sleep(0.35)
    tracklet.disable_system_metrics_logging()
    with tracklet.start_run() as disabled:
        time.sleep(0.35)
    assert len(system_history(by_env.info.run_id)) >= 2
    assert system_history(declined.info.run_id) == [] and system_history(disabled.info.run_id) == []


def test_without_psutil_a_run_says_so_and_logs_the_rest(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # as if it were not installed
    with pytest.warns(RuntimeWarning, match='System metrics need psutil: pip install "tracklet\\[system-metrics\\]"'):
        run = tracklet.start_run(log_system_metrics=True)
    tracklet.log_metric("loss", 0.5)
    tracklet.end_run()
    assert set(tracklet.get_run(run.info.run_id).data.metrics) == {"loss"}


def test_bad_settings_are_refused_by_the_setters() -> None:
    with pytest.raises(ValueError):
        tracklet.set_system_metrics_sampling_interval(0)
    with pytest.raises(ValueError):
        tracklet.set_system_metrics_samples_before_logging(0)
