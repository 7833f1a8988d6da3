"""What span filters compare, read from spans as each writer lays them out: MLflow 3's `traces.json`,
MLflow 2's, and rows received over OTLP."""

from __future__ import annotations

import json

from tracklet.store.span_search import searchable_file, searchable_text


def test_an_mlflow_3_span_gives_its_name_type_status_and_decoded_attributes() -> None:
    span = {
        "span_id": "RGDVt9tkbw8=",  # base64 of 8 bytes
        "name": "chat",
        "start_time_unix_nano": 17,
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
        "attributes": {
            "mlflow.spanType": '"LLM"',
            "model": '"gpt-4o"',
            "temperature": "0.5",
            "stream": "false",
            "mlflow.spanInputs": '{"question": "café?"}',
        },
    }
    (found,) = searchable_file([span])
    assert (found.span_id, found.name, found.type, found.status, found.start_time) == (
        "4460d5b7db646f0f",
        "chat",
        "LLM",
        "ERROR",
        17,
    )
    assert found.attributes == {
        "mlflow.spanType": "LLM",
        "model": "gpt-4o",
        "temperature": "0.5",
        "stream": "false",
        "mlflow.spanInputs": '{"question":"café?"}',
    }
    assert json.loads(found.content) == span and "café" in found.content  # non-ASCII as itself


def test_an_mlflow_2_span_and_spans_without_ids_are_read_too() -> None:
    legacy = {
        "name": "retrieve",
        "context": {"span_id": "0x00F067AA0BA902B7", "trace_id": "0x1"},
        "start_time": 5,
        "status_code": "OK",
        "attributes": {"mlflow.spanType": '"RETRIEVER"'},
    }
    first, second, third = searchable_file([legacy, {"name": "no id"}, {"name": "same id", **legacy}])
    assert (first.span_id, first.type, first.status, first.start_time) == ("00f067aa0ba902b7", "RETRIEVER", "OK", 5)
    assert (second.span_id, second.status, second.type) == (f"{1:016x}", "UNSET", None)
    assert third.span_id == f"{2:016x}"  # ids stay unique within a trace


def test_an_otlp_row_keeps_attributes_that_are_not_json_as_text() -> None:
    content = json.dumps(
        {"name": "agent", "status": {"code": "STATUS_CODE_OK"}, "attributes": {"mlflow.spanType": "AGENT"}}
    )
    found = searchable_text("00000000000000aa", content, 99)
    assert (found.name, found.type, found.status, found.start_time) == ("agent", "AGENT", "OK", 99)
    assert found.content == content
