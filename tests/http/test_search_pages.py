"""runs/search pages are built with the params and tags encoded by the database: they must read
exactly as runs/get does, whatever the values hold."""

from __future__ import annotations

from typing import Any

import httpx

from tests.http.conftest import API, get_run, new_experiment, new_run, ok, post

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
