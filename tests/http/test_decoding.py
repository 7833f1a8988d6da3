"""Request decoding (reference §1): bodies, content types, types, numbers as strings, run_uuid, query strings."""

from __future__ import annotations

import json
import math

import pytest

from tests.http.conftest import API, error, get_run, new_experiment, new_run, ok, post


def _raw(api, path, content: bytes, content_type: str | None = "application/json"):
    headers = {"Content-Type": content_type} if content_type else {}
    return api.post(API + path, content=content, headers=headers)


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"{'name': 'x'}",
        b"not json",
        b'{"name": "x",}',
        b"\xff\xfe",
        b'{"name": "x"} trailing',
        b"[1, 2]",
        b'"str"',
        b"42",
        b"null",
    ],
)
def test_malformed_json_is_a_400(api, body):
    error(_raw(api, "/experiments/create", body))
    error(_raw(api, "/runs/log-batch", body))


def test_empty_body_means_empty_request(api):
    # An empty object: required fields are then missing.
    message = error(_raw(api, "/experiments/create", b""))
    assert "name" in message


def test_missing_content_type(api):
    message = error(_raw(api, "/experiments/create", b'{"name": "x"}', content_type=None))
    assert message == "Bad Request. Content-Type header is missing."


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_other_content_type(api, content_type):
    message = error(_raw(api, "/experiments/create", b'{"name": "x"}', content_type=content_type))
    assert message == "Bad Request. Content-Type must be one of ['application/json']."


def test_content_type_with_charset_is_fine(api):
    name = "charset-" + new_experiment(api)
    ok(_raw(api, "/experiments/create", json.dumps({"name": name}).encode(), "application/json; charset=utf-8"))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/experiments/create", {"name": 123}),
        ("/experiments/create", {"name": ["x"]}),
        ("/experiments/create", {"name": "x", "tags": "not-a-list"}),
        ("/experiments/create", {"name": "x", "tags": [{"key": 1, "value": "v"}]}),
        ("/experiments/search", {"max_results": "many"}),
        ("/experiments/search", {"max_results": 1.5}),
        ("/experiments/search", {"max_results": 10, "order_by": "name"}),
        ("/runs/create", {"experiment_id": {"a": 1}}),
        ("/runs/create", {"experiment_id": "0", "start_time": "yesterday"}),
        ("/runs/search", {"experiment_ids": "0"}),
        ("/runs/search", {"experiment_ids": ["0"], "max_results": True}),
        ("/runs/log-metric", {"run_id": "abc", "key": "m", "value": "high", "timestamp": 1}),
        ("/runs/log-metric", {"run_id": "abc", "key": "m", "value": 1, "timestamp": 1, "step": "three"}),
        ("/runs/log-batch", {"run_id": "abc", "metrics": {"key": "m"}}),
        ("/runs/log-batch", {"run_id": "abc", "params": [["k", "v"]]}),
        ("/runs/update", {"run_id": "abc", "end_time": [1]}),
    ],
)
def test_wrong_types_are_a_400(api, path, body):
    error(post(api, path, body))


def test_unknown_fields_are_ignored_and_null_is_absent(api):
    exp = new_experiment(api)
    body = {
        "experiment_id": exp,
        "surprise": {"nested": [1, 2]},
        "run_name": None,
        "tags": None,
        "user_id": None,
    }
    run = ok(post(api, "/runs/create", body))["run"]
    assert run["info"]["experiment_id"] == exp
    assert run["info"]["run_name"]  # generated


def test_null_where_a_default_applies_takes_the_default(api):
    exp = new_experiment(api)
    run_id = ok(post(api, "/runs/create", {"experiment_id": exp}))["run"]["info"]["run_id"]
    point = {"key": "m", "value": 0.5, "timestamp": 1700000000000, "step": None, "model_id": None}
    ok(post(api, "/runs/log-metric", {"run_id": run_id, **point}))
    ok(post(api, "/runs/log-batch", {"run_id": run_id, "metrics": [{**point, "key": "b"}], "params": None}))
    history = ok(api.get(API + "/metrics/get-history", params={"run_id": run_id, "metric_key": "b"}))["metrics"]
    assert [(m["value"], m["step"]) for m in history] == [(0.5, 0)]
    history = ok(api.get(API + "/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}))["metrics"]
    assert [(m["value"], m["step"]) for m in history] == [(0.5, 0)]


def test_numbers_as_strings_like_the_r_client(api):
    exp = new_experiment(api)
    run = ok(post(api, "/runs/create", {"experiment_id": exp, "user_id": "ruser", "start_time": "1795786574515"}))
    run_id = run["run"]["info"]["run_id"]
    assert run["run"]["info"]["start_time"] == 1795786574515
    both = {"run_id": run_id, "run_uuid": run_id}
    ok(
        post(
            api,
            "/runs/log-metric",
            {**both, "key": "m", "value": "0.5", "timestamp": "1700000000000", "step": "3"},
        )
    )
    ok(post(api, "/runs/log-parameter", {**both, "key": "p", "value": "1"}))
    ok(post(api, "/runs/set-tag", {**both, "key": "t", "value": "v"}))
    ok(
        post(
            api,
            "/runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "b", "value": "1.5", "step": "0", "timestamp": "1700000000002"}],
                "params": [{"key": "bp", "value": "x"}],
                "tags": [{"key": "bt", "value": "y"}],
            },
        )
    )
    info = ok(post(api, "/runs/update", {**both, "status": "FINISHED", "end_time": "1795786574964"}))["run_info"]
    assert info["status"] == "FINISHED"
    assert info["end_time"] == 1795786574964
    assert info["run_uuid"] == run_id

    data = get_run(api, run_id)["data"]
    metrics = {m["key"]: m for m in data["metrics"]}
    assert metrics["m"] == {"key": "m", "value": 0.5, "timestamp": 1700000000000, "step": 3}
    assert metrics["b"]["value"] == 1.5
    # int64 values go out as JSON numbers.
    assert isinstance(metrics["b"]["timestamp"], int)

    found = ok(
        post(
            api,
            "/runs/search",
            {"experiment_ids": [exp], "run_view_type": "ACTIVE_ONLY", "order_by": [], "max_results": "10"},
        )
    )
    assert [r["info"]["run_uuid"] for r in found["runs"]] == [run_id]
    exps = ok(post(api, "/experiments/search", {"view_type": "ACTIVE_ONLY", "max_results": "1000", "order_by": []}))
    assert exp in {e["experiment_id"] for e in exps["experiments"]}
    ok(post(api, "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "k", "value": "v"}))
    history = ok(
        api.get(
            f"{API}/metrics/get-history",
            params={"run_uuid": run_id, "run_id": run_id, "metric_key": "m", "max_results": "5"},
        )
    )
    assert [m["step"] for m in history["metrics"]] == [3]


@pytest.mark.parametrize(
    ("sent", "check"),
    [
        ("NaN", math.isnan),
        ("Infinity", lambda v: v > 1e308),
        ("-Infinity", lambda v: v < -1e308),
        ("1e3", lambda v: v == 1000.0),
        ("-0.25", lambda v: v == -0.25),
    ],
)
def test_special_float_strings(api, sent, check):
    run_id = new_run(api)
    ok(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": sent, "timestamp": 1}))
    ok(
        post(
            api,
            "/runs/log-batch",
            {"run_id": run_id, "metrics": [{"key": "b", "value": sent, "timestamp": 1}]},
        )
    )
    data = get_run(api, run_id)["data"]
    for metric in data["metrics"]:
        value = metric["value"]
        if value == "NaN":  # how NaN goes out on the wire
            value = math.nan
        elif value in ("Infinity", "-Infinity"):
            value = float(value)
        assert check(value), metric


def test_nan_goes_out_as_the_string_nan(api):
    run_id = new_run(api)
    ok(post(api, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": "NaN", "timestamp": 1}))
    assert get_run(api, run_id)["data"]["metrics"][0]["value"] == "NaN"
    history = ok(api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}))
    assert history["metrics"][0]["value"] == "NaN"


def test_run_uuid_alone_or_with_run_id(api):
    run_id = new_run(api)
    other = new_run(api)
    assert get_run(api, run_id)["info"]["run_id"] == run_id
    assert ok(api.get(f"{API}/runs/get", params={"run_uuid": run_id}))["run"]["info"]["run_id"] == run_id
    ok(post(api, "/runs/log-parameter", {"run_uuid": run_id, "key": "a", "value": "1"}))
    ok(post(api, "/runs/set-tag", {"run_uuid": run_id, "key": "t", "value": "1"}))
    ok(post(api, "/runs/log-metric", {"run_uuid": run_id, "key": "m", "value": 1, "timestamp": 1}))
    # run_id wins when both are sent.
    ok(post(api, "/runs/log-parameter", {"run_id": run_id, "run_uuid": other, "key": "b", "value": "2"}))
    assert {p["key"] for p in get_run(api, run_id)["data"]["params"]} == {"a", "b"}
    assert "params" not in get_run(api, other)["data"]


def test_missing_run_id(api):
    message = error(post(api, "/runs/log-parameter", {"key": "a", "value": "1"}))
    assert "run_id" in message
    error(api.get(f"{API}/runs/get"))


def test_enums_as_numbers(api):
    exp = new_experiment(api)
    run_id = new_run(api, exp)
    info = ok(post(api, "/runs/update", {"run_id": run_id, "status": 3}))["run_info"]
    assert info["status"] == "FINISHED"
    info = ok(post(api, "/runs/update", {"run_id": run_id, "status": "4"}))["run_info"]
    assert info["status"] == "FAILED"
    # An unknown status leaves the status unchanged.
    info = ok(post(api, "/runs/update", {"run_id": run_id, "status": "SLEEPING"}))["run_info"]
    assert info["status"] == "FAILED"
    ok(post(api, "/runs/delete", {"run_id": run_id}))
    deleted = ok(post(api, "/runs/search", {"experiment_ids": [exp], "run_view_type": 2}))
    assert [r["info"]["run_id"] for r in deleted["runs"]] == [run_id]
    error(post(api, "/runs/search", {"experiment_ids": [exp], "run_view_type": "SOME"}))


def test_repeated_query_keys(api):
    exp = new_experiment(api)
    # GET experiments/search repeats order_by.
    response = api.get(
        f"{API}/experiments/search",
        params=[
            ("max_results", "5"),
            ("order_by", "creation_time DESC"),
            ("order_by", "name ASC"),
            ("filter", f"experiment_id = '{exp}'"),
        ],
    )
    assert [e["experiment_id"] for e in ok(response)["experiments"]] == [exp]
    # A repeated scalar key is not a 500.
    run_id = new_run(api, exp)
    response = api.get(f"{API}/runs/get", params=[("run_id", run_id), ("run_id", run_id)])
    assert response.status_code in (200, 400)


def test_booleans_in_query_strings(api):
    exp = new_experiment(api)
    for value in ("true", "True", "TRUE", "false", "False"):
        response = api.get(
            f"{API}/experiments/search",
            params={"max_results": "5", "filter": f"experiment_id = '{exp}'", "unused_flag": value},
        )
        assert ok(response)["experiments"][0]["experiment_id"] == exp


def test_camel_case_names_do_not_break_anything(api):
    exp = new_experiment(api)
    response = post(api, "/runs/create", {"experimentId": exp, "experiment_id": exp})
    assert response.status_code in (200, 400)


def test_unicode_everywhere(api):
    exp = ok(post(api, "/experiments/create", {"name": "эксперимент-" + new_experiment(api)}))["experiment_id"]
    run_id = new_run(api, exp)
    ok(post(api, "/runs/log-parameter", {"run_id": run_id, "key": "größe", "value": "值 ✓"}))
    assert get_run(api, run_id)["data"]["params"] == [{"key": "größe", "value": "值 ✓"}]
