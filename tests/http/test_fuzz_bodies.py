"""The fuzzer's typed bodies are what they claim: before their one odd field, valid for the schema they
were built from (the server's own decoding takes them), and every API route that decodes a request
schema is found to have one."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.fuzzing import _valid, endpoints, request_schemas
from tracklet.server.api import users
from tracklet.server.app import api_routes
from tracklet.server.protocol import decode_body
from tracklet.server.ui import ui_routes

ROUTES = [*api_routes(), *ui_routes(), *users.routes]
SCHEMAS = sorted(set(request_schemas(ROUTES).values()), key=lambda schema: schema.__qualname__)
IDS = {"run_id": ["0123456789abcdef0123456789abcdef"], "experiment_id": ["1"], "*": ["x"]}


@pytest.mark.parametrize("schema", SCHEMAS, ids=[schema.__qualname__ for schema in SCHEMAS])
def test_a_typed_body_before_its_odd_field_decodes_as_its_schema(schema: type[msgspec.Struct]) -> None:
    @settings(max_examples=20, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(body=_valid(msgspec.inspect.type_info(schema), "", IDS))
    def decodes(body: dict[str, object]) -> None:
        assert isinstance(decode_body(json.dumps(body).encode(), schema), schema)

    decodes()


def test_routes_that_read_a_request_schema_are_found() -> None:
    found = request_schemas(ROUTES)
    for method, path in [("POST", "/api/2.0/mlflow/runs/log-batch"), ("GET", "/api/2.0/mlflow/runs/get"),
                         ("POST", "/api/3.0/mlflow/traces"), ("DELETE", "/api/2.0/mlflow/traces/{trace_id}/tags"),
                         ("POST", "/api/2.0/mlflow/users/create")]:  # fmt: skip
        assert (method, path) in found, (method, path)
    # The routes without one take a raw body (artifact uploads, OTLP's protobuf) or none at all.
    without = {path for method, path in endpoints(ROUTES) if (method, path) not in found}
    assert not any(path.endswith(("/log-batch", "/create", "/search")) for path in without), without
