"""System metrics of a run (`start_run(log_system_metrics=True)`): what the machine does while a run trains.

A daemon thread samples CPU, memory, disk and network every `interval` seconds (psutil) and, every
`samples_before_logging` samples, queues their means as metrics under MLflow's names
(`system/cpu_utilization_percentage`, …) with the count of logs so far as the step, so MLflow's UI and
tracklet's chart them as it does. Logging goes through the client's background logger: sampling never
waits for the server, and the training thread never waits for sampling.

psutil is an optional dependency (`pip install "tracklet[system-metrics]"`); without it a run says so once
in a warning and logs no system metrics.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

PREFIX = "system/"
DEFAULT_INTERVAL = 10.0  # seconds, as MLflow's default
MB = 1024 * 1024

# MLflow's settings are honoured (a team switching keeps its environment); tracklet's win when both are set.
ENABLE_ENV = ("TRACKLET_ENABLE_SYSTEM_METRICS_LOGGING", "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING")
INTERVAL_ENV = ("TRACKLET_SYSTEM_METRICS_SAMPLING_INTERVAL", "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL")
SAMPLES_ENV = ("TRACKLET_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING")


def _env(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


class Settings:
    """Process-wide defaults, changed by `enable_system_metrics_logging()` and friends or the environment."""

    def __init__(self) -> None:
        self.enabled: bool | None = None  # None: the environment decides
        self.interval: float | None = None
        self.samples_before_logging: int | None = None

    def wanted(self, asked: bool | None) -> bool:
        if asked is not None:
            return asked
        if self.enabled is not None:
            return self.enabled
        return (_env(ENABLE_ENV) or "").strip().lower() in ("1", "true", "yes", "on")

    def sampling(self) -> tuple[float, int]:
        interval = self.interval if self.interval is not None else float(_env(INTERVAL_ENV) or DEFAULT_INTERVAL)
        samples = self.samples_before_logging
        if samples is None:
            samples = int(_env(SAMPLES_ENV) or 1)
        return interval, samples


settings = Settings()


def enable_system_metrics_logging() -> None:
    """Log system metrics (CPU, memory, disk, network: `system/…`) of every run started from now on."""
    settings.enabled = True


def disable_system_metrics_logging() -> None:
    """Stop logging system metrics for runs started from now on (unless `start_run` asks for them)."""
    settings.enabled = False


def set_system_metrics_sampling_interval(interval: float) -> None:
    """Seconds between two samples of the system metrics of runs started from now on (default 10)."""
    settings.interval = check_interval(interval)


def set_system_metrics_samples_before_logging(samples: int) -> None:
    """How many samples are averaged into each logged value (default 1)."""
    settings.samples_before_logging = check_samples(samples)


def check_interval(seconds: float) -> float:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not seconds > 0:
        raise ValueError(f"The sampling interval must be a positive number of seconds, got {seconds!r}")
    return float(seconds)


def check_samples(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"The number of samples before logging must be a positive integer, got {n!r}")
    return n


class Sampler:
    """One reading of the machine, as {metric name: value}; network counts from the sampler's creation."""

    def __init__(self, psutil: Any, disk_path: str = os.sep) -> None:
        self.psutil = psutil
        self.disk_path = disk_path
        net = psutil.net_io_counters()
        self._net0 = (net.bytes_recv, net.bytes_sent) if net else (0, 0)
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def sample(self) -> dict[str, float]:
        ps = self.psutil
        memory = ps.virtual_memory()
        disk = ps.disk_usage(self.disk_path)
        values = {
            "cpu_utilization_percentage": ps.cpu_percent(interval=None),
            "system_memory_usage_megabytes": (memory.total - memory.available) / MB,
            "system_memory_usage_percentage": memory.percent,
            "disk_usage_percentage": disk.percent,
            "disk_usage_megabytes": disk.used / MB,
            "disk_available_megabytes": disk.free / MB,
        }
        net = ps.net_io_counters()
        if net:
            values["network_receive_megabytes"] = (net.bytes_recv - self._net0[0]) / MB
            values["network_transmit_megabytes"] = (net.bytes_sent - self._net0[1]) / MB
        return values


class SystemMetricsMonitor:
    """Samples the machine on a daemon thread and hands the means to `log(metrics, step)` until stopped."""

    def __init__(
        self,
        log: Callable[[dict[str, float], int], None],
        interval: float = DEFAULT_INTERVAL,
        samples_before_logging: int = 1,
        psutil: Any = None,
    ) -> None:
        self._log = log
        self.interval = check_interval(interval)
        self.samples_before_logging = check_samples(samples_before_logging)
        self._sampler = Sampler(psutil)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tracklet-system-metrics", daemon=True)
        self.logged = 0  # how many times metrics were logged: the next step

    def start(self) -> SystemMetricsMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (a partial set of samples is logged too), and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(5.0, self.interval))

    def _loop(self) -> None:
        samples: list[dict[str, float]] = []
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            samples.append(self._sampler.sample())
            if len(samples) >= self.samples_before_logging:
                self._flush(samples)
                samples = []
        if samples:
            self._flush(samples)

    def _flush(self, samples: list[dict[str, float]]) -> None:
        keys = set().union(*samples)
        means = {
            PREFIX + key: sum(s[key] for s in samples if key in s) / sum(1 for s in samples if key in s) for key in keys
        }
        try:
            self._log(means, self.logged)
        except Exception as err:  # a failure to log must not end the thread, nor the training
            warnings.warn(f"tracklet could not log system metrics: {err}", RuntimeWarning, stacklevel=1)
        self.logged += 1


def start_monitor(log: Callable[[dict[str, float], int], None]) -> SystemMetricsMonitor | None:
    """A running monitor with the process's settings, or None (and a warning) without psutil."""
    try:
        import psutil
    except ImportError:
        warnings.warn(
            'System metrics need psutil: pip install "tracklet[system-metrics]". This run logs none.',
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    interval, samples = settings.sampling()
    return SystemMetricsMonitor(log, interval, samples, psutil).start()
