"""The scoring server: MLflow's scoring protocol over a loaded model.

    POST /invocations   application/json with one of dataframe_split, dataframe_records, instances,
                        inputs (and optional params); or text/csv with a header row.
                        → 200 {"predictions": ...}
    GET  /ping, /health → 200
    GET  /version       → tracklet's version

Any input that cannot be read, or does not fit the signature, gets a 400
`{"error_code": "INVALID_PARAMETER_VALUE", "message": ...}` saying what the signature expects.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tracklet._version import __version__
from tracklet.errors import InvalidParameterValue, TrackletError
from tracklet.models.loading import LoadedModel, predictions_to_json

__all__ = ["create_app", "parse_input", "serve"]

INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class BadInput(InvalidParameterValue):
    """A request body that cannot be read as model input."""


def _expected(model: LoadedModel) -> str:
    signature = model.signature
    if signature is None or signature.inputs is None:
        return "the model has no signature"
    return "the model expects " + signature.inputs.describe()


def parse_input(body: bytes, content_type: str, model: LoadedModel) -> tuple[Any, dict[str, Any] | None]:
    """(model input, params) from a request body; BadInput when it cannot be read."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "text/csv":
        try:
            return pd.read_csv(io.BytesIO(body)), None
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise BadInput(f"the CSV body could not be read ({exc}); {_expected(model)}") from None
    if media_type != "application/json":
        raise BadInput(
            f"unsupported content type {content_type or '(none)'!r}: send application/json "
            f"(with one of {', '.join(INPUT_KEYS)}) or text/csv; {_expected(model)}"
        )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"the body is not valid JSON ({exc}); {_expected(model)}") from None
    keys = [k for k in INPUT_KEYS if isinstance(payload, dict) and k in payload]
    if len(keys) != 1:
        found = ", ".join(sorted(payload)) if isinstance(payload, dict) else type(payload).__name__
        raise BadInput(
            f"the JSON body must hold exactly one of {', '.join(INPUT_KEYS)} (got {found or 'nothing'}); "
            f"{_expected(model)}"
        )
    params = payload.get("params")
    value = payload[keys[0]]
    try:
        return _decode(keys[0], value, model), params if isinstance(params, dict) else None
    except (ValueError, TypeError, KeyError) as exc:
        raise BadInput(f"{keys[0]} could not be read ({exc}); {_expected(model)}") from None


def _decode(key: str, value: Any, model: LoadedModel) -> Any:
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise ValueError('expected {"columns": [...], "data": [[...], ...]}')
        return pd.DataFrame(value["data"], columns=value.get("columns"), index=value.get("index"))
    if key == "dataframe_records":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise ValueError("expected a list of records ({column: value} objects)")
        return pd.DataFrame.from_records(value)
    # instances / inputs: a list of rows, a dict of columns, or a list of records (TF-serving forms).
    signature = model.signature
    tensor = signature is not None and signature.inputs is not None and signature.inputs.tensor is not None
    if isinstance(value, dict):
        return pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()})
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return pd.DataFrame.from_records(value)
    if tensor:
        return np.asarray(value)
    return value


def create_app(model: LoadedModel) -> Starlette:
    """A Starlette app scoring `model`."""

    async def ping(request: Request) -> Response:
        return PlainTextResponse("\n")

    async def version(request: Request) -> Response:
        return PlainTextResponse(__version__)

    async def invocations(request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(_score, body, request.headers.get("content-type", ""))

    def _score(body: bytes, content_type: str) -> Response:
        data, params = parse_input(body, content_type, model)
        predictions = model.predict(data, params=params)
        return JSONResponse({"predictions": predictions_to_json(predictions)})

    async def on_tracklet_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TrackletError)
        return JSONResponse(exc.to_json(), status_code=exc.http_status)

    async def on_model_error(request: Request, exc: Exception) -> Response:
        # The model itself failed: the input fitted the signature, so this is not the caller's fault.
        message = f"the model raised {type(exc).__name__}: {exc}"
        return JSONResponse({"error_code": "INTERNAL_ERROR", "message": message}, status_code=500)

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/health", ping, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
        ],
        exception_handlers={TrackletError: on_tracklet_error, Exception: on_model_error},
    )


def serve(model: LoadedModel, host: str = "127.0.0.1", port: int = 5001) -> None:
    """Serve `model` until interrupted."""
    import uvicorn

    uvicorn.run(create_app(model), host=host, port=port, log_level="info")
