"""`POST /v1/traces` by hand: OTLP's JSON encoding, compression, and every export it refuses (MLflow's
error shape, nothing written)."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from typing import Any

import httpx
import pytest

from tests.http.conftest import error, new_experiment, new_run, ok, post

ROOT, CHILD = "00f067aa0ba902b7", "b7ad6b7169203331"


def otlp_json(trace_hex: str, *spans: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
                "scopeSpans": [{"scope": {"name": "by-hand"}, "spans": [{"traceId": trace_hex, **s} for s in spans]}],
            }
        ]
    }


def span(span_id: str, name: str, start: int, end: int, parent: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        **extra,
    }


def send(api: httpx.Client, experiment_id: str | None, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
    if experiment_id is not None:
        headers.setdefault("x-mlflow-experiment-id", experiment_id)
    headers.setdefault("content-type", "application/json")
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    return api.post("/v1/traces", content=data, headers=headers)


def trace_of(api: httpx.Client, trace_id: str) -> dict[str, Any]:
    return ok(api.get("/api/3.0/mlflow/traces/get", params={"trace_id": trace_id}))["trace"]  # type: ignore[no-any-return]


def new_trace_hex() -> str:
    return os.urandom(16).hex()


def test_otlp_json_with_hex_ids_is_read(api):
    experiment_id, trace_hex = new_experiment(api), new_trace_hex()
    attributes = [
        {"key": "http.route", "value": {"stringValue": "/cart"}},
        {"key": "retries", "value": {"intValue": "3"}},
        {"key": "payload", "value": {"kvlistValue": {"values": [{"key": "n", "value": {"doubleValue": 1.5}}]}}},
    ]
    body = otlp_json(
        trace_hex,
        span(ROOT, "GET /cart", 1_700_000_000_000_000_000, 1_700_000_000_250_000_000, attributes=attributes),
        span(CHILD, "db", 1_700_000_000_010_000_000, 1_700_000_000_020_000_000, parent=ROOT, status={"code": 2}),
    )
    response = send(api, experiment_id, body)
    assert response.status_code == 200 and response.json() == {}
    assert response.headers["content-type"].startswith("application/json")

    trace = trace_of(api, f"tr-{trace_hex}")
    info = trace["trace_info"]
    assert info["state"] == "OK" and info["request_time"] == "2023-11-14T22:13:20.000Z"
    assert info["execution_duration"] == "0.250s"
    assert info["tags"]["mlflow.traceName"] == "GET /cart"
    root, child = trace["spans"]
    assert root["name"] == "GET /cart" and child["parent_span_id"] == root["span_id"]
    assert child["status"]["code"] == "STATUS_CODE_ERROR"
    values = {a["key"]: a["value"] for a in root["attributes"]}
    assert values["http.route"] == {"string_value": "/cart"}
    assert values["retries"] == {"int_value": "3"}
    assert values["payload"] == {"kvlist_value": {"values": [{"key": "n", "value": {"double_value": 1.5}}]}}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_exports_are_read(api, encoding):
    experiment_id, trace_hex = new_experiment(api), new_trace_hex()
    raw = json.dumps(otlp_json(trace_hex, span(ROOT, "root", 10**18, 10**18 + 10**6))).encode()
    packed = {
        "gzip": gzip.compress(raw),
        "deflate": zlib.compress(raw),
        "raw-deflate": _raw_deflate(raw),
    }[encoding]
    header = "gzip" if encoding == "gzip" else "deflate"
    ok(send(api, experiment_id, packed, **{"content-encoding": header}))
    assert trace_of(api, f"tr-{trace_hex}")["trace_info"]["state"] == "OK"


def _raw_deflate(raw: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(raw) + packer.flush()


def _search(api: httpx.Client, experiment_id: str, filter: str = "") -> list[dict[str, Any]]:
    body = {
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}],
        "filter": filter,
    }
    return ok(api.post("/api/3.0/mlflow/traces/search", json=body)).get("traces", [])  # type: ignore[no-any-return]


GOOD = span(ROOT, "root", 10**18, 10**18 + 10**6)


@pytest.mark.parametrize(
    ("change", "status", "code", "message"),
    [
        ({"experiment": None}, 400, "INVALID_PARAMETER_VALUE", "x-mlflow-experiment-id"),
        ({"experiment": "abc"}, 400, "INVALID_PARAMETER_VALUE", "must be a valid integer"),
        ({"experiment": "987654"}, 404, "RESOURCE_DOES_NOT_EXIST", "987654"),
        ({"headers": {"content-type": "text/plain"}}, 400, "INVALID_PARAMETER_VALUE", "Content-Type"),
        ({"headers": {"content-encoding": "br"}}, 400, "INVALID_PARAMETER_VALUE", "Content-Encoding"),
        ({"headers": {"content-encoding": "gzip"}}, 400, "INVALID_PARAMETER_VALUE", "decompressed"),
        ({"headers": {"x-mlflow-run-id": "../etc"}}, 400, "INVALID_PARAMETER_VALUE", "run"),
        ({"headers": {"x-mlflow-run-id": "0" * 32}}, 404, "RESOURCE_DOES_NOT_EXIST", "0" * 32),
        ({"body": b"{not json"}, 400, "INVALID_PARAMETER_VALUE", "Invalid OpenTelemetry export"),
        ({"body": b"[1, 2]"}, 400, "INVALID_PARAMETER_VALUE", "not a JSON object"),
        ({"body": {"resourceSpans": []}}, 400, "INVALID_PARAMETER_VALUE", "no spans"),
        (
            {"body": {"resourceSpans": [{"scopeSpans": [{"spans": [{**GOOD, "spanId": "xyz"}]}]}]}},
            400,
            "INVALID_PARAMETER_VALUE",
            "Invalid OpenTelemetry export",
        ),
        (
            {"body": {"resourceSpans": [{"scopeSpans": [{"spans": [{**GOOD, "traceId": "0" * 32}]}]}]}},
            400,
            "INVALID_PARAMETER_VALUE",
            "trace id",
        ),
        (
            {
                "body": {
                    "resourceSpans": [{"scopeSpans": [{"spans": [{**GOOD, "traceId": "ab" * 16, "spanId": "00ff"}]}]}]
                }
            },
            400,
            "INVALID_PARAMETER_VALUE",
            "span id",
        ),
        (
            {
                "body": {
                    "resourceSpans": [
                        {"scopeSpans": [{"spans": [{**GOOD, "traceId": "ab" * 16, "startTimeUnixNano": "soon"}]}]}
                    ]
                }
            },
            400,
            "INVALID_PARAMETER_VALUE",
            "Invalid OpenTelemetry export",
        ),
        ({"protobuf": b"\xff\xff\xff\xff"}, 400, "INVALID_PARAMETER_VALUE", "Invalid OpenTelemetry export"),
    ],
)
def test_a_bad_export_is_refused_and_writes_nothing(api, change, status, code, message):
    experiment_id = new_experiment(api)
    headers = dict(change.get("headers", {}))
    body: Any = change.get("body", otlp_json(new_trace_hex(), GOOD))
    if "protobuf" in change:
        body, headers["content-type"] = change["protobuf"], "application/x-protobuf"
    target = change.get("experiment", experiment_id)
    response = send(api, target, body, **headers)
    assert message in error(response, status, code)
    assert _search(api, experiment_id) == []


def test_exports_go_only_to_active_experiments_and_a_trace_stays_in_its_own(api):
    first, second = new_experiment(api), new_experiment(api)
    trace_hex = new_trace_hex()
    ok(send(api, first, otlp_json(trace_hex, GOOD)))
    # The same trace id into another experiment: refused, the whole export with it.
    other_hex = new_trace_hex()
    both = otlp_json(trace_hex, span(CHILD, "late", 10**18, 10**18 + 1, parent=ROOT))
    both["resourceSpans"][0]["scopeSpans"][0]["spans"].append({"traceId": other_hex, **GOOD})
    assert "already exists in experiment" in error(send(api, second, both))
    assert _search(api, second) == []
    assert [s["name"] for s in trace_of(api, f"tr-{trace_hex}")["spans"]] == ["root"]

    ok(post(api, "/experiments/delete", {"experiment_id": second}))
    assert "active" in error(send(api, second, otlp_json(new_trace_hex(), GOOD)))


def test_trace_tags_from_the_root_span_that_are_too_long_are_left_out(api):
    experiment_id, trace_hex = new_experiment(api), new_trace_hex()
    attributes = [
        {"key": "mlflow.traceTag.team", "value": {"stringValue": "search"}},
        {"key": "mlflow.traceTag.priority", "value": {"intValue": "2"}},
        {"key": "mlflow.traceTag." + "k" * 251, "value": {"stringValue": "too long a key"}},
        {"key": "mlflow.traceTag.essay", "value": {"stringValue": "v" * 8001}},
    ]
    ok(send(api, experiment_id, otlp_json(trace_hex, {**GOOD, "attributes": attributes})))
    tags = trace_of(api, f"tr-{trace_hex}")["trace_info"]["tags"]
    assert tags["team"] == "search" and tags["priority"] == "2"
    assert not [key for key in tags if key.startswith("k") or key == "essay"]


def test_a_protobuf_export_gets_an_empty_protobuf_answer(api):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    experiment_id, trace_hex = new_experiment(api), new_trace_hex()
    export = ExportTraceServiceRequest()
    proto_span = export.resource_spans.add().scope_spans.add().spans.add()
    proto_span.trace_id, proto_span.span_id = bytes.fromhex(trace_hex), bytes.fromhex(ROOT)
    proto_span.name, proto_span.start_time_unix_nano, proto_span.end_time_unix_nano = "root", 10**18, 10**18 + 5 * 10**6
    response = send(api, experiment_id, export.SerializeToString(), **{"content-type": "application/x-protobuf"})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "application/x-protobuf"
    assert trace_of(api, f"tr-{trace_hex}")["trace_info"]["execution_duration"] == "0.005s"


def test_stored_spans_answer_batch_get_beside_uploaded_ones(api):
    experiment_id = new_experiment(api)
    run_id = new_run(api, experiment_id)
    hexes = [new_trace_hex() for _ in range(3)]
    for trace_hex in hexes:
        ok(send(api, experiment_id, otlp_json(trace_hex, GOOD), **{"x-mlflow-run-id": run_id}))
    ids = [f"tr-{h}" for h in hexes]
    answer = ok(api.get("/api/3.0/mlflow/traces/batchGet", params={"trace_ids": ids}))
    assert sorted(t["trace_info"]["trace_id"] for t in answer["traces"]) == sorted(ids)
    assert all(len(t["spans"]) == 1 for t in answer["traces"])
    in_run = _search(api, experiment_id, f"trace.run_id = '{run_id}'")
    assert sorted(t["trace_id"] for t in in_run) == sorted(ids)
