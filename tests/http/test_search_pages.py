"""runs/search pages are built with the params and tags encoded by the database: they must read
exactly as runs/get does, whatever the values hold. Page tokens that do not fit are MLflow's 400."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.http.conftest import API, error, get_run, new_experiment, new_run, ok, post

AWKWARD_VALUES = [
    "",
    'quote " and backslash \\',
    "tab\tnewline\ncarriage\rreturn",
    "control \x01\x1f and delete \x7f",
    "unicode: héllo, 日本語, emoji 🚀",
    "</script><b>html</b>",
    "a" * 6000,  # a long param value (MLflow's limit is 6,000)
]


def _as_maps(run: dict[str, Any]) -> dict[str, Any]:
    """A run with its params, tags and metrics as mappings (their order on the wire is not specified)."""
    data = run.get("data", {})
    return {
        "info": run["info"],
        "params": {p["key"]: p["value"] for p in data.get("params", [])},
        "tags": {t["key"]: t["value"] for t in data.get("tags", [])},
        "metrics": {m["key"]: m for m in data.get("metrics", [])},
        "inputs": run.get("inputs"),
        "outputs": run.get("outputs"),
    }


def test_search_pages_read_exactly_as_runs_get(api: httpx.Client) -> None:
    experiment_id = new_experiment(api)
    run_ids = [new_run(api, experiment_id) for _ in range(4)]
    for i, run_id in enumerate(run_ids[:3]):
        ok(
            post(
                api,
                "/runs/log-batch",
                {
                    "run_id": run_id,
                    "params": [{"key": f"p{j}", "value": v} for j, v in enumerate(AWKWARD_VALUES)],
                    "tags": [{"key": f"t{j}", "value": v} for j, v in enumerate(AWKWARD_VALUES[:-1])],
                    "metrics": [{"key": "m", "value": i / 3, "timestamp": 1, "step": 0}],
                },
            )
        )
    # run_ids[3] has nothing but its system tags; strip those too to get a run with no tags at all
    for tag in get_run(api, run_ids[3])["data"].get("tags", []):
        ok(post(api, "/runs/delete-tag", {"run_id": run_ids[3], "key": tag["key"]}))

    page = ok(post(api, "/runs/search", {"experiment_ids": [experiment_id], "max_results": 10}))
    assert {r["info"]["run_id"] for r in page["runs"]} == set(run_ids)
    for found in page["runs"]:
        assert _as_maps(found) == _as_maps(get_run(api, found["info"]["run_id"]))
    bare = next(r for r in page["runs"] if r["info"]["run_id"] == run_ids[3])
    assert "params" not in bare.get("data", {}) and "tags" not in bare.get("data", {})  # empty lists are left out


def test_search_response_is_one_valid_json_document(api: httpx.Client) -> None:
    experiment_id = new_experiment(api)
    run_id = new_run(api, experiment_id)
    ok(post(api, "/runs/set-tag", {"run_id": run_id, "key": "note", "value": AWKWARD_VALUES[3]}))
    response = api.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id]})
    assert response.headers["content-type"].startswith("application/json")
    (run,) = response.json()["runs"]
    assert {t["key"]: t["value"] for t in run["data"]["tags"]}["note"] == AWKWARD_VALUES[3]


# ---- page tokens -------------------------------------------------------------------------------


def _token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _paged_experiment(api: httpx.Client) -> str:
    experiment_id = new_experiment(api)
    for i in range(5):
        ok(post(api, "/runs/create", {"experiment_id": experiment_id, "start_time": 1000 + i}))
    return experiment_id


def test_offset_tokens_keep_working(api: httpx.Client) -> None:
    experiment_id = _paged_experiment(api)
    everything = ok(post(api, "/runs/search", {"experiment_ids": [experiment_id]}))["runs"]
    body = {"experiment_ids": [experiment_id], "max_results": 2, "page_token": _token({"offset": 1})}
    page = ok(post(api, "/runs/search", body))
    assert page["runs"] == everything[1:3]
    rest = ok(post(api, "/runs/search", {**body, "page_token": page["next_page_token"]}))
    assert rest["runs"] == everything[3:5] and "next_page_token" not in rest


def test_a_token_for_another_order_by_is_a_400(api: httpx.Client) -> None:
    experiment_id = _paged_experiment(api)
    page = ok(post(api, "/runs/search", {"experiment_ids": [experiment_id], "max_results": 2}))
    body = {"experiment_ids": [experiment_id], "order_by": ["metrics.m"], "page_token": page["next_page_token"]}
    assert "another order_by" in error(post(api, "/runs/search", body))


@pytest.mark.parametrize(
    "payload",
    [
        {"v": 2, "after": ["1000", "abc"]},  # a string where start_time is an integer
        {"v": 2, "after": [10**30, "abc"]},
        {"v": 9, "after": [1000, "abc"]},
        {"after": [1000, "abc"]},
    ],
)
def test_tampered_tokens_are_a_400_not_a_500(api: httpx.Client, payload: dict[str, Any]) -> None:
    experiment_id = _paged_experiment(api)
    page = ok(post(api, "/runs/search", {"experiment_ids": [experiment_id], "max_results": 2}))
    sort = json.loads(base64.urlsafe_b64decode(page["next_page_token"]))["sort"]
    token = _token({"sort": sort, **payload})
    error(post(api, "/runs/search", {"experiment_ids": [experiment_id], "page_token": token}))


def test_a_token_the_database_cannot_take_is_never_a_500(api: httpx.Client) -> None:
    experiment_id = _paged_experiment(api)
    page = ok(post(api, "/runs/search", {"experiment_ids": [experiment_id], "max_results": 2}))
    payload = json.loads(base64.urlsafe_b64decode(page["next_page_token"]))
    token = _token({**payload, "after": [1000, "nul \x00 char"]})  # PostgreSQL text cannot hold NUL
    response = post(api, "/runs/search", {"experiment_ids": [experiment_id], "page_token": token})
    assert response.status_code in (200, 400)  # the `api` fixture also checks MLflow's error shape
