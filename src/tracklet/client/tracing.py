"""Tracing: `@tracklet.trace` and `tracklet.start_span` record a call, and the traced calls inside it, as
a trace of spans, as MLflow's `@mlflow.trace` and `mlflow.start_span` do. The traced call never waits for
the network: when its outermost span ends, the trace is queued and a background thread sends it as
OTLP's JSON to the server's `/v1/traces` (the server merges spans that arrive late, from threads that
outlive the call, into the same trace).

Spans carry MLflow's own attributes (`mlflow.spanInputs`, `mlflow.spanOutputs`, `mlflow.spanType`, as
JSON texts), so MLflow's client and tracklet's UI read inputs, outputs and types as they read MLflow's;
`update_current_trace(tags=…)` sets `mlflow.traceTag.*` attributes on the root, which become trace tags.
The trace goes to the active run's experiment (and is linked to that run), else to the active experiment.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import math
import queue
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

import msgspec

from tracklet import errors
from tracklet.client import traces
from tracklet.client.traces import Trace

_log = logging.getLogger("tracklet")

INPUTS, OUTPUTS, SPAN_TYPE = "mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType"
TRACE_TAG_PREFIX = "mlflow.traceTag."
OTLP_PATH = "/v1/traces"
_OK, _ERROR = 1, 2  # OpenTelemetry's status codes
_INT64 = range(-(2**63), 2**63)
_MAX_TRACES_PER_EXPORT = 100

F = TypeVar("F", bound=Callable[..., Any])


def _random_id(n_bytes: int) -> bytes:
    # As OpenTelemetry's SDK makes ids: unique enough, and ~30x cheaper than os.urandom's system call.
    return random.getrandbits(8 * n_bytes).to_bytes(n_bytes, "big")


def _to_json_text(value: Any) -> str:
    """A value as JSON text, for inputs and outputs; what JSON cannot hold is written as its `str()`."""
    return msgspec.json.encode(value, enc_hook=encodable).decode()


def encodable(value: Any) -> Any:
    for convert in ("tolist", "to_dict"):  # numpy arrays and scalars, pandas frames and series
        if callable(method := getattr(value, convert, None)):
            try:
                return method()
            except Exception:  # noqa: BLE001 - fall back to the text form below
                break
    return str(value)


@dataclass(eq=False)  # identity: a trace and its spans refer to each other
class _Trace:
    trace_id: bytes
    experiment_id: str
    run_id: str | None
    client: Any  # the TrackletClient whose transport sends it
    root: Span | None = field(default=None, repr=False)
    finished: list[Span] = field(default_factory=list, repr=False)
    root_done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def id(self) -> str:
        return "tr-" + self.trace_id.hex()


@dataclass(eq=False)
class Span:
    """A span being recorded: what `start_span` yields and `get_current_active_span` returns."""

    name: str
    trace: _Trace = field(repr=False)
    parent_id: bytes | None
    span_id: bytes = field(default_factory=lambda: _random_id(8))
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    status: tuple[int, str] = (_OK, "")

    @property
    def trace_id(self) -> str:
        return self.trace.id

    def set_inputs(self, inputs: Any) -> None:
        self.attributes[INPUTS] = _to_json_text(inputs)

    def set_outputs(self, outputs: Any) -> None:
        self.attributes[OUTPUTS] = _to_json_text(outputs)

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.attributes.update(attributes)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        self.events.append((name, time.time_ns(), dict(attributes or {})))

    def set_status(self, status: str, message: str = "") -> None:
        """ "OK" or "ERROR"."""
        if status not in ("OK", "ERROR"):
            raise errors.InvalidParameterValue(f"A span's status is 'OK' or 'ERROR', not {status!r}")
        self.status = (_OK if status == "OK" else _ERROR, message)

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span failed with the exception as OpenTelemetry's `exception` event (type, message,
        stack trace), which MLflow's UI and tracklet's show as the span's error."""
        self.status = (_ERROR, f"{type(exc).__name__}: {exc}")
        self.add_event(
            "exception",
            {
                "exception.type": type(exc).__name__,
                "exception.message": str(exc),
                "exception.stacktrace": "".join(traceback.format_exception(exc)),
            },
        )

    def _otlp(self) -> dict[str, Any]:
        return {
            "traceId": self.trace.trace_id.hex(),
            "spanId": self.span_id.hex(),
            "parentSpanId": self.parent_id.hex() if self.parent_id else "",
            "name": self.name,
            "kind": 1,  # internal
            "startTimeUnixNano": str(self.start_ns),
            "endTimeUnixNano": str(self.end_ns or time.time_ns()),
            "attributes": _key_values(self.attributes),
            "events": [
                {"name": name, "timeUnixNano": str(at), "attributes": _key_values(attributes)}
                for name, at, attributes in self.events
            ],
            "status": {"code": self.status[0], "message": self.status[1]},
        }


def _any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OpenTelemetry `AnyValue` in OTLP's JSON."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int) and value in _INT64:
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {
            "doubleValue": value
            if math.isfinite(value)
            else str(value).replace("inf", "Infinity").replace("nan", "NaN")
        }
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _key_values(value)}}
    return {"stringValue": str(value)}


def _key_values(mapping: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _any_value(v)} for k, v in mapping.items()]


# -- the background sender --------------------------------------------------------------------------


class _Sender:
    """One daemon thread sending finished traces (or late spans) in order; `flush` waits for it."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[_Trace, list[Span]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, trace: _Trace, spans: list[Span]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tracklet-traces", daemon=True)
                self._thread.start()
        self._queue.put((trace, spans))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued trace is sent (or failed, which is logged); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < _MAX_TRACES_PER_EXPORT:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # What queued up while the last export was on its way goes in one export per destination.
            exports: dict[tuple[int, str, str | None], tuple[_Trace, list[Span]]] = {}
            for trace, spans in items:
                exports.setdefault((id(trace.client), trace.experiment_id, trace.run_id), (trace, []))[1].extend(spans)
            for trace, spans in exports.values():
                try:
                    _send(trace, spans)
                except Exception as exc:  # noqa: BLE001 - tracing must never break the traced program
                    _log.warning("tracklet: %d spans (trace %s, ...) could not be sent: %s", len(spans), trace.id, exc)
            for _ in items:
                self._queue.task_done()


def _send(trace: _Trace, spans: list[Span]) -> None:
    """One OTLP export to the trace's server, experiment and run (the spans may be of several traces)."""
    body = {"resourceSpans": [{"scopeSpans": [{"scope": {"name": "tracklet"}, "spans": [s._otlp() for s in spans]}]}]}
    headers = {"x-mlflow-experiment-id": trace.experiment_id}
    if trace.run_id:
        headers["x-mlflow-run-id"] = trace.run_id
    trace.client.transport.post(OTLP_PATH, body, headers=headers)


_sender = _Sender()
_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("tracklet_span", default=None)
_last_trace_id: str | None = None


# -- the API ----------------------------------------------------------------------------------------


def _new_trace() -> _Trace:
    from tracklet.client import fluent

    run = fluent.active_run()
    client = (run.client if run is not None else None) or fluent._state.client()
    if run is not None:
        experiment_id, run_id = run.info.experiment_id, run.info.run_id
    else:
        experiment_id, run_id = fluent._current_experiment_id(client), None
    return _Trace(_random_id(16), experiment_id, run_id, client)


def _open(name: str, span_type: str, attributes: Mapping[str, Any] | None) -> Span:
    """A span started inside the current one (or as a new trace's root), not yet made current."""
    parent = _current.get()
    trace = parent.trace if parent is not None else _new_trace()
    span = Span(name, trace, parent.span_id if parent is not None else None)
    if parent is None:
        trace.root = span
    span.attributes[SPAN_TYPE] = _to_json_text(span_type)
    span.set_attributes(attributes or {})
    return span


def _close(span: Span) -> None:
    """End the span; the root's end sends the trace (a span ending after its root is sent on its own)."""
    global _last_trace_id
    span.end_ns = time.time_ns()
    trace, is_root = span.trace, span.parent_id is None
    with trace.lock:
        if is_root:
            trace.root_done = True
            spans, trace.finished = [*trace.finished, span], []
        elif trace.root_done:  # a span that outlived its root (another thread's)
            spans = [span]
        else:
            trace.finished.append(span)
            spans = []
    if spans:
        if is_root:
            _last_trace_id = trace.id
        _sender.submit(trace, spans)


@contextmanager
def start_span(
    name: str = "span", span_type: str = "UNKNOWN", attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """Record the block as a span, inside the current span if there is one, else as a new trace. An
    exception leaving the block marks the span failed and is raised on."""
    span = _open(name, span_type, attributes)
    token = _current.set(span)
    try:
        yield span
    except BaseException as exc:
        span.record_exception(exc)
        raise
    finally:
        _current.reset(token)
        _close(span)


@overload
def trace(func: F) -> F: ...
@overload
def trace(
    func: None = None,
    *,
    name: str | None = None,
    span_type: str = "UNKNOWN",
    attributes: Mapping[str, Any] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    span_type: str = "UNKNOWN",
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Record each call of the function as a span: its arguments as inputs, its result as outputs, an
    exception as the span's error. `@tracklet.trace` or `@tracklet.trace(name=…, span_type="TOOL")`;
    plain and `async` functions, and generators (the span lasts until the generator is exhausted or
    closed; its outputs are the items it yielded)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        span_name = name or fn.__name__
        signature = inspect.signature(fn)

        positional = [p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        plain = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in signature.parameters.values())

        def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            if plain and len(args) <= len(positional):  # most functions: no binding machinery (9 µs)
                bound = {**dict(zip(positional, args, strict=False)), **kwargs}  # fewer args: partial
            else:
                try:
                    bound = dict(signature.bind_partial(*args, **kwargs).arguments)
                except TypeError:  # the call itself is wrong: the function will say so
                    return {"args": list(args), **kwargs}
            return {k: v for k, v in bound.items() if k not in ("self", "cls")}

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def traced_generator(*args: Any, **kwargs: Any) -> Any:
                # The span lasts until the generator is exhausted; it is the current span only while
                # the generator's own code runs, not while the caller holds a yielded item.
                span = _open(span_name, span_type, attributes)
                span.set_inputs(inputs(args, kwargs))
                items: list[Any] = []
                generator = fn(*args, **kwargs)
                try:
                    while True:
                        token = _current.set(span)
                        try:
                            item = next(generator)
                        except StopIteration:
                            break
                        finally:
                            _current.reset(token)
                        items.append(item)
                        yield item
                except BaseException as exc:
                    if not isinstance(exc, GeneratorExit):
                        span.record_exception(exc)
                    generator.close()
                    raise
                finally:
                    span.set_outputs(items)
                    _close(span)

            return traced_generator

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                with start_span(span_name, span_type, attributes) as span:
                    span.set_inputs(inputs(args, kwargs))
                    result = await fn(*args, **kwargs)
                    span.set_outputs(result)
                    return result

            return traced_async

        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with start_span(span_name, span_type, attributes) as span:
                span.set_inputs(inputs(args, kwargs))
                result = fn(*args, **kwargs)
                span.set_outputs(result)
                return result

        return traced

    return decorate(func) if func is not None else decorate


def get_current_active_span() -> Span | None:
    """The span being recorded in this thread or task (None outside any)."""
    return _current.get()


def update_current_trace(tags: Mapping[str, Any]) -> None:
    """Tag the trace being recorded (tags are set when the trace is sent)."""
    span = _current.get()
    if span is None or span.trace.root is None:
        raise errors.InvalidParameterValue("update_current_trace: no trace is being recorded here")
    # Tags ride on the root span as `mlflow.traceTag.<key>` attributes; the server makes them trace tags.
    span.trace.root.set_attributes({TRACE_TAG_PREFIX + str(k): str(v) for k, v in tags.items()})


def get_last_active_trace_id() -> str | None:
    """The id of the last trace whose outermost span ended in this process."""
    return _last_trace_id


def get_trace(trace_id: str) -> Trace:
    """A trace with its spans (after sending the traces still queued here, so it sees your own)."""
    from tracklet.client import fluent

    flush_traces()
    return traces.get_trace(fluent._state.client().transport, trace_id)


def search_traces(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
    *,
    run_id: str | None = None,
    return_type: Literal["pandas", "list"] | None = None,
    include_spans: bool = True,
    locations: Sequence[str] | None = None,
    flush: bool = True,
) -> Any:
    """Traces matching `filter_string` (MLflow's trace grammar: `trace.status = 'ERROR'`,
    `tags.team = 'nlp'`, `feedback.score > 3`, ...), as `mlflow.search_traces` returns them: a pandas
    DataFrame with MLflow's columns (`return_type="pandas"`, the default) or a list of `Trace`
    (`return_type="list"`). `locations` (MLflow 3's name) or `experiment_ids`: the experiments to search
    (default: the active run's, else the active experiment); `max_results` None: every match; newest
    first unless `order_by` says otherwise; `run_id` keeps the traces of that run. The traces still
    queued here are sent first (whatever `flush` says: it is accepted for MLflow's signature)."""
    from tracklet.client import fluent

    return_type = return_type or "pandas"
    if return_type not in ("pandas", "list"):
        raise errors.InvalidParameterValue(f"return_type must be 'pandas' or 'list', not {return_type!r}")
    if experiment_ids is not None and locations is not None:
        raise errors.InvalidParameterValue("Give the experiments as `locations` or `experiment_ids`, not both")
    experiments = [str(e) for e in (locations if locations is not None else experiment_ids or [])]
    if any("." in e for e in experiments):
        raise errors.InvalidParameterValue(
            f"tracklet keeps traces in experiments: locations are experiment ids, not tables ({experiments})"
        )
    if max_results is not None and max_results < 1:
        raise errors.InvalidParameterValue(f"max_results must be positive or None, not {max_results}")
    del flush  # tracklet always sends its queued traces before searching
    flush_traces()
    client = fluent._state.client()
    if not experiments:
        run = fluent.active_run()
        experiments = [run.info.experiment_id if run is not None else fluent._current_experiment_id(client)]
    filter_string = filter_string or ""
    if run_id is not None:
        in_run = f"trace.run_id = '{run_id}'"
        filter_string = f"{filter_string} AND {in_run}" if filter_string else in_run
    found = traces.search_traces(client.transport, experiments, filter_string, order_by, max_results, include_spans)
    return found if return_type == "list" else traces.traces_to_frame(found)


def flush_traces(timeout: float | None = None) -> bool:
    """Wait until every finished trace is sent; False if `timeout` (seconds) passed first."""
    return _sender.flush(timeout)
