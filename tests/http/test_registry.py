"""The model registry over HTTP: shapes, MLflow's error codes and messages, and what clients never send."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.http.conftest import API, error, new_experiment, new_run, ok, post, samples
from tests.http.test_shapes import assert_shape


def new_name(prefix: str = "rm") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_model(api: httpx.Client, name: str | None = None, **fields: Any) -> str:
    name = name or new_name()
    ok(post(api, "/registered-models/create", {"name": name, **fields}))
    return name


def logged_model(api: httpx.Client) -> dict[str, Any]:
    experiment_id = new_experiment(api)
    run_id = new_run(api, experiment_id)
    body = {"experiment_id": experiment_id, "name": "model", "source_run_id": run_id}
    return ok(post(api, "/logged-models", body))["model"]["info"]  # type: ignore[no-any-return]


def create_version(api: httpx.Client, name: str, source: str = "s3://bucket/model", **fields: Any) -> dict[str, Any]:
    return ok(post(api, "/model-versions/create", {"name": name, "source": source, **fields}))["model_version"]  # type: ignore[no-any-return]


def get_model(api: httpx.Client, name: str) -> dict[str, Any]:
    return ok(api.get(f"{API}/registered-models/get", params={"name": name}))["registered_model"]  # type: ignore[no-any-return]


def get_version(api: httpx.Client, name: str, version: str) -> httpx.Response:
    return api.get(f"{API}/model-versions/get", params={"name": name, "version": version})


def delete(api: httpx.Client, path: str, body: Any) -> httpx.Response:
    return api.request("DELETE", API + path, json=body)


def patch(api: httpx.Client, path: str, body: Any) -> httpx.Response:
    return api.request("PATCH", API + path, json=body)


# ---- shapes ------------------------------------------------------------------------------------


def test_shapes_match_mlflow_recordings(api):
    """Every field MLflow's answers carried (mlflow-wire-samples.jsonl) is in tracklet's, spelled the same."""
    recorded = samples()
    created = post(api, "/registered-models/create", {"name": new_name()}).json()
    assert set(created["registered_model"]) == set(
        recorded["POST /api/2.0/mlflow/registered-models/create"]["example"]["response"]["body"]["registered_model"]
    )
    info = logged_model(api)
    source = f"models:/{info['model_id']}"
    version = create_version(api, created["registered_model"]["name"], source, model_id=info["model_id"])
    mlflow_version = recorded["POST /api/2.0/mlflow/model-versions/create"]["example"]["response"]["body"]
    assert set(version) == set(mlflow_version["model_version"])
    assert (version["version"], version["current_stage"], version["status"]) == ("1", "None", "READY")
    assert (version["description"], version["run_link"]) == ("", "")  # sent empty, as MLflow does
    assert version["run_id"] == info["source_run_id"]  # taken from the logged model
    name = created["registered_model"]["name"]
    model = get_model(api, name)
    assert [v["version"] for v in model["latest_versions"]] == ["1"]
    assert "description" not in model and "tags" not in model and "aliases" not in model
    assert_shape("GET /api/2.0/mlflow/registered-models/get", {"registered_model": model})
    uri = ok(api.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": "1"}))
    assert_shape("GET /api/2.0/mlflow/model-versions/get-download-uri", uri)
    # What the client gets when `models:/<name>/<stage>` names no registered model.
    recorded = samples()["POST /api/2.0/mlflow/registered-models/get-latest-versions"]["error_example"]
    response = post(api, "/registered-models/get-latest-versions", recorded["request"]["body"])
    assert response.status_code == recorded["response"]["status"]
    body = response.json()
    assert (body["error_code"], body["message"]) == (
        recorded["response"]["body"]["error_code"],
        recorded["response"]["body"]["message"],
    )


def test_a_version_registered_without_a_run_has_an_empty_run_id(api):
    name = create_model(api)
    assert create_version(api, name)["run_id"] == ""


# ---- validation and errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing value for required parameter 'name'"),
        ({"name": "  "}, "Missing value for required parameter 'name'"),
        ({"name": "a/b"}, "Invalid model name 'a/b'. Names cannot contain '/' or ':'."),
        ({"name": "a:b"}, "Names cannot contain '/' or ':'"),
        ({"name": ".."}, "must not resolve to other names"),
        ({"name": "x" * 257}, "'name' exceeds the maximum length of 256 characters"),
        ({"name": "ok", "tags": [{"key": "bad*key", "value": "v"}]}, "Invalid tag name 'bad*key'"),
        (
            {"name": "ok", "tags": [{"key": "k", "value": "v" * 100_001}]},
            "'value' exceeds the maximum length of 100000",
        ),
        ({"name": "ok", "tags": "not a list"}, "Invalid value for parameter 'tags'"),
    ],
)
def test_create_registered_model_validation(api, body, message):
    assert message in error(post(api, "/registered-models/create", body))


def test_a_rejected_create_writes_nothing(api):
    name = new_name()
    error(post(api, "/registered-models/create", {"name": name, "tags": [{"key": "k"}, {"key": "bad*"}]}))
    error(api.get(f"{API}/registered-models/get", params={"name": name}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_duplicate_and_missing_models(api):
    name = create_model(api)
    message = error(post(api, "/registered-models/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    assert message == f"Registered Model (name={name}) already exists."
    message = error(
        api.get(f"{API}/registered-models/get", params={"name": name + "x"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert message == f"Registered Model with name={name}x not found"
    for response in (
        post(api, "/registered-models/rename", {"name": name + "x", "new_name": new_name()}),
        patch(api, "/registered-models/update", {"name": name + "x", "description": "d"}),
        delete(api, "/registered-models/delete", {"name": name + "x"}),
        post(api, "/registered-models/set-tag", {"name": name + "x", "key": "k", "value": "v"}),
        post(api, "/registered-models/get-latest-versions", {"name": name + "x"}),
        post(api, "/model-versions/create", {"name": name + "x", "source": "s3://b/m"}),
    ):
        error(response, 404, "RESOURCE_DOES_NOT_EXIST")


def test_rename_onto_another_model_is_refused_and_changes_nothing(api):
    first, second = create_model(api), create_model(api)
    create_version(api, first)
    error(post(api, "/registered-models/rename", {"name": first, "new_name": second}), 400, "RESOURCE_ALREADY_EXISTS")
    assert [v["name"] for v in get_model(api, first)["latest_versions"]] == [first]
    assert "Missing value for required parameter 'new_name'" in error(
        post(api, "/registered-models/rename", {"name": first})
    )


@pytest.mark.parametrize(
    ("query", "status", "code", "message"),
    [
        ({"version": "abc"}, 400, "INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'abc'."),
        ({"version": ""}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'version'"),
        ({"version": "9"}, 404, "RESOURCE_DOES_NOT_EXIST", "Model Version (name={name}, version=9) not found"),
        ({"version": str(2**40)}, 404, "RESOURCE_DOES_NOT_EXIST", "not found"),
        ({"version": "-1"}, 404, "RESOURCE_DOES_NOT_EXIST", "not found"),
    ],
)
def test_model_version_lookups(api, query, status, code, message):
    name = create_model(api)
    create_version(api, name)
    got = error(api.get(f"{API}/model-versions/get", params={"name": name, **query}), status, code)
    assert message.format(name=name) in got


def test_version_numbers_are_per_model_and_never_reused(api):
    first, second = create_model(api), create_model(api)
    assert [create_version(api, first)["version"] for _ in range(3)] == ["1", "2", "3"]
    assert create_version(api, second)["version"] == "1"
    ok(delete(api, "/model-versions/delete", {"name": first, "version": "3"}))
    error(get_version(api, first, "3"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(delete(api, "/model-versions/delete", {"name": first, "version": "3"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert create_version(api, first)["version"] == "4"


def test_deleting_a_model_deletes_its_versions_tags_and_aliases(api):
    name = create_model(api, tags=[{"key": "k", "value": "v"}])
    create_version(api, name, tags=[{"key": "t", "value": "1"}])
    ok(post(api, "/registered-models/alias", {"name": name, "alias": "a", "version": "1"}))
    ok(delete(api, "/registered-models/delete", {"name": name}))
    error(get_version(api, name, "1"), 404, "RESOURCE_DOES_NOT_EXIST")
    found = ok(api.get(f"{API}/model-versions/search", params={"filter": f"name = '{name}'"}))
    assert found == {}
    create_model(api, name)
    model = get_model(api, name)
    assert "tags" not in model and "aliases" not in model and "latest_versions" not in model


@pytest.mark.parametrize(
    ("source", "fields", "message"),
    [
        ("s3://b/../etc", {}, "an absolute path must be provided without relative path references"),
        ("s3://b/%2E%2E/etc", {}, "without relative path references"),
        ("/etc/passwd", {}, "To use a local path as a model version source, the run_id request parameter"),
        ("file:///etc/passwd", {}, "To use a local path as a model version source"),
        ("runs:/0123/model", {}, "The run_id request parameter must identify the resource"),
        ("runs:/0123/model", {"run_id": "4567"}, "The run_id request parameter must identify the resource"),
        ("mlflow-artifacts:/0/x/artifacts/model", {}, "The run_id request parameter must identify"),
        ("models:/m-0123", {}, "The model_id request parameter must identify the resource"),
        ("models://host/m-0123", {}, "The model_id request parameter must identify the resource"),
        ("models:/a/b/c", {}, "The model_id request parameter must identify the resource"),
    ],
)
def test_unsafe_or_unowned_sources_are_refused(api, source, fields, message):
    name = create_model(api)
    assert message in error(post(api, "/model-versions/create", {"name": name, "source": source, **fields}))
    assert "latest_versions" not in get_model(api, name)  # nothing was written


def test_sources_of_a_run(api):
    experiment_id = new_experiment(api)
    run_id = new_run(api, experiment_id)
    run_root = ok(api.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["info"]["artifact_uri"]
    other_run = new_run(api, experiment_id)
    name = create_model(api)
    by_runs_uri = create_version(api, name, f"runs:/{run_id}/model", run_id=run_id)
    by_artifacts = create_version(api, name, f"{run_root}/model", run_id=run_id)
    assert by_runs_uri["run_id"] == by_artifacts["run_id"] == run_id
    uri = ok(api.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": "1"}))
    assert uri == {"artifact_uri": f"runs:/{run_id}/model"}
    uri = ok(api.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": "2"}))
    assert uri == {"artifact_uri": f"{run_root}/model"}
    # Another run's files are not this run's to register.
    body = {"name": name, "source": f"{run_root}/model", "run_id": other_run}
    assert "run_id request parameter must identify" in error(post(api, "/model-versions/create", body))


def test_sources_of_a_logged_model_and_of_another_version(api):
    info = logged_model(api)
    name = create_model(api)
    source = f"models:/{info['model_id']}"
    version = create_version(api, name, source, model_id=info["model_id"], run_link="http://x/run")
    assert version["run_link"] == "http://x/run"
    uri = ok(api.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": "1"}))
    assert uri == {"artifact_uri": info["artifact_uri"]}
    # The logged model now lists the version (as MLflow's server writes it: the version as a number).
    model = ok(api.get(f"{API}/logged-models/{info['model_id']}"))["model"]
    tags = {t["key"]: t["value"] for t in model["info"]["tags"]}
    assert json.loads(tags["mlflow.modelVersions"]) == [{"name": name, "version": 1}]
    # A models:/<id> source needs the same model_id; an unknown logged model is refused.
    assert "model_id request parameter" in error(post(api, "/model-versions/create", {"name": name, "source": source}))
    body = {"name": name, "source": "models:/m-nope", "model_id": "m-nope"}
    error(post(api, "/model-versions/create", body), 404, "RESOURCE_DOES_NOT_EXIST")
    # A registered version as the source: resolved to its number, downloads from the same place.
    copy = create_model(api)
    copied = create_version(api, copy, f"models:/{name}/latest")
    assert copied["source"] == f"models:/{name}/1"
    assert copied["run_id"] == info["source_run_id"]
    uri = ok(api.get(f"{API}/model-versions/get-download-uri", params={"name": copy, "version": "1"}))
    assert uri == {"artifact_uri": info["artifact_uri"]}
    body = {"name": copy, "source": f"models:/{name}/1", "run_id": "0" * 32}
    assert "must match the referenced model version" in error(post(api, "/model-versions/create", body))


def test_stages(api):
    name = create_model(api)
    for _ in range(3):
        create_version(api, name)
    body = {"name": name, "version": "1", "stage": "staging"}
    assert ok(post(api, "/model-versions/transition-stage", body))["model_version"]["current_stage"] == "Staging"
    ok(post(api, "/model-versions/transition-stage", {"name": name, "version": "2", "stage": "Staging"}))
    body = {"name": name, "version": "3", "stage": "Staging", "archive_existing_versions": True}
    ok(post(api, "/model-versions/transition-stage", body))
    stages = {v: ok(get_version(api, name, v))["model_version"]["current_stage"] for v in ("1", "2", "3")}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Staging"}
    latest = ok(post(api, "/registered-models/get-latest-versions", {"name": name}))["model_versions"]
    assert sorted((v["version"], v["current_stage"]) for v in latest) == [("2", "Archived"), ("3", "Staging")]
    by_get = ok(api.get(f"{API}/registered-models/get-latest-versions", params={"name": name, "stages": "staging"}))
    assert [v["version"] for v in by_get["model_versions"]] == ["3"]
    assert ok(post(api, "/registered-models/get-latest-versions", {"name": name, "stages": ["Production"]})) == {}

    message = error(post(api, "/model-versions/transition-stage", {"name": name, "version": "1", "stage": "Gold"}))
    assert message == "Invalid Model Version stage: Gold. Value must be one of None, Staging, Production, Archived."
    body = {"name": name, "version": "1", "stage": "Archived", "archive_existing_versions": True}
    assert "is not an Active stage" in error(post(api, "/model-versions/transition-stage", body))
    assert "Missing value for required parameter 'stage'" in error(
        post(api, "/model-versions/transition-stage", {"name": name, "version": "1"})
    )
    assert "Invalid Model Version stage" in error(
        post(api, "/registered-models/get-latest-versions", {"name": name, "stages": ["nope"]})
    )


def test_aliases(api):
    name = create_model(api)
    create_version(api, name)
    create_version(api, name)
    ok(post(api, "/registered-models/alias", {"name": name, "alias": "champion", "version": "1"}))
    ok(post(api, "/registered-models/alias", {"name": name, "alias": "challenger", "version": 2}))
    assert get_model(api, name)["aliases"] == [
        {"alias": "challenger", "version": "2"},
        {"alias": "champion", "version": "1"},
    ]
    by_alias = ok(api.get(f"{API}/registered-models/alias", params={"name": name, "alias": "champion"}))
    assert by_alias["model_version"]["version"] == "1"
    assert by_alias["model_version"]["aliases"] == ["champion"]
    latest = ok(api.get(f"{API}/registered-models/alias", params={"name": name, "alias": "Latest"}))
    assert latest["model_version"]["version"] == "2"
    ok(delete(api, "/registered-models/alias", {"name": name, "alias": "champion"}))
    ok(delete(api, "/registered-models/alias", {"name": name, "alias": "champion"}))  # absent: no error
    message = error(api.get(f"{API}/registered-models/alias", params={"name": name, "alias": "champion"}))
    assert message == "Registered model alias champion not found."

    for alias, expected in [
        ("latest", "'latest' alias name (case insensitive) is reserved."),
        ("v3", "Version alias name 'v3' is reserved."),
        ("a b", "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."),
        ("", "Missing value for required parameter 'alias'"),
        ("x" * 256, "exceeds the maximum length of 255"),
    ]:
        body = {"name": name, "alias": alias, "version": "1"}
        assert expected in error(post(api, "/registered-models/alias", body))
    body = {"name": name, "alias": "ok", "version": "7"}
    error(post(api, "/registered-models/alias", body), 404, "RESOURCE_DOES_NOT_EXIST")


def test_tags_and_descriptions(api):
    name = create_model(api, description="about")
    assert get_model(api, name)["description"] == "about"
    create_version(api, name, description="v1")
    ok(post(api, "/registered-models/set-tag", {"name": name, "key": "k", "value": "v"}))
    ok(post(api, "/registered-models/set-tag", {"name": name, "key": "k", "value": "w"}))
    ok(post(api, "/model-versions/set-tag", {"name": name, "version": "1", "key": "a.b", "value": ""}))
    assert get_model(api, name)["tags"] == [{"key": "k", "value": "w"}]
    assert ok(get_version(api, name, "1"))["model_version"]["tags"] == [{"key": "a.b", "value": ""}]
    ok(delete(api, "/registered-models/delete-tag", {"name": name, "key": "k"}))
    ok(delete(api, "/model-versions/delete-tag", {"name": name, "version": "1", "key": "a.b"}))
    assert "tags" not in get_model(api, name)
    assert "tags" not in ok(get_version(api, name, "1"))["model_version"]

    updated = ok(patch(api, "/model-versions/update", {"name": name, "version": "1", "description": "new"}))
    assert updated["model_version"]["description"] == "new"
    untouched = ok(patch(api, "/model-versions/update", {"name": name, "version": "1"}))
    assert untouched["model_version"]["description"] == "new"
    cleared = ok(patch(api, "/registered-models/update", {"name": name}))
    assert "description" not in cleared["registered_model"]

    assert "Invalid tag name" in error(post(api, "/registered-models/set-tag", {"name": name, "key": "../x"}))
    assert "Missing value for required parameter 'key'" in error(
        post(api, "/model-versions/set-tag", {"name": name, "version": "1", "value": "v"})
    )
    body = {"name": name, "version": "2", "key": "k", "value": "v"}
    error(post(api, "/model-versions/set-tag", body), 404, "RESOURCE_DOES_NOT_EXIST")


# ---- search ------------------------------------------------------------------------------------


def test_search_registered_models(api):
    prefix = new_name("srch")
    names = [create_model(api, f"{prefix}-{c}") for c in "cab"]
    ok(post(api, "/registered-models/set-tag", {"name": names[1], "key": "env", "value": "prod"}))

    def search(**params: Any) -> list[str]:
        return [
            m["name"]
            for m in ok(api.get(f"{API}/registered-models/search", params=params)).get("registered_models", [])
        ]

    assert search(filter=f"name LIKE '{prefix}-%'") == sorted(names)
    assert search(filter=f"name LIKE '{prefix}-%'", order_by="name DESC") == sorted(names, reverse=True)
    assert search(filter=f"tags.env = 'prod' AND name LIKE '{prefix}%'") == [names[1]]
    assert search(filter=f"name IN ('{names[0]}', '{names[2]}')") == sorted([names[0], names[2]])
    assert search(filter=f"name != '{names[0]}' AND name LIKE '{prefix}%'") == sorted(names[1:])
    newest_first = search(filter=f"name LIKE '{prefix}-%'", order_by=["last_updated_timestamp DESC"])
    assert newest_first[0] == names[1] or len(set(newest_first)) == 3

    first = ok(
        api.get(f"{API}/registered-models/search", params={"filter": f"name LIKE '{prefix}%'", "max_results": 2})
    )
    assert len(first["registered_models"]) == 2 and first["next_page_token"]
    rest = ok(
        api.get(
            f"{API}/registered-models/search",
            params={"filter": f"name LIKE '{prefix}%'", "max_results": 2, "page_token": first["next_page_token"]},
        )
    )
    assert [m["name"] for m in first["registered_models"] + rest["registered_models"]] == sorted(names)
    assert "next_page_token" not in rest


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_results": 1001}, "It must be at most 1000, but got value 1001"),
        ({"max_results": 0}, "It must be a positive integer"),
        ({"max_results": "x"}, "max_results"),
        ({"filter": "version_number = 1"}, "Invalid attribute key 'version_number'"),
        ({"filter": "name > 'a'"}, "Invalid comparator '>'"),
        ({"filter": "tags.k IN ('a')"}, "Invalid comparator 'IN'"),
        ({"filter": "name = 'a' OR name = 'b'"}, "Invalid clause(s) in filter string"),
        ({"filter": "metrics.x = 1"}, "Invalid entity type 'metrics'"),
        ({"order_by": "run_id"}, "Invalid attribute key 'run_id'"),
        ({"order_by": ["name", "name DESC"]}, "duplicate fields"),
        ({"page_token": "junk"}, "Invalid page token"),
    ],
)
def test_search_registered_models_errors(api, params, message):
    assert message in error(api.get(f"{API}/registered-models/search", params=params))


def test_search_model_versions(api):
    run_id = new_run(api)
    name = create_model(api)
    other = create_model(api)
    create_version(api, name, f"runs:/{run_id}/model", run_id=run_id, tags=[{"key": "q", "value": "good"}])
    create_version(api, name, "s3://bucket/v2")
    create_version(api, other, f"runs:/{run_id}/model", run_id=run_id)

    def search(**params: Any) -> list[tuple[str, str]]:
        found = ok(api.get(f"{API}/model-versions/search", params=params)).get("model_versions", [])
        return [(v["name"], v["version"]) for v in found]

    assert search(filter=f"name = '{name}'") == [(name, "2"), (name, "1")]  # newest first by default
    assert sorted(search(filter=f"run_id = '{run_id}'")) == sorted([(name, "1"), (other, "1")])
    assert search(filter=f"name = '{name}' AND tags.q = 'good'") == [(name, "1")]
    assert search(filter=f"name = '{name}' AND source_path LIKE 's3://%'") == [(name, "2")]
    assert search(filter=f"name = '{name}' AND version_number <= 1") == [(name, "1")]
    assert search(filter=f"name = '{name}' AND version_number = '2'") == [(name, "2")]
    assert search(filter=f"name IN ('{name}', '{other}')", order_by=["name ASC", "version_number ASC"]) == sorted(
        [(name, "1"), (name, "2"), (other, "1")], key=lambda p: (p[0], int(p[1]))
    )
    page = ok(api.get(f"{API}/model-versions/search", params={"filter": f"name = '{name}'", "max_results": 1}))
    assert len(page["model_versions"]) == 1 and page["next_page_token"]
    for params, message in [
        ({"filter": "source_path IN ('a')"}, "attributes support comparison with a list"),
        ({"filter": "version_number = 'x'"}, "Invalid value for numeric attribute 'version_number'"),
        ({"filter": "stage = 'x'"}, "Invalid attribute key 'stage'"),
        ({"max_results": 200_001}, "It must be at most 200000"),
        ({"order_by": "run_id DESC"}, "Invalid order by key 'run_id'"),
    ]:
        assert message in error(api.get(f"{API}/model-versions/search", params=params))


def test_prompts_stay_out_of_model_searches(api):
    """MLflow keeps prompts (registered models tagged mlflow.prompt.is_prompt=true) out of model searches
    unless the filter asks for them."""
    prefix = new_name("pr")
    model = create_model(api, f"{prefix}-model")
    prompt = create_model(api, f"{prefix}-prompt", tags=[{"key": "mlflow.prompt.is_prompt", "value": "true"}])

    def search(flt: str) -> list[str]:
        found = ok(api.get(f"{API}/registered-models/search", params={"filter": flt}))
        return [m["name"] for m in found.get("registered_models", [])]

    assert search(f"name LIKE '{prefix}%'") == [model]
    assert search(f"name LIKE '{prefix}%' AND tags.`mlflow.prompt.is_prompt` = 'true'") == [prompt]
    assert search(f"name LIKE '{prefix}%' AND tags.`mlflow.prompt.is_prompt` != 'true'") == [model]


# ---- transport ---------------------------------------------------------------------------------


def test_ajax_api_twins(api):
    name = new_name()
    response = api.post("/ajax-api/2.0/mlflow/registered-models/create", json={"name": name})
    assert ok(response)["registered_model"]["name"] == name
    found = ok(api.get("/ajax-api/2.0/mlflow/registered-models/search", params={"filter": f"name = '{name}'"}))
    assert [m["name"] for m in found["registered_models"]] == [name]
    assert ok(api.get("/ajax-api/2.0/mlflow/model-versions/search", params={"filter": f"name = '{name}'"})) == {}


def test_content_type_is_required_on_writes(api):
    response = api.post(f"{API}/registered-models/create", content=b'{"name": "x"}')
    assert "Content-Type header is missing" in error(response)


ODD_CALLS: list[tuple[str, str]] = [
    ("POST", "/registered-models/create"),
    ("POST", "/registered-models/rename"),
    ("PATCH", "/registered-models/update"),
    ("DELETE", "/registered-models/delete"),
    ("POST", "/registered-models/get-latest-versions"),
    ("POST", "/registered-models/set-tag"),
    ("DELETE", "/registered-models/delete-tag"),
    ("POST", "/registered-models/alias"),
    ("DELETE", "/registered-models/alias"),
    ("POST", "/model-versions/create"),
    ("PATCH", "/model-versions/update"),
    ("POST", "/model-versions/transition-stage"),
    ("DELETE", "/model-versions/delete"),
    ("POST", "/model-versions/set-tag"),
    ("DELETE", "/model-versions/delete-tag"),
]
ODD_BODIES: list[Any] = [
    {},
    {"name": None, "version": None},
    {"name": "", "version": "", "key": "", "alias": "", "source": "", "stage": ""},
    {"name": "x\x00y", "version": "1", "key": "k", "value": "\x00", "source": "s3://\x00", "new_name": "\x00"},
    {"name": "n", "version": "99999999999999999999999", "alias": "a", "source": "models:/", "stage": "None"},
    {"name": ["n"], "version": {"v": 1}, "tags": [None], "stages": "Production"},
    {"name": "n", "version": 1.5, "archive_existing_versions": "maybe"},
    [],
]


@pytest.mark.parametrize(("method", "path"), ODD_CALLS)
def test_no_5xx_for_odd_bodies(api, method, path):
    for body in ODD_BODIES:
        response = api.request(method, API + path, json=body)
        assert response.status_code < 500, (method, path, body, response.text)


@pytest.mark.parametrize(
    "path",
    [
        "/registered-models/get",
        "/registered-models/search",
        "/registered-models/alias",
        "/registered-models/get-latest-versions",
        "/model-versions/get",
        "/model-versions/search",
        "/model-versions/get-download-uri",
    ],
)
def test_no_5xx_for_odd_queries(api, path):
    for params in (
        {"name": "\x00", "version": "1", "alias": "a"},
        {"name": "n", "version": "1" * 30, "alias": "\x00"},
        {"filter": "name = '\x00'", "max_results": "-5", "page_token": "%%%"},
        {"filter": "tags.x LIKE 'a\\'", "order_by": "name SIDEWAYS"},
        {"filter": "version_number > 99999999999999999999999"},
    ):
        response = api.get(API + path, params=params)
        assert response.status_code < 500, (path, params, response.text)


def test_prompt_versions_need_a_placeholder_source(api):
    """MLflow's prompt registry stores prompts as registered models; their versions have no files."""
    tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
    name = create_model(api, tags=tags)
    version = create_version(
        api, name, "dummy-source", tags=[*tags, {"key": "mlflow.prompt.text", "value": "Hi {{x}}"}]
    )
    assert version["source"] == "dummy-source"
    body = {"name": name, "source": "s3://bucket/prompt", "tags": tags}
    assert error(post(api, "/model-versions/create", body)) == (
        "Invalid prompt source: 's3://bucket/prompt'. Prompt sources must use an MLflow placeholder."
    )
    # A long name is refused when it is created, and simply not found when looked up.
    error(api.get(f"{API}/registered-models/get", params={"name": "x" * 300}), 404, "RESOURCE_DOES_NOT_EXIST")
