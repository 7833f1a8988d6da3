"""Registered scorers over plain HTTP: MLflow's shapes and errors, and `--auth` (a scorer is its
experiment's)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.http.conftest import ADMIN, error, new_experiment, ok

SCORERS = "/api/3.0/mlflow/scorers"
GUIDELINES = json.dumps({"name": "polite", "builtin_scorer_class": "Guidelines", "builtin_scorer_pydantic_data": {}})


INSTRUCTIONS_JUDGE_WITHOUT_MODEL = json.dumps({"name": "j", "instructions_judge_pydantic_data": {"model": " "}})


def third_party(kwargs: object) -> str:
    return json.dumps({"name": "t", "third_party_scorer_data": {"model": "openai:/gpt-4o", "kwargs": kwargs}})


def register(api: httpx.Client, experiment_id: str, name: str = "polite", serialized: str = GUIDELINES) -> dict:  # type: ignore[type-arg]
    body = {"experiment_id": experiment_id, "name": name, "serialized_scorer": serialized}
    return ok(api.post(f"{SCORERS}/register", json=body))  # type: ignore[no-any-return]


def test_a_registration_answers_mlflows_fields_and_numbers_versions(api):
    experiment_id = new_experiment(api)
    first = register(api, experiment_id)
    assert first["version"] == 1 and first["experiment_id"] == experiment_id and first["name"] == "polite"
    assert first["serialized_scorer"] == GUIDELINES and isinstance(first["creation_time"], int)
    assert str(uuid.UUID(first["scorer_id"])) == first["scorer_id"]
    second = register(api, experiment_id)
    assert (second["version"], second["scorer_id"]) == (2, first["scorer_id"])
    got = ok(api.get(f"{SCORERS}/get", params={"experiment_id": experiment_id, "name": "polite", "version": 1}))
    assert got["scorer"] == {
        "experiment_id": int(experiment_id),  # a number in MLflow's Scorer message
        "scorer_name": "polite",
        "scorer_version": 1,
        "serialized_scorer": GUIDELINES,
        "creation_time": first["creation_time"],
        "scorer_id": first["scorer_id"],
    }
    versions = ok(api.get(f"{SCORERS}/versions", params={"experiment_id": experiment_id, "name": "polite"}))
    assert [s["scorer_version"] for s in versions["scorers"]] == [1, 2]
    listed = ok(api.get(f"{SCORERS}/list", params={"experiment_ids": [experiment_id]}))
    assert [s["scorer_version"] for s in listed["scorers"]] == [2]
    assert ok(api.get(f"{SCORERS}/online-configs", params={"scorer_ids": [first["scorer_id"]]})) == {"configs": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "serialized_scorer": "{}"}, "experiment_id"),
        ({"experiment_id": "0", "serialized_scorer": "{}"}, "name"),
        ({"experiment_id": "0", "name": "  ", "serialized_scorer": "{}"}, "whitespace"),
        ({"experiment_id": "0", "name": "n" * 257, "serialized_scorer": "{}"}, "256"),
        ({"experiment_id": "0", "name": "x"}, "serialized_scorer"),
        ({"experiment_id": "0", "name": "x", "serialized_scorer": "{"}, "valid JSON"),
        ({"experiment_id": "0", "name": "x", "serialized_scorer": "[1]"}, "JSON object"),
        ({"experiment_id": "0", "name": "x", "serialized_scorer": '{"call_source": "import os"}'}, "@scorer"),
        (
            {"experiment_id": "0", "name": "x", "serialized_scorer": '{"ensemble": [{"call_source": "x"}]}'},
            "@scorer",
        ),
        ({"experiment_id": "zero", "name": "x", "serialized_scorer": "{}"}, "zero"),
        # A judge's model wherever its kind keeps it, and a third-party scorer's client options that would
        # send its requests (with the caller's API key) elsewhere, as MLflow refuses them.
        ({"experiment_id": "0", "name": "x", "serialized_scorer": INSTRUCTIONS_JUDGE_WITHOUT_MODEL}, "whitespace"),
        ({"experiment_id": "0", "name": "x", "serialized_scorer": third_party({"api_base": "http://x"})}, "api_base"),
        (
            {"experiment_id": "0", "name": "x", "serialized_scorer": third_party({"o": [["base_url", "http://x"]]})},
            "base_url",
        ),
        (
            {"experiment_id": "0", "name": "x", "serialized_scorer": json.dumps({"s": [json.loads(third_party([1]))]})},
            "must be a JSON object",
        ),
    ],
)
def test_a_registration_mlflow_refuses_is_refused(api, body, message):
    assert message in error(api.post(f"{SCORERS}/register", json=body))


def test_missing_scorers_versions_and_experiments_are_404(api):
    experiment_id = new_experiment(api)
    params = {"experiment_id": experiment_id, "name": "nope"}
    error(api.get(f"{SCORERS}/get", params=params), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.get(f"{SCORERS}/versions", params=params), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.request("DELETE", f"{SCORERS}/delete", json=params), 404, "RESOURCE_DOES_NOT_EXIST")
    # A name no scorer can have is looked up all the same, as in MLflow: not found, not invalid.
    for name in ("  ", "n" * 300):
        error(api.get(f"{SCORERS}/get", params={**params, "name": name}), 404, "RESOURCE_DOES_NOT_EXIST")
        error(api.get(f"{SCORERS}/versions", params={**params, "name": name}), 404, "RESOURCE_DOES_NOT_EXIST")
    register(api, experiment_id)
    body = {"experiment_id": experiment_id, "name": "polite", "version": 7}
    assert "version 7" in error(api.request("DELETE", f"{SCORERS}/delete", json=body), 404, "RESOURCE_DOES_NOT_EXIST")
    # Its only version deleted, the scorer is not found either, whichever way it is asked for.
    ok(api.request("DELETE", f"{SCORERS}/delete", json={**body, "version": 1}))
    polite = {"experiment_id": experiment_id, "name": "polite"}
    error(api.get(f"{SCORERS}/versions", params=polite), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.get(f"{SCORERS}/get", params=polite), 404, "RESOURCE_DOES_NOT_EXIST")
    assert "scorers" not in ok(api.get(f"{SCORERS}/list", params={"experiment_id": experiment_id}))
    assert register(api, experiment_id)["version"] == 1
    error(api.get(f"{SCORERS}/list", params={"experiment_id": "987654321"}), 404, "RESOURCE_DOES_NOT_EXIST")
    both = {"experiment_id": experiment_id, "experiment_ids": [experiment_id]}
    assert "both" in error(api.get(f"{SCORERS}/list", params=both))
    assert "scorer_ids" in error(api.get(f"{SCORERS}/online-configs"))


def test_with_auth_scorers_are_seen_and_changed_as_their_experiment(guarded):
    with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
        bob = (f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
        ok(admin.post("/api/2.0/mlflow/users/create", json={"username": bob[0], "password": bob[1]}))
        hidden, shared = new_experiment(admin), new_experiment(admin)
        register(admin, hidden)
        register(admin, shared)
        grant = {"experiment_id": hidden, "username": bob[0], "permission": "NO_PERMISSIONS"}
        ok(admin.post("/api/2.0/mlflow/experiments/permissions/create", json=grant))
    with httpx.Client(base_url=guarded.url, auth=bob, timeout=60) as as_bob:
        listed = ok(as_bob.get(f"{SCORERS}/list"))  # every experiment's, but only those bob may read
        seen = {str(s["experiment_id"]) for s in listed.get("scorers", [])}
        assert shared in seen and hidden not in seen
        params = {"experiment_id": hidden, "name": "polite"}
        error(as_bob.get(f"{SCORERS}/get", params=params), 403, "PERMISSION_DENIED")
        error(as_bob.get(f"{SCORERS}/list", params={"experiment_id": hidden}), 403, "PERMISSION_DENIED")
        assert ok(as_bob.get(f"{SCORERS}/get", params={"experiment_id": shared, "name": "polite"}))["scorer"]
        body = {"experiment_id": shared, "name": "mine", "serialized_scorer": "{}"}
        error(as_bob.post(f"{SCORERS}/register", json=body), 403, "PERMISSION_DENIED")  # READ only
        body = {"experiment_id": shared, "name": "polite"}
        error(as_bob.request("DELETE", f"{SCORERS}/delete", json=body), 403, "PERMISSION_DENIED")


def test_concurrent_first_registrations_of_a_scorer_number_its_versions(api, server):
    from concurrent.futures import ThreadPoolExecutor

    experiment_id = new_experiment(api)

    def register(_: int) -> int:
        body = {"experiment_id": experiment_id, "name": "judge", "serialized_scorer": "{}"}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return ok(client.post(f"{SCORERS}/register", json=body))["version"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(register, range(8))) == list(range(1, 9))
