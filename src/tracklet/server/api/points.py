"""`POST /api/tracklet/runs/log-points`: metric points as parallel columns, tracklet's own bulk path.

MLflow's `log-batch` caps a request at 1,000 metrics, each a JSON object. tracklet's client sends long
runs of points here instead: four arrays, up to `MAX_POINTS` points a request. Fewer, smaller requests
mean less decoding on the server and fewer round trips for the client's sender thread, whose every
wake-up waits for the GIL while the training loop runs. The points are validated as `log-batch`'s
and stored the same way; a request is all or nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.server.api.runs import RunRef
from tracklet.server.protocol import Int64, json_response, read_json, run_sync
from tracklet.server.state import store_of
from tracklet.validation import missing, negative_timestamp, validate_metric_keys

MAX_POINTS = 20_000  # about 60-80 ms of writing on SQLite: other writers never wait long behind one request


class LogPoints(RunRef):
    key: list[str] = []
    value: list[float] = []
    timestamp: list[Int64] = []
    step: list[Int64] | None = None  # all 0 when absent


def _validated(body: LogPoints) -> tuple[list[str], list[float], list[int], list[int]]:
    n = len(body.key)
    if not n:
        raise missing("key")
    if n > MAX_POINTS:
        raise InvalidParameterValue(f"A log-points request can contain at most {MAX_POINTS} points. Got {n}.")
    steps = body.step if body.step is not None else [0] * n
    for name, column in (("value", body.value), ("timestamp", body.timestamp), ("step", steps)):
        if len(column) != n:
            raise InvalidParameterValue(
                f"'{name}' has {len(column)} entries but 'key' has {n}: the columns must be equally long."
            )
    validate_metric_keys(body.key, lambda i: f"key[{i}]")
    if min(body.timestamp) < 0:
        i = next(i for i, t in enumerate(body.timestamp) if t < 0)
        raise negative_timestamp(body.timestamp[i], f"timestamp[{i}]")
    return body.key, body.value, body.timestamp, steps


async def log_points(request: Request) -> Response:
    body = await read_json(request, LogPoints)
    run_id = body.id()
    await run_sync(store_of(request).log_points, run_id, *_validated(body))
    return json_response()


routes = [Route("/api/tracklet/runs/log-points", log_points, methods=["POST"])]
