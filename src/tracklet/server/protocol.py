"""MLflow's transport conventions (reference §1): decoding requests and encoding responses.

Request bodies are decoded straight into msgspec Structs with `strict=False`, which accepts numbers
sent as strings (the R client) and the strings "NaN"/"Infinity". Validation errors are reworded into
MLflow's messages, naming the field (`metrics[3].value`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tracklet.errors import InvalidParameterValue
from tracklet.store.workspaces import current_workspace

T = TypeVar("T")

# Protobuf int64: larger numbers are rejected while decoding (the database cannot store them either).
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

_JSON = "application/json"
_encoder = msgspec.json.Encoder()
_EMPTY = b"{}"
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`(?: - at `\$(?P<at>[^`]*)`)?")
_AT = re.compile(r" - at `\$(?P<at>[^`]*)`$")


def _field_path(at: str) -> str:
    return at.lstrip(".")


def translate_validation_error(err: msgspec.ValidationError | msgspec.DecodeError) -> InvalidParameterValue:
    text = str(err)
    missing = _MISSING.match(text)
    if missing:
        at = _field_path(missing.group("at") or "")
        field = f"{at}.{missing.group('field')}" if at else missing.group("field")
        return InvalidParameterValue(
            f"Missing value for required parameter '{field}'. "
            "See the API docs for more information about request parameters."
        )
    located = _AT.search(text)
    if located:
        field = _field_path(located.group("at"))
        detail = text[: located.start()]
        return InvalidParameterValue(f"Invalid value for parameter '{field}' supplied: {detail}")
    return InvalidParameterValue(f"Malformed request: {text}")


async def read_json(request: Request, schema: type[T]) -> T:
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise InvalidParameterValue("Bad Request. Content-Type header is missing.")
    if content_type.split(";")[0].strip().lower() != _JSON:
        raise InvalidParameterValue(f"Bad Request. Content-Type must be one of ['{_JSON}'].")
    body = await request.body()
    return decode_body(body, schema)


def _nul_at(value: Any, path: str = "") -> str | None:
    """Where a decoded JSON value holds a string (or key) with a NUL character, as a field path."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            at = f"{path}.{k}" if path else str(k)
            if "\x00" in k:
                return at
            if (found := _nul_at(v, at)) is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            if (found := _nul_at(v, f"{path}[{i}]")) is not None:
                return found
    return None


def _refuse_nul(field: str) -> InvalidParameterValue:
    # PostgreSQL cannot store NUL in text and SQLite would: refused everywhere, so both stores hold the same.
    return InvalidParameterValue(f"Invalid value for parameter '{field}' supplied: text cannot contain NUL (\\u0000)")


def decode_body(body: bytes, schema: type[T]) -> T:
    # Rare: only then is the body searched for the field. Most bodies hold no backslash at all, and
    # looking for one byte (memchr) costs a tenth of looking for six.
    if b"\\" in body and b"\\u0000" in body:
        with contextlib.suppress(msgspec.DecodeError):
            if (field := _nul_at(msgspec.json.decode(body))) is not None:
                raise _refuse_nul(field)
    try:
        if not body.strip():
            return msgspec.convert({}, schema, strict=False)
        try:  # decode and validate in one pass; a null where a value must be goes the long way below
            return msgspec.json.decode(body, type=schema, strict=False)
        except msgspec.ValidationError:
            if b"null" not in body:
                raise
        # JSON null means "absent" in MLflow's protocol: dropped, the field takes its default.
        raw = msgspec.json.decode(body)
        if not isinstance(raw, dict):
            raise InvalidParameterValue("Malformed request: the body must be a JSON object")
        return msgspec.convert(_drop_nulls(raw), schema, strict=False)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise translate_validation_error(err) from None


def _drop_nulls(value: Any) -> Any:
    """JSON null means "absent" in MLflow's protocol."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def read_query(request: Request, schema: type[T], list_fields: frozenset[str] = frozenset()) -> T:
    """Query parameters into a Struct; keys in `list_fields` may repeat (`?run_ids=a&run_ids=b`)."""
    params = request.query_params
    data: dict[str, Any] = {}
    for key, value in params.multi_items():
        if "\x00" in value:
            raise _refuse_nul(key)
    for key in params.keys():
        if key in list_fields:
            data[key] = params.getlist(key)
        else:
            value = params[key]
            if value.lower() in ("true", "false"):
                value = value.lower()
            data[key] = value
    try:
        return msgspec.convert(data, schema, strict=False)
    except msgspec.ValidationError as err:
        raise translate_validation_error(err) from None


async def read_request(request: Request, schema: type[T], list_fields: frozenset[str] = frozenset()) -> T:
    """A GET's query parameters or another method's JSON body, for endpoints MLflow routes both ways."""
    if request.method == "GET":
        return read_query(request, schema, list_fields)
    return await read_json(request, schema)


def json_response(payload: Any = None, status_code: int = 200) -> Response:
    body = _EMPTY if payload is None else _encoder.encode(payload)
    return Response(body, status_code=status_code, media_type=_JSON)


def page_response(field: str, items: list[Any], next_page_token: str | None) -> Response:
    """A list answer in MLflow's shape: empty lists and the last page's token are omitted."""
    payload: dict[str, Any] = {}
    if items:
        payload[field] = items
    if next_page_token:
        payload["next_page_token"] = next_page_token
    return json_response(payload)


# Store calls block on the database, so they run on these threads. A plain executor hop costs about
# half of anyio's `to_thread.run_sync` (no capacity limiter or cancel scope); small reads and writes
# may skip it (`run_read`, `run_write`).
_STORE_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="tracklet-store")


async def run_sync(fn: Any, *args: Any) -> Any:
    """Run a blocking store call off the event loop."""
    workspace = current_workspace()
    if workspace is not None:  # the request's workspace goes along (an executor does not carry context)
        fn, args = contextvars.copy_context().run, (fn, *args)
    try:
        future = asyncio.get_running_loop().run_in_executor(_STORE_THREADS, fn, *args)
    except RuntimeError as err:
        if "shutdown" not in str(err):
            raise
        # The embedded store taking a client's last writes at interpreter exit, when thread pools take
        # no more work: the call runs here.
        return fn(*args)
    return await future


async def run_write(request: Request, fn: Any, *args: Any) -> Any:
    """Run a small store write (a run created, a few values logged): on the event loop itself when the
    server is one process on SQLite and no store thread is writing, else like `run_sync`. Such a write
    takes 0.1-0.3 ms, less than the two thread wake-ups of a hop (0.3-1 ms on this machine), and cannot
    wait on the database: the process's writer lock is free and no other process writes."""
    if request.app.state.inline_store_calls:
        with request.app.state.store.db.writer_if_free() as held:
            if held:
                return fn(*args)
    return await run_sync(fn, *args)


async def run_read(request: Request, fn: Any, *args: Any) -> Any:
    """Run a small store read (one experiment, one run, one model version) like `run_write`: on the
    event loop when the server is one process on SQLite and a connection is at hand. A reader never
    waits in SQLite's WAL mode, so the loop is held for the read itself, a fraction of a millisecond."""
    if request.app.state.inline_store_calls and request.app.state.store.db.connects_without_waiting():
        return fn(*args)
    return await run_sync(fn, *args)
