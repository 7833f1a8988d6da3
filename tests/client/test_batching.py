"""Non-blocking logging: completeness and order, rejected writes, a frozen server, and a server restart."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import tracklet
from tracklet import errors
from tracklet.client import fluent
from tracklet.client.batching import LoggingRejected

from .conftest import ServerProcess


def test_100k_points_arrive_complete_and_in_order_after_end_run(remote: str) -> None:
    n = 100_000
    with tracklet.start_run() as run:
        start = time.perf_counter()
        for i in range(n):
            tracklet.log_metric("loss", float(n - i), step=i)
        tracklet.log_metric("other", 1.0)
        enqueue_seconds = time.perf_counter() - start
    history = tracklet.get_metric_history(run.info.run_id, "loss")
    assert len(history) == n
    assert [p.step for p in sorted(history, key=lambda p: (p.timestamp, p.step))] == list(range(n))
    assert all(p.value == float(n - p.step) for p in history)
    assert tracklet.get_run(run.info.run_id).data.metrics == {"loss": 1.0, "other": 1.0}
    assert enqueue_seconds < 10  # the caller never waited for the server (~1k requests)
    logger = run.client.logger  # type: ignore[union-attr]
    assert logger.requests_sent < n / 100, "points were not coalesced into batches"


def test_log_metric_does_not_wait_for_a_frozen_server(own_server: ServerProcess) -> None:
    """The training loop goes on while the server answers nothing at all (its processes stopped)."""
    tracklet.set_tracking_uri(own_server.url)
    tracklet.set_experiment("frozen")
    n = 20_000
    with tracklet.start_run() as run:
        tracklet.flush()  # the run exists before the server freezes
        assert own_server.proc is not None
        os.killpg(own_server.proc.pid, signal.SIGSTOP)
        try:
            loop = threading.Thread(target=lambda: [tracklet.log_metric("m", float(i), step=i) for i in range(n)])
            loop.start()
            loop.join(timeout=60)
            assert not loop.is_alive(), "log_metric blocked on a server that does not answer"
            logger = run.client.logger  # type: ignore[union-attr]
            assert logger.pending() > 0, "the points cannot have reached a stopped server"
        finally:
            os.killpg(own_server.proc.pid, signal.SIGCONT)
    assert sorted(p.step for p in tracklet.get_metric_history(run.info.run_id, "m")) == list(range(n))


def test_a_rejected_param_is_raised_at_end_run_naming_the_key(remote: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="'alpha'"):
        with tracklet.start_run() as run:
            tracklet.log_param("alpha", 0.5)
            tracklet.log_metric("before", 1.0)
            tracklet.log_param("alpha", 0.3)  # changing a param is refused by the server
            tracklet.log_metric("after", 2.0)
    stored = tracklet.get_run(run.info.run_id)
    assert stored.data.params == {"alpha": "0.5"}
    assert stored.data.metrics == {"before": 1.0, "after": 2.0}, "the other entries of the batch were lost"
    assert stored.info.status == "FINISHED"
    assert tracklet.active_run() is None


def test_a_rejected_write_is_raised_at_the_next_call(remote: str) -> None:
    with tracklet.start_run() as run:
        tracklet.log_param("p", "a")
        tracklet.flush()
        tracklet.log_param("p", "b")
        logger = run.client.logger  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while not logger._errors and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(LoggingRejected, match="param 'p'"):
            tracklet.log_metric("x", 1.0)
        tracklet.log_metric("x", 2.0)  # reported once; logging goes on


def test_invalid_values_fail_on_the_callers_thread(remote: str) -> None:
    with tracklet.start_run():
        with pytest.raises((TypeError, ValueError)):
            tracklet.log_metric("x", "not a number")  # type: ignore[arg-type]


def test_queue_is_bounded(remote: str) -> None:
    with tracklet.start_run() as run:
        logger = run.client.logger  # type: ignore[union-attr]
        old = logger.max_queue
        logger.max_queue = 500
        try:
            peak = 0
            for i in range(5000):
                tracklet.log_metric("m", float(i), step=i)
                peak = max(peak, logger.pending())
            assert peak <= 501
        finally:
            logger.max_queue = old
    assert len(tracklet.get_metric_history(run.info.run_id, "m")) == 5000


def test_a_server_restart_in_the_middle_of_logging_loses_nothing(own_server: ServerProcess) -> None:
    tracklet.set_tracking_uri(own_server.url)
    tracklet.set_experiment("restart")
    n = 3000
    with tracklet.start_run() as run:
        for i in range(n):  # no flush: requests are in flight when the server goes away
            tracklet.log_metric("m", float(i), step=i)
        own_server.stop()
        start = time.perf_counter()
        for i in range(n, 2 * n):  # server down: still returns at once
            tracklet.log_metric("m", float(i), step=i)
        tracklet.log_param("p", "kept")
        assert time.perf_counter() - start < 5
        restarter = threading.Thread(target=own_server.start)
        restarter.start()
        for i in range(2 * n, 3 * n):  # while it boots
            tracklet.log_metric("m", float(i), step=i)
            if i % 100 == 0:
                time.sleep(0.001)
        restarter.join()
    history = tracklet.get_metric_history(run.info.run_id, "m")
    assert sorted(p.step for p in history) == list(range(3 * n))
    assert [p.step for p in sorted(history, key=lambda p: (p.timestamp, p.step))] == list(range(3 * n))
    stored = tracklet.get_run(run.info.run_id)
    assert stored.data.params == {"p": "kept"} and stored.info.status == "FINISHED"
    assert not fluent._state.runs


EXIT_SCRIPT = """
import sys, tracklet
tracklet.set_tracking_uri(sys.argv[1])
tracklet.set_experiment("exit")
run = tracklet.start_run()
print(run.info.run_id, flush=True)
for i in range(20_000):
    tracklet.log_metric("m", float(i), step=i)
if sys.argv[2] == "crash":
    raise RuntimeError("uncaught")
"""


@pytest.mark.parametrize(("mode", "status", "code"), [("ok", "FINISHED", 0), ("crash", "FAILED", 1)])
def test_interpreter_exit_drains_the_queue_and_ends_the_run(
    remote: str,
    tmp_path,
    mode: str,
    status: str,
    code: int,  # type: ignore[no-untyped-def]
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(Path(tracklet.__file__).parents[1]))
    out = subprocess.run([sys.executable, str(script), remote, mode], env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == code, out.stderr
    run_id = out.stdout.split()[0]
    assert len(tracklet.get_metric_history(run_id, "m")) == 20_000
    assert tracklet.get_run(run_id).info.status == status


def test_metric_points_travel_in_bulk_requests_of_columns(remote: str) -> None:
    n = 50_000
    with tracklet.start_run() as run:
        logger = run.client.logger  # type: ignore[union-attr]
        sent_before = logger.requests_sent  # the logger is shared with earlier runs of this client
        for i in range(n):
            tracklet.log_metric("loss", 1.0 / (i + 1), step=i)
        tracklet.log_metric("loss", float("nan"), step=n)  # NaN travels as a string in a column too
    requests = logger.requests_sent - sent_before
    assert requests < n // 1000, f"{requests} requests for {n} points: log-batch would need at least 50"
    history = sorted(tracklet.get_metric_history(run.info.run_id, "loss"), key=lambda p: p.step)
    assert [p.step for p in history] == list(range(n + 1))
    assert all(p.value == 1.0 / (p.step + 1) for p in history[:n])
    assert history[n].value != history[n].value


def test_a_point_refused_inside_a_bulk_request_is_named_and_the_others_are_logged(remote: str) -> None:
    with pytest.raises(LoggingRejected, match="'bad key!'"):
        with tracklet.start_run() as run:
            for i in range(3000):
                tracklet.log_metric("good", float(i), step=i)
                if i == 1234:
                    tracklet.log_metric("bad key!", 1.0, step=i)  # the server refuses this name
    assert len(tracklet.get_metric_history(run.info.run_id, "good")) == 3000
    assert tracklet.get_run(run.info.run_id).data.metrics == {"good": 2999.0}


@pytest.mark.slow
def test_an_mlflow_server_gets_the_points_through_log_batch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = ServerProcess(tmp_path / "mlflow", mlflow=True)  # has no bulk endpoint
    server.start(timeout=300)
    try:
        tracklet.set_tracking_uri(server.url)
        with tracklet.start_run() as run:
            for i in range(2500):
                tracklet.log_metric("loss", float(i), step=i)
            tracklet.set_tag("phase", "done")
        logger = run.client.logger  # type: ignore[union-attr]
        assert logger._bulk_points is False
        assert len(tracklet.get_metric_history(run.info.run_id, "loss")) == 2500
        assert tracklet.get_run(run.info.run_id).data.tags["phase"] == "done"
    finally:
        server.stop()


def test_interpreter_exit_drains_the_queue_into_the_local_store_quietly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """At exit the store's thread pool takes no more work: the last batches still land, without the
    server side of the in-process store reporting errors (before: thousands of lines of tracebacks)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    store = str(tmp_path / "store")
    env = dict(os.environ, PYTHONPATH=str(Path(tracklet.__file__).parents[1]))
    out = subprocess.run([sys.executable, str(script), store, "ok"], env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0 and "Unexpected error" not in out.stderr, out.stderr[-3000:]
    tracklet.set_tracking_uri(store)
    run_id = out.stdout.split()[0]
    assert len(tracklet.get_metric_history(run_id, "m")) == 20_000
    assert tracklet.get_run(run_id).info.status == "FINISHED"
