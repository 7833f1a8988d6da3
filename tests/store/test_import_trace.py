"""The store's import path for traces (`tracklet import-mlflow`): what MLflow's API lists of a trace is
kept, and what it does not list is rebuilt from what it does."""

from __future__ import annotations

import json

from tracklet.store.store import Store
from tracklet.store.traces import NewTrace, linked_prompt_versions


def _trace(trace_id: str, experiment_id: int, linked: str | None) -> NewTrace:
    tags = {} if linked is None else {"mlflow.linkedPrompts": linked}
    return NewTrace(trace_id=trace_id, experiment_id=experiment_id, request_time=1000, state="OK", tags=tags)


def test_an_imported_traces_prompt_links_come_from_its_linked_prompts_tag(store_uri: str) -> None:
    """MLflow's API lists no trace's prompt links; the tag its client writes beside them names them, so a
    copied trace is found by `prompt = "qa/2"` as on the source."""
    store = Store(store_uri)
    try:
        experiment_id = int(store.create_experiment("traced"))
        qa2 = json.dumps([{"name": "qa", "version": "2"}, {"name": "tone", "version": "1"}])
        assert store.import_trace(_trace("tr-" + "a" * 32, experiment_id, qa2), [], [])
        assert store.import_trace(_trace("tr-" + "b" * 32, experiment_id, "not json"), [], [])
        assert store.import_trace(_trace("tr-" + "c" * 32, experiment_id, None), [], [])

        def found(prompt: str) -> list[str]:
            traces, _ = store.search_traces([experiment_id], f'prompt = "{prompt}"', [], 10, None)
            return [t.trace_id for t in traces]

        assert found("qa/2") == found("tone/1") == ["tr-" + "a" * 32]
        assert found("qa/1") == []
        tag = store.get_trace_info("tr-" + "a" * 32).tags["mlflow.linkedPrompts"]
        assert json.loads(tag) == json.loads(qa2)  # the tag as the source had it
    finally:
        store.close()


def test_only_a_list_of_names_and_versions_names_prompt_versions() -> None:
    assert linked_prompt_versions('[{"name": "qa", "version": "2"}, {"name": "x", "version": 3}]') == ["qa/2", "x/3"]
    for value in (None, "", "{}", '"qa/2"', "[1]", '[{"name": "qa"}]', '[{"name": 1, "version": "2"}]', "[{"):
        assert linked_prompt_versions(value) == [], value
