"""Endpoints MLflow 3's client and UI call around traces, logged models and scorers, through the official
client against a real tracklet server (SQLite and PostgreSQL), and side by side with a real `mlflow server`:
`traces/link-prompts`, `logged-models/{id}/artifacts/directories`, `scorers/online-config`, and the
`/ajax-api` copies of the datasets and scorers routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.genai.scorers import Guidelines

from tests.compat.conftest import error_code, unique_name
from tests.support.processes import MlflowServer


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield srv
    srv.stop()


def _use(url: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """The official client, fluent API included, pointed at this server."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    mlflow.set_tracking_uri(url)
    return MlflowClient(url)


def _traced_call(experiment_id: str) -> str:
    import mlflow

    mlflow.set_experiment(experiment_id=experiment_id)

    @mlflow.trace(name="answer")
    def answer(question: str) -> str:
        return question.upper()

    answer("why?")
    mlflow.flush_trace_async_logging()  # on the server before it is linked to anything
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id
    return trace_id


def _link_prompts_scenario(url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Link prompt versions to a trace as MLflow's client does, and read back what searches and `get_trace` show."""
    import mlflow

    client = _use(url, monkeypatch)
    experiment_id = client.create_experiment(unique_name("prompts"))
    name = unique_name("qa")
    first = mlflow.genai.register_prompt(name=name, template="Answer {{question}}.")
    second = mlflow.genai.register_prompt(name=name, template="Answer {{question}} briefly.")
    linked, other = _traced_call(experiment_id), _traced_call(experiment_id)
    client.link_prompt_versions_to_trace([first, second], linked)
    client.link_prompt_versions_to_trace([second], linked)  # again: nothing doubles
    client.link_prompt_versions_to_trace([second], other)

    def found(filter_string: str) -> list[str]:
        traces = mlflow.search_traces(locations=[experiment_id], filter_string=filter_string, return_type="list")
        return sorted("linked" if t.info.trace_id == linked else "other" for t in traces)

    tag = mlflow.get_trace(linked).info.tags["mlflow.linkedPrompts"]
    return {
        "version 1": found(f'prompt = "{name}/1"'),
        "version 2": found(f'prompt = "{name}/2"'),
        "version 3": found(f'prompt = "{name}/3"'),
        "by tag": found(f'tag.`mlflow.linkedPrompts` = "{name}/1"'),  # the links too, not the tag's JSON
        "tag": sorted((p["name"] == name, p["version"]) for p in json.loads(tag)),
    }


def test_linked_prompt_versions_find_their_traces_as_in_mlflow(server, mlflow_server, monkeypatch):
    ours = _link_prompts_scenario(server.url, monkeypatch)
    assert ours == {
        "version 1": ["linked"],
        "version 2": ["linked", "other"],
        "version 3": [],
        "by tag": ["linked"],
        "tag": [(True, "1"), (True, "2")],
    }
    assert ours == _link_prompts_scenario(mlflow_server.url, monkeypatch)


def _answer(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("error_code")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"prompt_versions": [{"name": "p", "version": "1"}]}, (400, "INVALID_PARAMETER_VALUE")),  # no trace id
        ({"trace_id": "tr-0123456789abcdef0123456789abcdef"}, (400, "INVALID_PARAMETER_VALUE")),  # no versions
        (
            {"trace_id": "tr-0123456789abcdef0123456789abcdef", "prompt_versions": [{"name": "p", "version": "1"}]},
            (404, "RESOURCE_DOES_NOT_EXIST"),
        ),
        ({"trace_id": "tr-0123456789abcdef0123456789abcdef", "prompt_versions": []}, (200, None)),  # nothing to do
    ],
)
def test_link_prompts_bad_input_is_refused_as_mlflow_refuses_it(server, mlflow_server, body, expected):
    path = "/api/2.0/mlflow/traces/link-prompts"
    assert _answer(httpx.post(server.url + path, json=body)) == expected
    assert _answer(httpx.post(mlflow_server.url + path, json=body)) == expected


def test_a_prompt_filter_takes_name_slash_version_only(mlflow_client, experiment_id):
    import mlflow

    with pytest.raises(MlflowException, match="Expected format") as caught:
        mlflow.search_traces(locations=[experiment_id], filter_string='prompt = "no-version"')
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"


def _model_listing_scenario(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    client = _use(url, monkeypatch)
    experiment_id = client.create_experiment(unique_name("models"))
    model = client.create_logged_model(experiment_id, name="m")
    folder = tmp_path / url.rsplit(":", 1)[1]
    (folder / "weights").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "weights" / "w.bin").write_bytes(b"0123456789")
    client.log_model_artifacts(model.model_id, str(folder))

    def listed(**query: str) -> tuple[int, Any]:
        path = f"/ajax-api/2.0/mlflow/logged-models/{model.model_id}/artifacts/directories"
        response = httpx.get(url + path, params=query)
        body = response.json()
        if response.status_code != 200:
            return response.status_code, body["error_code"]
        assert body["root_uri"] == model.artifact_location
        return 200, sorted((f["path"], f["is_dir"], f.get("file_size")) for f in body.get("files", []))

    client_listing = sorted((f.path, f.is_dir) for f in client.list_logged_model_artifacts(model.model_id))
    return {
        "root": listed(),
        "client": client_listing,
        "folder": listed(artifact_directory_path="weights"),
        "missing folder": listed(artifact_directory_path="nothing"),
        "escape": listed(artifact_directory_path="../x"),
        "unknown model": _answer(httpx.get(url + "/api/2.0/mlflow/logged-models/m-0/artifacts/directories")),
    }


def test_a_logged_models_artifacts_are_listed_as_mlflow_lists_them(server, mlflow_server, tmp_path, monkeypatch):
    ours = _model_listing_scenario(server.url, tmp_path, monkeypatch)
    assert ours["root"] == (200, [("MLmodel", False, 12), ("weights", True, None)])
    assert ours["client"] == [("MLmodel", False), ("weights", True)]
    assert ours["folder"] == (200, [("weights/w.bin", False, 10)])
    assert ours["escape"] == (400, "INVALID_PARAMETER_VALUE")
    assert ours["unknown model"] == (404, "RESOURCE_DOES_NOT_EXIST")
    assert ours == _model_listing_scenario(mlflow_server.url, tmp_path, monkeypatch)


def test_starting_a_scorer_says_online_scoring_is_not_supported(mlflow_client, experiment_id):
    registered = Guidelines(name="polite", guidelines="Be polite.").register(experiment_id=experiment_id)
    from mlflow.genai.scorers import ScorerSamplingConfig

    with pytest.raises(MlflowException, match="Online scoring is not supported by this server") as caught:
        registered.start(experiment_id=experiment_id, sampling_config=ScorerSamplingConfig(sample_rate=0.5))
    assert error_code(caught) == "NOT_IMPLEMENTED"
    with pytest.raises(MlflowException, match="not supported") as caught:
        registered.stop(experiment_id=experiment_id)
    assert error_code(caught) == "NOT_IMPLEMENTED"
    # Nothing was stored: the scorer still reports no sampling, as one never started.
    from mlflow.genai.scorers import get_scorer

    assert get_scorer(name="polite", experiment_id=experiment_id).sample_rate is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "polite", "sample_rate": 0.5}, (400, "INVALID_PARAMETER_VALUE")),  # no experiment
        ({"experiment_id": "{e}", "sample_rate": 0.5}, (400, "INVALID_PARAMETER_VALUE")),  # no name
        ({"experiment_id": "{e}", "name": "polite"}, (400, "INVALID_PARAMETER_VALUE")),  # no sample rate
        ({"experiment_id": "{e}", "name": "polite", "sample_rate": 1.5}, (400, "INVALID_PARAMETER_VALUE")),
        ({"experiment_id": "{e}", "name": "polite", "sample_rate": "x"}, (400, "INVALID_PARAMETER_VALUE")),
        ({"experiment_id": "{e}", "name": "polite", "sample_rate": 0.5, "filter_string": 3}, (400, "INVALID_PARAMETER_VALUE")),
        ({"experiment_id": "{e}", "name": "nobody", "sample_rate": 0.5}, (404, "RESOURCE_DOES_NOT_EXIST")),
    ],
)  # fmt: skip
def test_online_config_bad_input_is_refused_as_mlflow_refuses_it(mlflow_client, experiment_id, body, expected):
    Guidelines(name="polite", guidelines="Be polite.").register(experiment_id=experiment_id)
    filled = {k: (experiment_id if v == "{e}" else v) for k, v in body.items()}
    response = httpx.put(mlflow_client.tracking_uri + "/api/3.0/mlflow/scorers/online-config", json=filled)
    assert _answer(response) == expected


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/3.0/mlflow/scorers/list", {"experiment_id": "{e}"}),
        ("GET", "/3.0/mlflow/scorers/get", {"experiment_id": "{e}", "name": "polite"}),
        ("GET", "/3.0/mlflow/scorers/versions", {"experiment_id": "{e}", "name": "polite"}),
        ("GET", "/3.0/mlflow/scorers/online-configs", {"scorer_ids": "{s}"}),
        ("GET", "/3.0/mlflow/datasets/search", {"experiment_ids": "{e}"}),
        ("GET", "/3.0/mlflow/datasets/{d}", {}),
        ("GET", "/3.0/mlflow/datasets/{d}/records", {}),
        ("GET", "/3.0/mlflow/datasets/{d}/experiment-ids", {}),
    ],
)
def test_the_ui_reads_datasets_and_scorers_under_ajax_api(mlflow_client, experiment_id, method, path, query):
    from mlflow.genai.datasets import create_dataset

    scorer_id = Guidelines(name="polite", guidelines="Be polite.").register(experiment_id=experiment_id)
    dataset = create_dataset(name=unique_name("ds"), experiment_id=experiment_id)
    dataset.merge_records([{"inputs": {"q": "why?"}, "expectations": {"a": "because"}}])
    del scorer_id
    scorer = mlflow_client._tracking_client.store.get_scorer(experiment_id, "polite")
    ids = {"{e}": experiment_id, "{s}": scorer.scorer_id, "{d}": dataset.dataset_id}
    for key, value in ids.items():
        path = path.replace(key, value)
    params = {k: ids.get(v, v) for k, v in query.items()}
    base = mlflow_client.tracking_uri
    api = httpx.request(method, f"{base}/api{path}", params=params)
    ajax = httpx.request(method, f"{base}/ajax-api{path}", params=params)
    assert api.status_code == 200, api.text
    assert (ajax.status_code, ajax.json()) == (200, api.json())


def test_the_ui_writes_datasets_and_scorers_under_ajax_api(mlflow_client, experiment_id):
    base = mlflow_client.tracking_uri + "/ajax-api/3.0/mlflow"
    created = httpx.post(f"{base}/datasets/create", json={"name": unique_name("ds"), "experiment_ids": [experiment_id]})
    assert created.status_code == 200, created.text
    dataset_id = created.json()["dataset"]["dataset_id"]
    assert httpx.delete(f"{base}/datasets/{dataset_id}").status_code == 200
    assert httpx.get(f"{base}/datasets/{dataset_id}").json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    serialized = json.dumps(Guidelines(name="kind", guidelines="Be kind.").model_dump())
    body = {"experiment_id": experiment_id, "name": "kind", "serialized_scorer": serialized}
    assert httpx.post(f"{base}/scorers/register", json=body).json()["version"] == 1
    deleted = httpx.request("DELETE", f"{base}/scorers/delete", json={"experiment_id": experiment_id, "name": "kind"})
    assert deleted.status_code == 200
