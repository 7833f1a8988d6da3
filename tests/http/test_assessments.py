"""Assessments of traces over plain HTTP: what MLflow's client never sends, refused without a write."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.http.conftest import error, new_experiment, ok
from tests.http.test_traces import V3, search, start, trace_body


def assessments_of(api: httpx.Client, trace_id: str) -> list[dict[str, Any]]:
    return ok(api.get(f"{V3}/{trace_id}"))["trace"]["trace_info"].get("assessments", [])  # type: ignore[no-any-return]


def feedback(trace_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "assessment": {
            "assessment_name": "quality",
            "trace_id": trace_id,
            "source": {"source_type": "HUMAN", "source_id": "ann"},
            "create_time": "2026-11-29T09:00:00.000Z",
            "feedback": {"value": 4},
            **fields,
        }
    }


@pytest.fixture
def trace_id(api: httpx.Client) -> str:
    return start(api, trace_body(new_experiment(api)))["trace_id"]  # type: ignore[no-any-return]


def test_an_assessment_keeps_what_the_client_sent(api, trace_id):
    body = feedback(
        trace_id,
        rationale="clear",
        metadata={"k": "v"},
        span_id="abc",
        feedback={"value": None, "error": {"error_code": "E"}},
    )
    made = ok(api.post(f"{V3}/{trace_id}/assessments", json=body))["assessment"]
    assert made["assessment_id"].startswith("a-") and made["valid"] is True
    assert made["create_time"] == made["last_update_time"] == "2026-11-29T09:00:00.000Z"
    for field in ("assessment_name", "source", "feedback", "rationale", "metadata", "span_id"):
        assert made[field] == body["assessment"][field], field
    assert ok(api.get(f"{V3}/{trace_id}/assessments/{made['assessment_id']}"))["assessment"] == made
    assert assessments_of(api, trace_id) == [made]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"assessment_name": None}, "assessment.assessment_name"),
        ({"assessment_name": "n" * 251}, "maximum length of 250"),
        ({"feedback": None}, "exactly one of"),
        ({"expectation": {"value": 1}}, "exactly one of"),
        ({"trace_id": "tr-other"}, "differs from the trace in the path"),
        ({"metadata": {"k": 1}}, "expected an object of strings"),
        ({"rationale": ["no"]}, "expected a string"),
        ({"source": "HUMAN"}, "expected an object"),
        ({"create_time": "noon"}, "RFC 3339"),
        ({"feedback": {"value": "x" * 1_000_001}}, "exceeds 1,000,000 bytes"),
    ],
)
def test_a_bad_assessment_is_refused_and_not_written(api, trace_id, change, message):
    body = feedback(trace_id)
    for key, value in change.items():
        if value is None:
            del body["assessment"][key]
        else:
            body["assessment"][key] = value
    assert message in error(api.post(f"{V3}/{trace_id}/assessments", json=body))
    assert assessments_of(api, trace_id) == []


def test_assessments_of_unknown_traces_and_ids_are_not_found(api, trace_id):
    error(api.post(f"{V3}/tr-nope/assessments", json=feedback("tr-nope")), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.get(f"{V3}/{trace_id}/assessments/a-nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.delete(f"{V3}/{trace_id}/assessments/a-nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    overriding = feedback(trace_id, overrides="a-nope")
    error(api.post(f"{V3}/{trace_id}/assessments", json=overriding), 404, "RESOURCE_DOES_NOT_EXIST")
    assert assessments_of(api, trace_id) == []
    other = start(api, trace_body(new_experiment(api)))["trace_id"]
    made = ok(api.post(f"{V3}/{other}/assessments", json=feedback(other)))["assessment"]
    error(api.get(f"{V3}/{trace_id}/assessments/{made['assessment_id']}"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_updates_follow_the_mask_and_keep_the_kind(api, trace_id):
    made = ok(api.post(f"{V3}/{trace_id}/assessments", json=feedback(trace_id, metadata={"a": "1"})))["assessment"]
    url = f"{V3}/{trace_id}/assessments/{made['assessment_id']}"
    change = {"assessment_name": "renamed", "feedback": {"value": 5}, "rationale": "better", "metadata": {"b": "2"}}
    updated = ok(
        api.patch(url, json={"assessment": change, "update_mask": "assessmentName,feedback,rationale,metadata"})
    )
    got = updated["assessment"]
    assert (got["assessment_name"], got["feedback"], got["rationale"]) == ("renamed", {"value": 5}, "better")
    assert got["metadata"] == {"a": "1", "b": "2"} and got["source"] == made["source"]
    assert got["last_update_time"] >= got["create_time"]
    only_name = ok(
        api.patch(
            url,
            json={
                "assessment": {"assessment_name": "again", "rationale": "ignored"},
                "update_mask": {"paths": ["assessment_name"]},
            },
        )
    )
    assert only_name["assessment"]["assessment_name"] == "again" and only_name["assessment"]["rationale"] == "better"

    assert "Cannot update expectation value on a Feedback" in error(
        api.patch(url, json={"assessment": {"expectation": {"value": 1}}, "update_mask": "expectation"})
    )
    assert "update_mask" in error(api.patch(url, json={"assessment": {"rationale": "x"}}))
    assert "cannot update ['valid']" in error(
        api.patch(url, json={"assessment": {"valid": False}, "update_mask": "valid"})
    )
    assert "Cannot specify both" in error(
        api.patch(url, json={"assessment": {}, "update_mask": "feedback,expectation"})
    )
    assert assessments_of(api, trace_id)[0]["assessment_name"] == "again"


def test_overrides_invalidate_until_the_override_is_deleted(api, trace_id):
    first = ok(api.post(f"{V3}/{trace_id}/assessments", json=feedback(trace_id)))["assessment"]
    second = ok(api.post(f"{V3}/{trace_id}/assessments", json=feedback(trace_id, overrides=first["assessment_id"])))
    valid = {a["assessment_id"]: a["valid"] for a in assessments_of(api, trace_id)}
    assert valid == {first["assessment_id"]: False, second["assessment"]["assessment_id"]: True}
    ok(api.delete(f"{V3}/{trace_id}/assessments/{second['assessment']['assessment_id']}"))
    assert [(a["assessment_id"], a["valid"]) for a in assessments_of(api, trace_id)] == [(first["assessment_id"], True)]


def test_traces_are_searched_by_their_valid_assessments(api):
    from tests.http.test_traces import trace_ids

    experiment_id = new_experiment(api)
    made = [
        start(api, trace_body(experiment_id, request_time=f"2026-01-01T00:00:0{i}.000Z"))["trace_id"] for i in range(4)
    ]

    def assess(trace_id: str, kind: str, name: str, value: Any, **more: Any) -> str:
        body = feedback(trace_id, assessment_name=name, **more)
        del body["assessment"]["feedback"]
        body["assessment"][kind] = {"value": value}
        return ok(api.post(f"{V3}/{trace_id}/assessments", json=body))["assessment"]["assessment_id"]  # type: ignore[no-any-return]

    assess(made[0], "feedback", "correct", True)
    assess(made[0], "feedback", "score", 4.5)
    assess(made[1], "feedback", "correct", False)
    first = assess(made[1], "feedback", "tone", "rude")
    assess(made[1], "feedback", "tone", "polite", overrides=first)
    assess(made[2], "feedback", "score", 2)
    assess(made[2], "expectation", "answer", {"city": "Paris"})

    def found(filter_string: str) -> set[str]:
        return set(trace_ids(api, experiment_id, filter=filter_string))

    assert found("feedback.correct = 'true'") == {made[0]}
    assert found("feedback.correct != 'true'") == {made[1]}
    assert found("feedback.score > 3") == {made[0]} and found("feedback.score <= 4.5") == {made[0], made[2]}
    assert found("feedback.score = 2") == {made[2]}
    assert found("feedback.tone = 'polite'") == {made[1]} and found("feedback.tone = 'rude'") == set()  # overridden
    assert found("feedback.tone LIKE 'pol%'") == {made[1]}
    assert found("expectation.answer LIKE '%Paris%'") == {made[2]}
    assert found("feedback.score IS NULL") == {made[1], made[3]}
    assert found("feedback.correct IS NOT NULL AND feedback.score > 1") == {made[0]}
    assert "Expected a numeric value" in error(search(api, experiment_id, filter="feedback.score > 'high'"))
