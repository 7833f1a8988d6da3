"""`/api/3.0/mlflow/label-schemas/*`: MLflow 3's label schemas (`mlflow.genai.label_schemas`), the
questions reviewers answer about an experiment's traces. Every route also answers under `/ajax-api/`, as
in MLflow.

A schema's `input` is one widget: `pass_fail` (two distinct labels), `categorical` (1-10 distinct
options, one or several chosen), `numeric` (optional bounds, min below max) or `text` (an optional
length limit). Its fields are checked here with MLflow's limits and messages; the store keeps the rules
that need the database (unique names, the experiment's default question).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.server.protocol import Int64, json_response, read_json, read_request, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.store.label_schemas import LabelSchema, LabelSchemaChanges, LabelSchemaInput
from tracklet.validation import MAX_SEARCH_RESULTS, missing, parse_experiment_id

NAME_MAX_LENGTH = 250
INSTRUCTION_MAX_LENGTH = 1000
PASS_FAIL_LABEL_MAX_LENGTH = 64
MAX_OPTIONS = 10
OPTION_MAX_LENGTH = 64
RESERVED_NAME = "feedback"  # the default question's, whatever the case
SCHEMA_TYPES = ("LABEL_SCHEMA_TYPE_UNSPECIFIED", "FEEDBACK", "EXPECTATION")


class PassFail(msgspec.Struct):
    positive_label: str = ""
    negative_label: str = ""


class Categorical(msgspec.Struct):
    options: list[str] = []
    multi_select: bool = False


class Numeric(msgspec.Struct):
    min_value: float | None = None
    max_value: float | None = None


class Text(msgspec.Struct):
    max_length: Int64 | None = None


class SchemaInput(msgspec.Struct):
    pass_fail: PassFail | None = None
    categorical: Categorical | None = None
    numeric: Numeric | None = None
    text: Text | None = None


class CreateSchema(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    type: str | int | None = None
    input: SchemaInput | None = None
    instruction: str | None = None
    enable_comment: bool = False


class SchemaRef(msgspec.Struct):
    schema_id: str | None = None


class SchemaByName(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None


class ListSchemas(msgspec.Struct):
    experiment_id: str | None = None
    max_results: Int64 | None = None
    page_token: str | None = None


class UpdateSchema(msgspec.Struct):
    schema_id: str | None = None
    name: str | None = None
    instruction: str | None = None
    enable_comment: bool | None = None
    input: SchemaInput | None = None


# -- shared with the review queues' endpoints ---------------------------------------------------------


def enum_number(value: str | int | None, names: tuple[str, ...]) -> int:
    """A protobuf enum as MLflow's server reads it: its name or number; absent or unknown ones are 0."""
    if isinstance(value, int):
        return value if 0 <= value < len(names) else 0
    return names.index(value) if value in names else 0


def page_size(value: int | None, default: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= MAX_SEARCH_RESULTS:
        raise InvalidParameterValue(
            f"max_results must be between 1 and {MAX_SEARCH_RESULTS}. "
            "See the API docs for more information about request parameters."
        )
    return value


def required(value: str | None, field: str) -> str:
    if not value:
        raise missing(field)
    return value


def experiment(value: str | None) -> int:
    """An experiment id with MLflow's message for one that is not a number."""
    text = required(value, "experiment_id")
    try:
        return parse_experiment_id(text)
    except InvalidParameterValue:
        raise InvalidParameterValue(f"Invalid experiment ID '{text}'. Experiment ID must be a valid integer.") from None


# -- checks ---------------------------------------------------------------------------------------------


def _name(name: str) -> str:
    if not name:
        raise InvalidParameterValue(f"Label schema `name` must be a non-empty string; got {name!r}.")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidParameterValue(
            f"Label schema `name` must be at most {NAME_MAX_LENGTH} characters; got {len(name)}."
        )
    if name.strip().lower() == RESERVED_NAME:
        raise InvalidParameterValue(
            f"`{name}` is reserved for the experiment's default question and cannot be used for another label schema."
        )
    return name


def _instruction(instruction: str | None) -> str | None:
    if instruction is not None and len(instruction) > INSTRUCTION_MAX_LENGTH:
        raise InvalidParameterValue(
            f"Label schema `instruction` must be at most {INSTRUCTION_MAX_LENGTH} characters; got {len(instruction)}."
        )
    return instruction


def _pass_fail(widget: PassFail) -> dict[str, Any]:
    for field in ("positive_label", "negative_label"):
        label: str = getattr(widget, field)
        if not label:
            raise InvalidParameterValue(f"`InputPassFail.{field}` must be a non-empty string; got {label!r}.")
        if len(label) > PASS_FAIL_LABEL_MAX_LENGTH:
            raise InvalidParameterValue(
                f"`InputPassFail.{field}` must be at most {PASS_FAIL_LABEL_MAX_LENGTH} characters; got {len(label)}."
            )
    if widget.positive_label == widget.negative_label:
        raise InvalidParameterValue(
            "`InputPassFail.positive_label` and `negative_label` must be distinct; "
            f"got {widget.positive_label!r} for both."
        )
    return {"positive_label": widget.positive_label, "negative_label": widget.negative_label}


def _categorical(widget: Categorical) -> dict[str, Any]:
    options = widget.options
    if not options:
        raise InvalidParameterValue(f"`InputCategorical.options` must be a non-empty list; got {options!r}.")
    if len(options) > MAX_OPTIONS:
        raise InvalidParameterValue(
            f"`InputCategorical.options` must have at most {MAX_OPTIONS} entries; got {len(options)}."
        )
    seen: set[str] = set()
    for option in options:
        if not option:
            raise InvalidParameterValue(
                f"`InputCategorical.options` entries must be non-empty strings; got {option!r}."
            )
        if len(option) > OPTION_MAX_LENGTH:
            raise InvalidParameterValue(
                f"`InputCategorical.options` entries must be at most {OPTION_MAX_LENGTH} characters; "
                f"got {len(option)} for {option!r}."
            )
        if option in seen:
            raise InvalidParameterValue(f"`InputCategorical.options` must be deduplicated; {option!r} appears twice.")
        seen.add(option)
    return {"options": options, "multi_select": widget.multi_select}


def _numeric(widget: Numeric) -> dict[str, Any]:
    bounds = {k: v for k, v in (("min_value", widget.min_value), ("max_value", widget.max_value)) if v is not None}
    for field, value in bounds.items():
        if not math.isfinite(value):  # JSON could not give it back
            raise InvalidParameterValue(f"`InputNumeric.{field}` must be a finite number; got {value}.")
    if widget.min_value is not None and widget.max_value is not None and widget.min_value >= widget.max_value:
        raise InvalidParameterValue(
            "`InputNumeric.min_value` must be strictly less than `max_value`; "
            f"got min={widget.min_value}, max={widget.max_value}."
        )
    return bounds


def _text(widget: Text) -> dict[str, Any]:
    if widget.max_length is None:
        return {}
    if widget.max_length < 1:
        raise InvalidParameterValue(f"`InputText.max_length` must be at least 1; got {widget.max_length}.")
    return {"max_length": widget.max_length}


def _input(given: SchemaInput | None) -> LabelSchemaInput:
    """The one widget set, its settings checked."""
    widgets = {} if given is None else {f: getattr(given, f) for f in given.__struct_fields__}
    chosen = [(kind, widget) for kind, widget in widgets.items() if widget is not None]
    if len(chosen) != 1:
        # MLflow takes one of several silently; a schema is one widget, so several are refused here.
        what = ", ".join(kind for kind, _ in chosen) if chosen else "an empty oneof"
        raise InvalidParameterValue(
            "Label schema `input` must have exactly one of `pass_fail`, `categorical`, `numeric`, or `text` set; "
            f"got {what}."
        )
    kind, widget = chosen[0]
    check: dict[str, Callable[[Any], dict[str, Any]]] = {
        "pass_fail": _pass_fail,
        "categorical": _categorical,
        "numeric": _numeric,
        "text": _text,
    }
    return LabelSchemaInput(kind, check[kind](widget))


def _schema_type(value: str | int | None) -> str:
    number = enum_number(value, SCHEMA_TYPES)
    if number not in (1, 2):
        raise InvalidParameterValue(
            f"Label schema `type` must be one of FEEDBACK or EXPECTATION; got proto enum value {number}."
        )
    return SCHEMA_TYPES[number].lower()


def schema_json(schema: LabelSchema) -> dict[str, Any]:
    """MLflow's `LabelSchema` message."""
    out: dict[str, Any] = {
        "schema_id": schema.schema_id,
        "experiment_id": str(schema.experiment_id),
        "name": schema.name,
        "type": schema.type.upper(),
    }
    if schema.instruction is not None:
        out["instruction"] = schema.instruction
    out["enable_comment"] = schema.enable_comment
    out["input"] = {schema.input.kind: schema.input.config}
    if schema.created_by is not None:
        out["created_by"] = schema.created_by
    out["created_at"] = schema.created_at
    out["last_updated_at"] = schema.last_updated_at
    out["is_default"] = schema.is_default
    return out


# -- endpoints ------------------------------------------------------------------------------------------


async def create(request: Request) -> Response:
    body = await read_json(request, CreateSchema)
    experiment_id = experiment(body.experiment_id)
    name = required(body.name, "name")
    schema_type = _schema_type(body.type)
    schema_input = _input(body.input)
    made = await run_sync(
        store_of(request).create_label_schema,
        experiment_id,
        _name(name),
        schema_type,
        schema_input,
        _instruction(body.instruction),
        body.enable_comment,
    )
    return json_response({"label_schema": schema_json(made)})


async def get(request: Request) -> Response:
    query = await read_request(request, SchemaRef)
    found = await run_read(request, store_of(request).get_label_schema, required(query.schema_id, "schema_id"))
    return json_response({"label_schema": schema_json(found)})


async def get_by_name(request: Request) -> Response:
    query = await read_request(request, SchemaByName)
    experiment_id, name = experiment(query.experiment_id), required(query.name, "name")
    found = await run_read(request, store_of(request).get_label_schema_by_name, experiment_id, name)
    return json_response({"label_schema": schema_json(found)})


async def list_schemas(request: Request) -> Response:
    query = await read_request(request, ListSchemas)
    experiment_id = experiment(query.experiment_id)
    size = page_size(query.max_results, 100)
    found, token = await run_sync(store_of(request).list_label_schemas, experiment_id, size, query.page_token or None)
    return json_response({"label_schemas": [schema_json(x) for x in found], "next_page_token": token or ""})


async def update(request: Request) -> Response:
    body = await read_json(request, UpdateSchema)
    schema_id = required(body.schema_id, "schema_id")
    changes = LabelSchemaChanges(
        name=None if body.name is None else _name(body.name),
        instruction=_instruction(body.instruction),
        enable_comment=body.enable_comment,
        input=None if body.input is None else _input(body.input),
    )
    updated = await run_sync(store_of(request).update_label_schema, schema_id, changes)
    return json_response({"label_schema": schema_json(updated)})


async def delete(request: Request) -> Response:
    body = await read_request(request, SchemaRef)
    await run_sync(store_of(request).delete_label_schema, required(body.schema_id, "schema_id"))
    return json_response()


_PATHS = [
    ("create", create, "POST"),
    ("get", get, "GET"),
    ("get-by-name", get_by_name, "GET"),
    ("list", list_schemas, "GET"),
    ("update", update, "PATCH"),
    ("delete", delete, "DELETE"),
]
routes = [
    Route(f"{prefix}/3.0/mlflow/label-schemas/{path}", endpoint, methods=[method])
    for prefix in ("/api", "/ajax-api")
    for path, endpoint, method in _PATHS
]
