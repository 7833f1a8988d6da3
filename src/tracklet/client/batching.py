"""Non-blocking logging: callers append to a bounded queue, one daemon thread sends `log-batch` requests.

The caller's cost is a tuple and a `deque.append` (atomic under the GIL, so no lock on the hot path).
The sender wakes on an `Event`, drains everything queued and groups it per run. Metric points go to
tracklet's bulk endpoint (`/api/tracklet/runs/log-points`: parallel columns, up to 20,000 points a
request, in the order they were logged); params and tags go to `log-batch`, cut within MLflow's limits
(`client.split_batch`) in queue order. A server without the bulk endpoint (MLflow) gets the points
through `log-batch` too. Fewer requests matter twice here: each one costs the server its parsing, and
each wake-up of this thread waits for the GIL while the caller's loop holds it.

Failures are never dropped silently:
- connection errors and 5xx are retried with backoff for `retry_seconds` (a restarting server loses
  nothing; the queue fills meanwhile and callers wait when it is full);
- a rejected request (4xx) is bisected down to the entry the server refuses, every other entry still
  gets logged, and the error, naming the key, is raised on the caller's thread at the next log call,
  `flush()` or `end_run`.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import time
import weakref
from typing import Any

from tracklet import errors
from tracklet.client.runs import API, json_float, split_batch
from tracklet.client.transport import Transport

__all__ = ["BatchLogger", "LoggingRejected", "LIVE_LOGGERS"]

METRIC, PARAM, TAG, MARKER = 0, 1, 2, 3
_KIND_NAME = {METRIC: "metric", PARAM: "param", TAG: "tag"}
_DRAIN_MAX = 20_000  # items taken off the queue per round: bounds the sender's working set
_POINTS_PER_REQUEST = 20_000  # the server's limit for log-points (`server/api/points.py`)
_LOG_POINTS = "/api/tracklet/runs/log-points"


# Loggers that still may hold queued entries; drained at interpreter exit (see fluent._at_exit).
LIVE_LOGGERS: weakref.WeakSet[BatchLogger] = weakref.WeakSet()


class LoggingRejected(errors.InvalidParameterValue):
    """A queued log_param/log_metric/set_tag was refused by the server (raised at the next call)."""


class BatchLogger:
    """The background sender of one client. Thread-safe; one per `TrackletClient`."""

    def __init__(self, transport: Transport, *, max_queue: int | None = None, retry_seconds: float | None = None):
        self._transport = transport
        self.max_queue = max_queue or int(os.environ.get("TRACKLET_ASYNC_QUEUE_SIZE", "100000"))
        self.retry_seconds = (
            retry_seconds if retry_seconds is not None else float(os.environ.get("TRACKLET_ASYNC_RETRY_SECONDS", "600"))
        )
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._errors: list[errors.TrackletError] = []
        self._errors_lock = threading.Lock()
        self._dead_runs: set[str] = set()
        self._closed = False
        self.requests_sent = 0
        self._bulk_points = True  # until a server answers that it has no log-points endpoint
        self._thread = threading.Thread(target=self._run, name="tracklet-batch-sender", daemon=True)
        self._thread.start()
        LIVE_LOGGERS.add(self)

    # -- caller side (hot path) ---------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> None:
        if self._errors:
            self.raise_errors()
        q = self._queue
        q.append((METRIC, run_id, key, value, timestamp, step))
        if len(q) >= self.max_queue:
            self._wait_for_room()
        if not self._wake.is_set():
            self._wake.set()

    def log_param(self, run_id: str, key: str, value: str) -> None:
        self._put((PARAM, run_id, key, value))

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._put((TAG, run_id, key, value))

    def log_many(self, items: list[tuple[Any, ...]]) -> None:
        """Enqueue pre-built items `(kind, run_id, key, value[, timestamp, step])` in order."""
        if self._errors:
            self.raise_errors()
        self._queue.extend(items)
        if len(self._queue) >= self.max_queue:
            self._wait_for_room()
        if not self._wake.is_set():
            self._wake.set()

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._errors:
            self.raise_errors()
        self._queue.append(item)
        if len(self._queue) >= self.max_queue:
            self._wait_for_room()
        if not self._wake.is_set():
            self._wake.set()

    def _wait_for_room(self) -> None:
        # Backpressure keeps memory bounded; rare, so a short sleep loop beats a lock on the hot path.
        if self._closed:
            raise errors.InvalidState("tracklet's logger is closed")
        while len(self._queue) >= self.max_queue and self._thread.is_alive():
            self._wake.set()
            time.sleep(0.001)

    def flush(self, timeout: float | None = None, raise_errors: bool = True) -> bool:
        """Wait until everything queued so far is sent; raise what the server rejected meanwhile.

        Returns False if `timeout` passed first.
        """
        done = threading.Event()
        self._queue.append((MARKER, done))
        self._wake.set()
        finished = done.wait(timeout)
        if raise_errors:
            self.raise_errors()
        return finished

    def raise_errors(self) -> None:
        with self._errors_lock:
            if not self._errors:
                return
            first, rest = self._errors[0], self._errors[1:]
            self._errors = []
        if rest:
            more = "; ".join(e.message for e in rest[:5])
            raise type(first)(f"{first.message} (and {len(rest)} more: {more})")
        raise first

    def pending(self) -> int:
        return len(self._queue)

    def close(self, timeout: float | None = None) -> None:
        """Drain, then stop the sender thread (pending errors are raised)."""
        if self._closed:
            return
        self.flush(timeout, raise_errors=False)
        self._closed = True
        self._wake.set()
        self._thread.join(1.0)
        LIVE_LOGGERS.discard(self)
        self.raise_errors()

    # -- sender thread ------------------------------------------------------------------------

    def _run(self) -> None:
        q = self._queue
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            while q:
                items: list[tuple[Any, ...]] = []
                marker = None
                while q and len(items) < _DRAIN_MAX:
                    item = q.popleft()
                    if item[0] == MARKER:
                        marker = item[1]
                        break
                    items.append(item)
                try:
                    self._send(items)
                except BaseException as exc:  # the sender must survive anything, or flush() would hang
                    self._record(errors.TrackletError(f"tracklet's background logger failed: {exc!r}"))
                if marker is not None:
                    marker.set()
            if self._closed:
                return

    def _send(self, items: list[tuple[Any, ...]]) -> None:
        # Group per run, keeping queue order inside each group.
        groups: dict[str, tuple[list[tuple[Any, ...]], list[dict[str, Any]], list[dict[str, Any]]]] = {}
        for item in items:
            kind, run_id = item[0], item[1]
            if run_id in self._dead_runs:
                continue
            group = groups.get(run_id)
            if group is None:
                group = groups[run_id] = ([], [], [])
            if kind == METRIC:
                group[0].append(item)
            elif kind == PARAM:
                group[1].append({"key": item[2], "value": item[3]})
            else:
                group[2].append({"key": item[2], "value": item[3]})
        for run_id, (points, params, tags) in groups.items():
            left = []
            for start in range(0, len(points), _POINTS_PER_REQUEST):
                left += self._post_points(run_id, points[start : start + _POINTS_PER_REQUEST])
            metrics = [{"key": p[2], "value": json_float(p[3]), "timestamp": p[4], "step": p[5]} for p in left]
            for m, p, t in split_batch(metrics, _dedupe_params(params), tags):
                self._post(run_id, m, p, t)

    def _post_points(self, run_id: str, points: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Send metric points as columns; returns those still to send through `log-batch` (all of them
        when the server lacks the endpoint, or when it refused the request: log-batch's bisection then
        finds the refused points and logs the others)."""
        if not self._bulk_points or run_id in self._dead_runs:
            return points
        _, _, keys, values, timestamps, steps = zip(*points, strict=True)
        if not all(map(math.isfinite, values)):
            values = tuple(map(json_float, values))
        body = {"run_id": run_id, "key": keys, "value": values, "timestamp": timestamps, "step": steps}
        try:
            self._transport.post(_LOG_POINTS, body, retry_seconds=self.retry_seconds)
            self.requests_sent += 1
            return []
        except errors.EndpointNotFound:
            self._bulk_points = False  # an MLflow server: log-batch from now on
            return points
        except errors.TrackletError as exc:
            return [] if self._settled(run_id, exc, len(points)) else points

    def _post(self, run_id: str, m: list[dict[str, Any]], p: list[dict[str, Any]], t: list[dict[str, Any]]) -> None:
        if run_id in self._dead_runs:
            return
        body = {"run_id": run_id, "metrics": m, "params": p, "tags": t}
        try:
            self._transport.post(f"{API}/runs/log-batch", body, retry_seconds=self.retry_seconds)
            self.requests_sent += 1
        except errors.TrackletError as exc:
            if self._settled(run_id, exc, len(m) + len(p) + len(t)):
                return
            entries = [(METRIC, x) for x in m] + [(PARAM, x) for x in p] + [(TAG, x) for x in t]
            if len(entries) == 1:
                kind, entry = entries[0]
                self._record(
                    LoggingRejected(
                        f"{_KIND_NAME[kind]} {entry['key']!r} (value {entry['value']!r}) for run {run_id} "
                        f"was rejected: {exc.message}"
                    )
                )
                return
            # Bisect to find the refused entries; every other entry still gets logged, in order.
            half = len(entries) // 2
            for part in (entries[:half], entries[half:]):
                self._post(
                    run_id,
                    [x for k, x in part if k == METRIC],
                    [x for k, x in part if k == PARAM],
                    [x for k, x in part if k == TAG],
                )

    def _settled(self, run_id: str, exc: errors.TrackletError, n: int) -> bool:
        """Record a failure that is not about the entries themselves (the server stayed away for the whole
        retry budget, or the run takes no more writes) and say so; False when the server refused entries."""
        if isinstance(exc, errors.TemporarilyUnavailable):
            self._record(
                errors.TemporarilyUnavailable(f"{n} entries for run {run_id} could not be sent: {exc.message}")
            )
            return True
        if (
            isinstance(exc, errors.ResourceDoesNotExist | errors.InvalidState)
            or "must be in the 'active' state" in exc.message
        ):
            self._run_rejected(run_id, exc)
            return True
        return False

    def _run_rejected(self, run_id: str, exc: errors.TrackletError) -> None:
        self._dead_runs.add(run_id)
        self._record(type(exc)(f"logging to run {run_id} was rejected: {exc.message}"))

    def _record(self, exc: errors.TrackletError) -> None:
        with self._errors_lock:
            self._errors.append(exc)


def _dedupe_params(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop exact repeats (the server would reject a repeated key inside one request)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in params:
        kv = (p["key"], p["value"])
        if kv not in seen:
            seen.add(kv)
            out.append(p)
    return out
