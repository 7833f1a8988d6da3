"""`/api/3.0/mlflow/traces/{trace_id}/assessments*`: feedback, expectations and issue references on
traces (`mlflow.log_feedback`, `log_expectation`, `override_feedback`, `update_assessment`, …)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracklet.errors import InvalidParameterValue
from tracklet.server.protocol import json_response, read_json, run_read, run_sync
from tracklet.server.state import store_of
from tracklet.store.assessments import ASSESSMENT_KINDS, AssessmentChanges, NewAssessment
from tracklet.timestamps import parse_timestamp
from tracklet.validation import MAX_KEY_LENGTH, MAX_TAG_VALUE_LENGTH, check_length, missing

MAX_ASSESSMENT_BYTES = 1_000_000  # an assessment's JSON; values are verdicts and ground truths, not datasets


class CreateAssessment(msgspec.Struct):
    assessment: dict[str, Any] | None = None


class FieldMask(msgspec.Struct):
    paths: list[str] = []


class UpdateAssessment(msgspec.Struct):
    assessment: dict[str, Any] | None = None
    update_mask: str | FieldMask | None = None  # protobuf JSON writes a FieldMask as "a,b"; some send {paths}


def _text(fields: dict[str, Any], key: str, limit: int) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Invalid value for parameter 'assessment.{key}' supplied: expected a string")
    check_length(value, limit, f"assessment.{key}")
    return value


def _metadata(fields: dict[str, Any]) -> dict[str, str] | None:
    metadata = fields.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise InvalidParameterValue(
            "Invalid value for parameter 'assessment.metadata' supplied: expected an object of strings"
        )
    for key, value in metadata.items():
        check_length(key, MAX_KEY_LENGTH, f"assessment.metadata key '{key[:50]}'")
        check_length(value, MAX_TAG_VALUE_LENGTH, f"assessment.metadata['{key[:50]}']")
    return metadata


def _assessment(body: CreateAssessment | UpdateAssessment, trace_id: str) -> dict[str, Any]:
    fields = body.assessment
    if fields is None:
        raise missing("assessment")
    if len(msgspec.json.encode(fields)) > MAX_ASSESSMENT_BYTES:
        raise InvalidParameterValue(f"The assessment exceeds {MAX_ASSESSMENT_BYTES:,} bytes of JSON.")
    if fields.get("trace_id") not in (None, "", trace_id):
        raise InvalidParameterValue(
            f"The assessment's trace_id '{fields['trace_id']}' differs from the trace in the path, '{trace_id}'."
        )
    for key in ("source", *ASSESSMENT_KINDS):
        if fields.get(key) is not None and not isinstance(fields[key], dict):
            raise InvalidParameterValue(f"Invalid value for parameter 'assessment.{key}' supplied: expected an object")
    _text(fields, "rationale", MAX_TAG_VALUE_LENGTH)
    _metadata(fields)
    return fields


async def create(request: Request) -> Response:
    trace_id = request.path_params["trace_id"]
    fields = _assessment(await read_json(request, CreateAssessment), trace_id)
    name = _text(fields, "assessment_name", MAX_KEY_LENGTH)
    if not name:
        raise missing("assessment.assessment_name")
    kinds = [kind for kind in ASSESSMENT_KINDS if fields.get(kind) is not None]
    if len(kinds) != 1:
        raise InvalidParameterValue(
            f"An assessment holds exactly one of {list(ASSESSMENT_KINDS)}; got {kinds or 'none'}."
        )
    created = fields.get("create_time")
    new = NewAssessment(
        trace_id=trace_id,
        name=name,
        kind=kinds[0],
        fields=fields,
        create_time=None if created is None else parse_timestamp(str(created), "assessment.create_time"),
        overrides=_text(fields, "overrides", 50),
    )
    assessment = await run_sync(store_of(request).create_assessment, new)
    return json_response({"assessment": assessment})


async def get(request: Request) -> Response:
    params = request.path_params
    assessment = await run_read(request, store_of(request).get_assessment, params["trace_id"], params["assessment_id"])
    return json_response({"assessment": assessment})


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _mask(mask: str | FieldMask | None) -> set[str]:
    paths = (mask.split(",") if isinstance(mask, str) else mask.paths) if mask is not None else []
    fields = {_CAMEL.sub("_", path.strip()).lower() for path in paths if path.strip()}
    if not fields:
        raise missing("update_mask")
    unknown = fields - {"assessment_name", "rationale", "metadata", *ASSESSMENT_KINDS}
    if unknown:
        raise InvalidParameterValue(
            f"Invalid value for parameter 'update_mask' supplied: cannot update {sorted(unknown)}"
        )
    return fields


async def update(request: Request) -> Response:
    params = request.path_params
    body = await read_json(request, UpdateAssessment)
    fields = _assessment(body, params["trace_id"])
    mask = _mask(body.update_mask)
    values = [kind for kind in ASSESSMENT_KINDS if kind in mask]
    if len(values) > 1:
        raise InvalidParameterValue("Cannot specify both `expectation` and `feedback` parameters.")
    name = _text(fields, "assessment_name", MAX_KEY_LENGTH) if "assessment_name" in mask else None
    if name == "":
        raise missing("assessment.assessment_name")
    changes = AssessmentChanges(
        name=name,
        value=(values[0], fields.get(values[0]) or {}) if values else None,
        rationale=_text(fields, "rationale", MAX_TAG_VALUE_LENGTH) if "rationale" in mask else None,
        metadata=_metadata(fields) if "metadata" in mask else None,
    )
    assessment = await run_sync(
        store_of(request).update_assessment, params["trace_id"], params["assessment_id"], changes
    )
    return json_response({"assessment": assessment})


async def delete(request: Request) -> Response:
    params = request.path_params
    await run_sync(store_of(request).delete_assessment, params["trace_id"], params["assessment_id"])
    return json_response()


_BASE = "/api/3.0/mlflow/traces/{trace_id}/assessments"
routes = [
    Route(_BASE, create, methods=["POST"]),
    Route(f"{_BASE}/{{assessment_id}}", get, methods=["GET"]),
    Route(f"{_BASE}/{{assessment_id}}", update, methods=["PATCH"]),
    Route(f"{_BASE}/{{assessment_id}}", delete, methods=["DELETE"]),
]
