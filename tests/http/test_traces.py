"""The trace endpoints over plain HTTP: MLflow's recorded exchange, and every kind of bad input
answered with a clear 4xx that writes nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.http.conftest import error, new_experiment, ok, post, samples

V3 = "/api/3.0/mlflow/traces"
V2 = "/api/2.0/mlflow/traces"


def trace_body(experiment_id: str, trace_id: str | None = None, **info: Any) -> dict[str, Any]:
    return {
        "trace": {
            "trace_info": {
                "trace_id": trace_id or f"tr-{uuid.uuid4().hex}",
                "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}},
                "request_time": "2026-11-27T13:37:27.147Z",
                "execution_duration": "0.058s",
                "state": "OK",
                "tags": {"mlflow.traceName": "f"},
                **info,
            }
        }
    }


def start(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    return ok(api.post(V3, json=body))["trace"]["trace_info"]  # type: ignore[no-any-return]


def search(api: httpx.Client, experiment_id: str, **body: Any) -> httpx.Response:
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
    return api.post(f"{V3}/search", json={"locations": [location], **body})


def trace_ids(api: httpx.Client, experiment_id: str, **body: Any) -> list[str]:
    return [t["trace_id"] for t in ok(search(api, experiment_id, **body)).get("traces", [])]


def test_the_recorded_start_trace_gets_mlflows_answer(api):
    recorded = samples()["POST /api/3.0/mlflow/traces"]["example"]
    experiment_id = new_experiment(api)
    body = recorded["request"]["body"]
    body["trace"]["trace_info"]["trace_location"]["mlflow_experiment"]["experiment_id"] = experiment_id
    got = start(api, body)
    want = recorded["response"]["body"]["trace"]["trace_info"]
    for field in ("trace_id", "request_time", "execution_duration", "state", "request_preview", "response_preview"):
        assert got[field] == want[field], field
    assert got["trace_location"]["mlflow_experiment"]["experiment_id"] == experiment_id
    assert got["tags"]["mlflow.traceName"] == "f"
    assert (
        got["tags"]["mlflow.artifactLocation"]
        == f"mlflow-artifacts:/{experiment_id}/traces/{got['trace_id']}/artifacts"
    )
    assert got["trace_metadata"] == body["trace"]["trace_info"]["trace_metadata"]
    assert ok(api.get(f"{V3}/{got['trace_id']}"))["trace"]["trace_info"] == got


def test_a_retried_report_updates_the_trace_and_merges_its_tags(api):
    experiment_id = new_experiment(api)
    first = start(api, trace_body(experiment_id, state="IN_PROGRESS", tags={"a": "1"}))
    again = trace_body(experiment_id, first["trace_id"], state="OK", execution_duration="2.5s", tags={"b": "2"})
    second = start(api, again)
    assert second["state"] == "OK" and second["execution_duration"] == "2.500s"
    assert {"a": "1", "b": "2"}.items() <= second["tags"].items()
    assert trace_ids(api, experiment_id) == [first["trace_id"]]


def test_a_long_tag_value_is_cut_not_a_reason_to_lose_the_trace(api):
    # An exporter does not retry a 400: refusing the value would lose the trace and its spans.
    experiment_id = new_experiment(api)
    got = start(api, trace_body(experiment_id, tags={"mlflow.traceName": "f", "note": "v" * 9000}))
    assert got["tags"]["note"] == "v" * 8000
    assert ok(api.get(f"{V3}/{got['trace_id']}"))["trace"]["trace_info"]["tags"]["note"] == "v" * 8000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trace_id": None}, "trace.trace_info.trace_id"),
        ({"trace_id": "tr-a/b"}, "trace.trace_info.trace_id"),
        ({"trace_id": "tr-" + "a" * 60}, "trace.trace_info.trace_id"),
        ({"request_time": None}, "trace.trace_info.request_time"),
        ({"request_time": "yesterday"}, "not an RFC 3339 timestamp"),
        ({"execution_duration": "-1s"}, "non-negative duration"),
        ({"execution_duration": "58ms"}, "non-negative duration"),
        ({"state": "DONE"}, "trace.trace_info.state"),
        ({"trace_location": None}, "trace.trace_info.trace_location.mlflow_experiment"),
        (
            {"trace_location": {"type": "INFERENCE_TABLE", "mlflow_experiment": {"experiment_id": "0"}}},
            "MLFLOW_EXPERIMENT",
        ),
        ({"trace_location": {"mlflow_experiment": {"experiment_id": "x"}}}, "Experiment ID must be a valid integer"),
        ({"tags": {"k" * 251: "v"}}, "maximum length of 250"),
        ({"tags": {"mlflow.traceName": "n" * 4097}}, "Trace name"),
        ({"trace_metadata": {"": "v"}}, "a key is empty"),
        ({"request_preview": 5}, "request_preview"),
    ],
)
def test_a_bad_trace_is_refused_and_not_written(api, change, message):
    experiment_id = new_experiment(api)
    body = trace_body(experiment_id)
    info = body["trace"]["trace_info"]
    for key, value in change.items():
        if value is None:
            del info[key]
        else:
            info[key] = value
    assert message in error(api.post(V3, json=body))
    assert trace_ids(api, experiment_id) == []


def test_traces_go_only_to_active_existing_experiments(api):
    assert "No Experiment with id=987654" in error(
        api.post(V3, json=trace_body("987654")), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    deleted = new_experiment(api)
    ok(post(api, "/experiments/delete", {"experiment_id": deleted}))
    assert "must be in the 'active' state" in error(api.post(V3, json=trace_body(deleted)))
    assert error(api.post(V3, json={})).startswith("Missing value for required parameter 'trace'")
    assert "trace.trace_info" in error(api.post(V3, json={"trace": {}}))
    one, other = new_experiment(api), new_experiment(api)
    moved = start(api, trace_body(one))["trace_id"]
    assert "already exists in experiment" in error(api.post(V3, json=trace_body(other, moved)))


def test_unknown_traces_answer_not_found(api):
    assert "Trace with ID 'tr-nope' not found." == error(api.get(f"{V3}/tr-nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert "Trace with ID 'tr-nope' not found." == error(
        api.get(f"{V3}/get", params={"trace_id": "tr-nope"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert "trace_id" in error(api.get(f"{V3}/get"))
    assert ok(api.get(f"{V3}/batchGet", params={"trace_ids": ["tr-nope"]})) == {"traces": []}
    assert "trace_ids" in error(api.get(f"{V3}/batchGet"))
    assert "at most 100" in error(api.get(f"{V3}/batchGet", params={"trace_ids": ["t"] * 101}))
    error(api.patch(f"{V2}/tr-nope/tags", json={"key": "k", "value": "v"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_search_validates_its_request(api):
    experiment_id = new_experiment(api)
    assert "locations" in error(api.post(f"{V3}/search", json={}))
    assert "at most 500" in error(search(api, experiment_id, max_results=501))
    assert "positive" in error(search(api, experiment_id, max_results=0))
    assert "Invalid page token" in error(search(api, experiment_id, page_token="%%%"))
    assert "Invalid attribute key 'colour'" in error(search(api, experiment_id, filter="trace.colour = 'red'"))
    assert "Invalid span key 'colour'" in error(search(api, experiment_id, filter="span.colour = 'red'"))
    assert "for 'span.content'" in error(search(api, experiment_id, filter="span.content = 'llm'"))
    assert "Invalid comparator '>'" in error(search(api, experiment_id, filter="trace.status > 'OK'"))
    assert "Expected numeric value" in error(search(api, experiment_id, filter="trace.timestamp_ms > 'soon'"))
    assert "Invalid order_by entity 'span'" in error(search(api, experiment_id, order_by=["span.name"]))
    assert "duplicate" in error(search(api, experiment_id, order_by=["timestamp_ms", "timestamp DESC"]))
    assert ok(search(api, experiment_id)) == {}


def test_search_filters_orders_and_pages(api):
    experiment_id = new_experiment(api)
    made = [
        start(api, trace_body(experiment_id, request_time=f"2026-01-01T00:00:0{i}.000Z", execution_duration=f"{d}s",
                              state=state, tags={"mlflow.traceName": name, "team": team},
                              trace_metadata={"mlflow.sourceRun": run} if run else {}))["trace_id"]
        for i, (d, state, name, team, run) in enumerate([
            (3, "OK", "chat", "a", "r1"),
            (1, "ERROR", "chat", "b", None),
            (2, "OK", "embed", "a", "r2"),
        ])
    ]  # fmt: skip
    assert trace_ids(api, experiment_id) == made[::-1]  # newest first
    assert trace_ids(api, experiment_id, order_by=["execution_time_ms ASC"]) == [made[1], made[2], made[0]]
    assert trace_ids(api, experiment_id, order_by=["run_id DESC"]) == [made[2], made[0], made[1]]  # missing last
    assert trace_ids(api, experiment_id, order_by=["tags.team", "timestamp_ms DESC"]) == [made[2], made[0], made[1]]
    assert trace_ids(api, experiment_id, filter="trace.status = 'ERROR'") == [made[1]]
    assert trace_ids(api, experiment_id, filter="trace.name IN ('embed')") == [made[2]]
    assert trace_ids(api, experiment_id, filter="trace.run_id = 'r1'") == [made[0]]
    assert trace_ids(api, experiment_id, filter="tags.team = 'a' AND trace.execution_time_ms > 2500") == [made[0]]
    start_ms = 1767225600000  # 2026-01-01T00:00:00Z
    assert trace_ids(api, experiment_id, filter=f"trace.timestamp_ms >= {start_ms + 1000}") == [made[2], made[1]]
    assert trace_ids(api, experiment_id, filter=f"trace.end_time_ms = {start_ms + 1000 + 1000}") == [made[1]]
    assert trace_ids(api, experiment_id, filter="metadata.`mlflow.sourceRun` IS NULL") == [made[1]]

    first = ok(search(api, experiment_id, max_results=2))
    assert [t["trace_id"] for t in first["traces"]] == made[:0:-1]
    second = ok(search(api, experiment_id, max_results=2, page_token=first["next_page_token"]))
    assert [t["trace_id"] for t in second["traces"]] == [made[0]] and "next_page_token" not in second


def test_batch_get_infos_leaves_out_unknown_and_other_experiments_traces(api):
    one, other = new_experiment(api), new_experiment(api)
    mine, theirs = start(api, trace_body(one))["trace_id"], start(api, trace_body(other))["trace_id"]
    found = ok(api.post(f"{V3}/batchGetInfos", json={"trace_ids": [theirs, "tr-unknown", mine]}))
    assert [t["trace_id"] for t in found["trace_infos"]] == [theirs, mine]
    scoped = ok(api.post(f"{V3}/batchGetInfos", json={"trace_ids": [theirs, mine], "experiment_ids": [one]}))
    assert [t["trace_id"] for t in scoped["trace_infos"]] == [mine]
    assert "trace_ids" in error(api.post(f"{V3}/batchGetInfos", json={}))
    assert "at most 1000" in error(api.post(f"{V3}/batchGetInfos", json={"trace_ids": ["t"] * 1001}))


def test_trace_tags_validate_and_protect_the_span_location(api):
    trace_id = start(api, trace_body(new_experiment(api)))["trace_id"]
    ok(api.patch(f"{V2}/{trace_id}/tags", json={"key": "note", "value": "checked"}))
    ok(api.patch(f"{V3}/{trace_id}/tags", json={"key": "empty"}))
    tags = ok(api.get(f"{V3}/{trace_id}"))["trace"]["trace_info"]["tags"]
    assert tags["note"] == "checked" and tags["empty"] == ""
    assert "key" in error(api.patch(f"{V2}/{trace_id}/tags", json={"value": "v"}))
    # As MLflow (and as a run's tags): a long value is cut to 8000, a key resolving elsewhere is refused.
    ok(api.patch(f"{V2}/{trace_id}/tags", json={"key": "long", "value": "v" * 8001}))
    assert ok(api.get(f"{V3}/{trace_id}"))["trace"]["trace_info"]["tags"]["long"] == "v" * 8000
    ok(api.request("DELETE", f"{V2}/{trace_id}/tags", json={"key": "long"}))
    for key in ("../k", "/k", "a//b", "."):
        assert "resolve" in error(api.patch(f"{V2}/{trace_id}/tags", json={"key": key, "value": "v"}))
    assert "4096" in error(api.patch(f"{V2}/{trace_id}/tags", json={"key": "mlflow.traceName", "value": "n" * 4097}))
    for method in ("PATCH", "DELETE"):
        for key in ("mlflow.artifactLocation", "mlflow.trace.spansLocation"):
            body = {"key": key, "value": "elsewhere"}
            assert "immutable" in error(api.request(method, f"{V2}/{trace_id}/tags", json=body))
    ok(api.request("DELETE", f"{V2}/{trace_id}/tags", json={"key": "note"}))
    ok(api.delete(f"{V2}/{trace_id}/tags", params={"key": "empty"}))
    missing = error(
        api.request("DELETE", f"{V2}/{trace_id}/tags", json={"key": "note"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert "No trace tag with key 'note'" in missing
    assert set(ok(api.get(f"{V3}/{trace_id}"))["trace"]["trace_info"]["tags"]) == {
        "mlflow.traceName",
        "mlflow.artifactLocation",
        "mlflow.trace.spansLocation",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Either `max_timestamp_millis` or `request_ids`"),
        ({"max_timestamp_millis": 1, "request_ids": ["t"]}, "Only one of"),
        ({"request_ids": ["t"], "max_traces": 1}, "can't be specified"),
        ({"max_timestamp_millis": 1, "max_traces": 0}, "must be a positive integer"),
    ],
)
def test_delete_traces_arguments_are_checked(api, body, message):
    experiment_id = new_experiment(api)
    trace_id = start(api, trace_body(experiment_id))["trace_id"]
    assert message in error(post(api, "/traces/delete-traces", {"experiment_id": experiment_id, **body}))
    assert trace_ids(api, experiment_id) == [trace_id]


def test_delete_traces_touches_only_the_named_experiment(api):
    one, other = new_experiment(api), new_experiment(api)
    mine, theirs = start(api, trace_body(one))["trace_id"], start(api, trace_body(other))["trace_id"]
    body = {"experiment_id": one, "request_ids": [mine, theirs, "tr-unknown"]}
    assert ok(api.post(f"{V3}/delete-traces", json=body)) == {"traces_deleted": 1}
    assert trace_ids(api, one) == [] and trace_ids(api, other) == [theirs]
    future = {"experiment_id": other, "max_timestamp_millis": 2**62}
    assert ok(post(api, "/traces/delete-traces", future)) == {"traces_deleted": 1}
    assert "experiment_id" in error(post(api, "/traces/delete-traces", {"request_ids": ["t"]}))
    error(
        post(api, "/traces/delete-traces", {"experiment_id": "987654", "request_ids": ["t"]}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_mlflow_2_clients_start_end_get_and_search_traces_with_the_v2_api(api):
    experiment_id = new_experiment(api)
    started = ok(
        api.post(
            V2,
            json={
                "experiment_id": experiment_id,
                "timestamp_ms": 1_700_000_000_000,
                "request_metadata": [{"key": "mlflow.traceInputs", "value": '{"q": 1}'}],
                "tags": [{"key": "mlflow.traceName", "value": "chat"}],
            },
        )
    )["trace_info"]
    request_id = started["request_id"]
    assert started["status"] == "IN_PROGRESS" and started["timestamp_ms"] == 1_700_000_000_000
    assert "execution_time_ms" not in started
    location = {
        "key": "mlflow.artifactLocation",
        "value": f"mlflow-artifacts:/{experiment_id}/traces/{request_id}/artifacts",
    }
    assert location in started["tags"]

    end = {
        "timestamp_ms": 1_700_000_000_250,
        "status": "OK",
        "tags": [{"key": "mlflow.artifactLocation", "value": "x"}],
    }
    ended = ok(api.patch(f"{V2}/{request_id}", json=end))["trace_info"]
    assert ended["status"] == "OK" and ended["execution_time_ms"] == 250
    assert location in ended["tags"], "the span location is not the client's to move"
    assert ok(api.get(f"{V2}/{request_id}/info"))["trace_info"] == ended
    v3 = ok(api.get(f"{V3}/{request_id}"))["trace"]["trace_info"]
    assert v3["execution_duration"] == "0.250s" and v3["request_time"] == "2023-11-14T22:13:20.000Z"

    found = ok(api.get(V2, params={"experiment_ids": [experiment_id], "filter": "trace.name = 'chat'"}))
    assert [t["request_id"] for t in found["traces"]] == [request_id]
    assert "experiment_ids" in error(api.get(V2))
    assert "timestamp_ms" in error(api.post(V2, json={"experiment_id": experiment_id}))
    assert "status" in error(api.patch(f"{V2}/{request_id}", json={"timestamp_ms": 1_700_000_000_300}))
    assert "before it started" in error(api.patch(f"{V2}/{request_id}", json={"timestamp_ms": 1, "status": "OK"}))
    assert "'status'" in error(
        api.patch(f"{V2}/{request_id}", json={"timestamp_ms": 1_700_000_000_300, "status": "DONE"})
    )
    error(api.patch(f"{V2}/tr-nope", json={"timestamp_ms": 1, "status": "OK"}), 404, "RESOURCE_DOES_NOT_EXIST")


SPANS = {
    "spans": [
        {
            "trace_id": "AAECAwQFBgcICQoLDA0ODw==",
            "span_id": "AAECAwQFBgc=",
            "parent_span_id": None,
            "name": "root",
            "start_time_unix_nano": 1_700_000_000_000_000_000,
            "end_time_unix_nano": 1_700_000_000_500_000_000,
            "events": [{"name": "exception", "time_unix_nano": 5, "attributes": {"exception.message": "boom"}}],
            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
            "attributes": {
                "mlflow.spanType": '"LLM"',
                "mlflow.spanInputs": '{"q": [1, 2.5, true, null], "big": 18446744073709551616}',
                "plain": "not json",
            },
            "links": [{"trace_id": "tr-000102030405060708090a0b0c0d0e0f", "span_id": "0001020304050607"}],
        }
    ]
}


def test_spans_are_served_from_the_uploaded_file_as_opentelemetry_json(api):
    experiment_id = new_experiment(api)
    info = start(api, trace_body(experiment_id))
    assert info["tags"]["mlflow.trace.spansLocation"] == "ARCHIVE_REPO"
    trace_id = info["trace_id"]
    assert ok(api.get(f"{V3}/get", params={"trace_id": trace_id}))["trace"] == {"trace_info": info}  # not uploaded yet

    folder = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/traces/{trace_id}/artifacts"
    ok(api.put(f"{folder}/traces.json", content=json.dumps(SPANS)))
    (span,) = ok(api.get(f"{V3}/get", params={"trace_id": trace_id, "allow_partial": "true"}))["trace"]["spans"]
    assert span["name"] == "root" and span["span_id"] == "AAECAwQFBgc=" and "parent_span_id" not in span
    assert span["start_time_unix_nano"] == "1700000000000000000"
    assert span["status"] == {"code": "STATUS_CODE_ERROR", "message": "boom"}
    attributes = {a["key"]: a["value"] for a in span["attributes"]}
    assert attributes["mlflow.spanType"] == {"string_value": "LLM"}
    inputs = attributes["mlflow.spanInputs"]["kvlist_value"]["values"]
    assert inputs[0] == {
        "key": "q",
        "value": {"array_value": {"values": [{"int_value": "1"}, {"double_value": 2.5}, {"bool_value": True}, {}]}},
    }
    assert inputs[1] == {"key": "big", "value": {"double_value": 1.8446744073709552e19}}  # past int64
    assert attributes["plain"] == {"string_value": "not json"}
    assert span["events"] == [
        {
            "name": "exception",
            "time_unix_nano": "5",
            "attributes": [{"key": "exception.message", "value": {"string_value": "boom"}}],
        }
    ]
    assert span["links"] == [{"trace_id": "AAECAwQFBgcICQoLDA0ODw==", "span_id": "AAECAwQFBgc=", "attributes": []}]

    batch = ok(api.get(f"{V3}/batchGet", params={"trace_ids": [trace_id, "tr-nope"]}))["traces"]
    assert [t["trace_info"]["trace_id"] for t in batch] == [trace_id] and batch[0]["spans"] == [span]

    ok(api.put(f"{folder}/traces.json", content=b"{not json"))
    assert ok(api.get(f"{V3}/get", params={"trace_id": trace_id}))["trace"] == {"trace_info": info}


@pytest.mark.parametrize(
    "odd",
    [
        {"attributes": 5},
        {"attributes": ["x"]},
        {"events": {"name": "e"}},
        {"events": [1]},
        {"events": [{"attributes": "x"}]},
        {"links": "x"},
    ],  # fmt: skip
    ids=["attributes-number", "attributes-list", "events-object", "event-number", "event-attributes", "links-text"],
)
def test_a_spans_file_whose_records_have_the_wrong_type_is_served_as_no_spans(api, odd):
    # Was a 500 from traces/get, batchGet, the UI's spans and every span filter of the experiment.
    experiment_id = new_experiment(api)
    info = start(api, trace_body(experiment_id))
    folder = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/traces/{info['trace_id']}/artifacts"
    ok(api.put(f"{folder}/traces.json", content=json.dumps({"spans": [{**SPANS["spans"][0], **odd}]})))
    assert ok(api.get(f"{V3}/get", params={"trace_id": info["trace_id"]}))["trace"] == {"trace_info": info}
    assert ok(api.get(f"{V3}/batchGet", params={"trace_ids": [info["trace_id"]]}))["traces"] == [{"trace_info": info}]
    assert trace_ids(api, experiment_id, filter="span.name = 'root'") == []


def test_span_filters_work_beside_a_span_whose_time_or_text_a_database_cannot_hold(api):
    # A start time past int64 and NUL in a name: every span filter of the experiment answered 400
    # "Invalid value in request" (NUL: on PostgreSQL), and no other file of it was made searchable.
    experiment_id = new_experiment(api)
    odd_spans = [
        {**SPANS["spans"][0], "name": "past\x00int64", "start_time_unix_nano": 10**30},
        {**SPANS["spans"][0], "span_id": "AAECAwQFBgg=", "start_time_unix_nano": -(2**64)},
    ]
    for spans in ([{**SPANS["spans"][0], "name": "plain"}], odd_spans):
        info = start(api, trace_body(experiment_id))
        folder = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/traces/{info['trace_id']}/artifacts"
        ok(api.put(f"{folder}/traces.json", content=json.dumps({"spans": spans})))
        assert ok(api.get(f"{V3}/get", params={"trace_id": info["trace_id"]}))["trace"]["spans"]
    assert len(trace_ids(api, experiment_id, filter="span.name = 'plain'")) == 1
    assert len(trace_ids(api, experiment_id, filter="span.name LIKE 'past%'")) == 1


def test_traces_linked_to_a_run_are_found_by_its_run_id(api):
    experiment_id = new_experiment(api)
    run_id = ok(post(api, "/runs/create", {"experiment_id": experiment_id}))["run"]["info"]["run_id"]
    recorded = start(api, trace_body(experiment_id, trace_metadata={"mlflow.sourceRun": run_id}))["trace_id"]
    linked, other = (start(api, trace_body(experiment_id))["trace_id"] for _ in range(2))
    body = {"trace_ids": [linked, "tr-unknown"], "run_id": run_id}
    ok(post(api, "/traces/link-to-run", body))
    ok(post(api, "/traces/link-to-run", body))  # again: nothing changes
    assert set(trace_ids(api, experiment_id, filter=f"trace.run_id = '{run_id}'")) == {recorded, linked}
    assert trace_ids(api, experiment_id, filter=f"metadata.`mlflow.sourceRun` = '{run_id}'") == [recorded]
    assert other not in trace_ids(api, experiment_id, filter=f"trace.run_id IN ('{run_id}', 'x')")

    error(post(api, "/traces/link-to-run", {"trace_ids": [other], "run_id": "f" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert "run_id" in error(post(api, "/traces/link-to-run", {"trace_ids": [other]}))
    assert "more than 100" in error(post(api, "/traces/link-to-run", {"trace_ids": [other] * 101, "run_id": run_id}))
    ok(post(api, "/traces/delete-traces", {"experiment_id": experiment_id, "request_ids": [linked]}))
    assert trace_ids(api, experiment_id, filter=f"trace.run_id = '{run_id}'") == [recorded]


def test_pages_stay_exact_when_traces_arrive_between_them(api):
    experiment_id = new_experiment(api)
    first_five = [
        start(api, trace_body(experiment_id, request_time=f"2026-01-01T00:00:0{i}.000Z"))["trace_id"] for i in range(5)
    ]
    page = ok(search(api, experiment_id, max_results=2))
    seen = [t["trace_id"] for t in page["traces"]]
    for i in range(3):  # newer traces arrive while the user pages (newest first)
        start(api, trace_body(experiment_id, request_time=f"2026-01-01T00:01:0{i}.000Z"))
    while "next_page_token" in page:
        page = ok(search(api, experiment_id, max_results=2, page_token=page["next_page_token"]))
        seen += [t["trace_id"] for t in page.get("traces", [])]
    assert seen == first_five[::-1], "no trace twice, none skipped"


@pytest.mark.parametrize(
    "order_by",
    [
        ["execution_time_ms DESC"],
        ["tags.team ASC", "timestamp_ms ASC"],
        ["client_request_id"],
        ["end_time_ms"],
        ["name DESC"],
    ],
)
def test_paging_one_by_one_gives_the_order_of_one_page(api, order_by):
    experiment_id = new_experiment(api)
    for i, (duration, team, client_id) in enumerate(
        [("2s", "a", None), (None, None, "c1"), ("1s", "b", None), ("2s", "a", "c0"), (None, "b", None)]
    ):
        extra: dict[str, Any] = {"tags": {"mlflow.traceName": f"n{i % 2}", **({"team": team} if team else {})}}
        if duration:
            extra["execution_duration"] = duration
        body = trace_body(experiment_id, request_time=f"2026-01-01T00:00:0{i}.000Z", **extra)
        if not duration:
            del body["trace"]["trace_info"]["execution_duration"]
        if client_id:
            body["trace"]["trace_info"]["client_request_id"] = client_id
        start(api, body)
    whole = trace_ids(api, experiment_id, order_by=order_by)
    one_by_one, token = [], None
    while True:
        page = ok(
            search(api, experiment_id, max_results=1, order_by=order_by, **({"page_token": token} if token else {}))
        )
        one_by_one += [t["trace_id"] for t in page.get("traces", [])]
        if "next_page_token" not in page:
            break
        token = page["next_page_token"]
    assert len(whole) == 5 and one_by_one == whole
