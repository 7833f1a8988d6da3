"""MLflow 3's evaluation datasets through the official client (`mlflow.genai.datasets`): create, merge
records from dicts and from a DataFrame, read them back, search, tag, link to experiments, delete, and
evaluate against a dataset with a custom scorer."""

from __future__ import annotations

import json
import time

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.genai.datasets import (
    add_dataset_to_experiments,
    create_dataset,
    delete_dataset,
    delete_dataset_tag,
    get_dataset,
    remove_dataset_from_experiments,
    search_datasets,
    set_dataset_tags,
)

from tests.compat.conftest import error_code, unique_name


def _store():  # type: ignore[no-untyped-def]
    """The client's REST store: what `EvaluationDataset` itself calls to page through records."""
    return MlflowClient()._tracking_client.store


def test_a_dataset_is_created_in_the_active_experiment_with_its_tags(mlflow_client, experiment_id):
    name = unique_name("ds")
    dataset = create_dataset(name=name, tags={"team": "ml", "version": 2})
    assert dataset.dataset_id.startswith("d-")
    assert dataset.name == name
    assert dataset.experiment_ids == [experiment_id]
    assert dataset.tags["team"] == "ml" and dataset.tags["version"] == "2"  # tag values are text
    assert dataset.created_time == dataset.last_update_time > 0
    assert len(dataset.digest) == 8
    fetched = get_dataset(dataset_id=dataset.dataset_id)
    assert (fetched.name, fetched.tags, fetched.created_time) == (name, dataset.tags, dataset.created_time)
    assert fetched.experiment_ids == [experiment_id]  # loaded lazily: experiment-ids
    assert fetched.schema is None and fetched.profile is None  # until records come
    assert get_dataset(name=name).dataset_id == dataset.dataset_id


def test_records_merge_from_dicts_and_a_dataframe_and_read_back_in_order(mlflow_client, experiment_id):
    dataset = create_dataset(name=unique_name("ds"))
    dataset.merge_records(
        [
            {"inputs": {"question": "2+2?"}, "expectations": {"answer": "4"}},
            {"inputs": {"question": "capital of France?"}, "expectations": {"answer": "Paris"}},
            {"inputs": {"question": "colour of the sky?"}, "outputs": "blue"},
        ]
    )
    frame = pd.DataFrame(
        [
            {"inputs": {"question": "3+3?"}, "expectations": {"answer": "6"}},
            {"inputs": {"question": "2+2?"}, "expectations": {"note": "easy"}},  # the same inputs: merged
        ]
    )
    dataset.merge_records(frame)

    df = get_dataset(dataset_id=dataset.dataset_id).to_df()
    assert [row["question"] for row in df["inputs"]] == ["2+2?", "capital of France?", "colour of the sky?", "3+3?"]
    assert df["expectations"][0] == {"answer": "4", "note": "easy"}
    assert df["outputs"][2] == "blue"
    assert df["source_type"][0] == "HUMAN" and df["source_type"][2] == "CODE"  # as the client infers them
    assert df["dataset_record_id"].str.startswith("dr-").all() and df["dataset_record_id"].is_unique

    again = get_dataset(dataset_id=dataset.dataset_id)
    assert again.profile == '{"num_records": 4}'
    schema = json.loads(again.schema)
    assert schema["inputs"] == {"question": "string"}
    assert schema["expectations"] == {"answer": "string", "note": "string"}
    assert schema["outputs"] == "string"
    assert again.digest != dataset.digest and again.last_update_time >= dataset.last_update_time


def test_a_merge_replaces_outputs_and_updates_expectations_and_tags_key_by_key(mlflow_client, experiment_id):
    dataset = create_dataset(name=unique_name("ds"))
    source = {"source_type": "TRACE", "source_data": {"trace_id": "tr-123"}}
    dataset.merge_records(
        [{"inputs": {"q": "a"}, "outputs": {"o": 1}, "expectations": {"e": 1}, "tags": {"k": "1"}, "source": source}]
    )
    first = _store()._load_dataset_records(dataset.dataset_id)[0][0]
    time.sleep(0.01)
    dataset.merge_records(
        [
            {
                "inputs": {"q": "a"},
                "outputs": {"o": 2},
                "expectations": {"f": 2},
                "tags": {"k": "2", "mlflow.user": "ann"},
                "source": {"source_type": "HUMAN", "source_data": {"source_id": "someone"}},
            }
        ]
    )
    records, token = _store()._load_dataset_records(dataset.dataset_id)
    assert token is None and len(records) == 1
    record = records[0]
    assert record.dataset_record_id == first.dataset_record_id
    assert record.outputs == {"o": 2}
    assert record.expectations == {"e": 1, "f": 2}
    assert record.tags["k"] == "2" and record.last_updated_by == "ann"
    assert record.source.source_type == "TRACE" and record.source_id == "tr-123"  # the source stays
    assert record.created_time == first.created_time < record.last_update_time
    assert get_dataset(dataset_id=dataset.dataset_id).last_updated_by == "ann"


def test_records_come_in_pages_of_the_requested_size_without_gaps(mlflow_client, experiment_id):
    dataset = create_dataset(name=unique_name("ds"))
    n = 2_345
    dataset.merge_records([{"inputs": {"i": i}, "expectations": {"double": 2 * i}} for i in range(n)])
    seen, token, pages = [], None, 0
    while True:
        records, token = _store()._load_dataset_records(dataset.dataset_id, max_results=1000, page_token=token)
        seen += [r.inputs["i"] for r in records]
        pages += 1
        if token is None:
            break
    assert pages == 3 and seen == list(range(n))
    df = get_dataset(dataset_id=dataset.dataset_id).to_df()  # the client pages by itself
    assert len(df) == n and list(df["inputs"].map(lambda x: x["i"])) == list(range(n))
    assert get_dataset(dataset_id=dataset.dataset_id).profile == f'{{"num_records": {n}}}'


def test_records_are_deleted_by_id(mlflow_client, experiment_id):
    dataset = create_dataset(name=unique_name("ds"))
    dataset.merge_records([{"inputs": {"i": i}} for i in range(3)])
    ids = list(get_dataset(dataset_id=dataset.dataset_id).to_df()["dataset_record_id"])
    assert dataset.delete_records([ids[0], "dr-unknown"]) == 1
    left = get_dataset(dataset_id=dataset.dataset_id)
    assert list(left.to_df()["dataset_record_id"]) == ids[1:]
    assert left.profile == '{"num_records": 2}'


def test_search_filters_orders_and_pages_like_mlflow(mlflow_client, experiment_id):
    prefix = unique_name("search")
    made = []
    for i, colour in enumerate(["red", "green", "blue"]):
        made.append(create_dataset(name=f"{prefix}-{i}", tags={"colour": colour}))
        time.sleep(0.005)
    ids = [d.dataset_id for d in made]

    found = search_datasets(experiment_ids=experiment_id)
    assert [d.dataset_id for d in found] == ids[::-1]  # newest first
    by_name = search_datasets(filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"])
    assert [d.name for d in by_name] == [f"{prefix}-0", f"{prefix}-1", f"{prefix}-2"]
    assert [d.name for d in search_datasets(filter_string=f"name = '{prefix}-1'")] == [f"{prefix}-1"]
    in_list = search_datasets(filter_string=f"name IN ('{prefix}-0', '{prefix}-2')", order_by=["name DESC"])
    assert [d.name for d in in_list] == [f"{prefix}-2", f"{prefix}-0"]
    tagged = search_datasets(experiment_ids=[experiment_id], filter_string="tags.colour != 'green'")
    assert {d.dataset_id for d in tagged} == {ids[0], ids[2]}
    recent = search_datasets(
        experiment_ids=[experiment_id], filter_string=f"created_time > {made[0].created_time} AND tags.colour LIKE 'b%'"
    )
    assert [d.dataset_id for d in recent] == [ids[2]]

    client = MlflowClient()
    pages, token = [], None
    while True:
        page = client.search_datasets(experiment_ids=[experiment_id], max_results=2, page_token=token)
        pages.append([d.dataset_id for d in page])
        token = page.token
        if not token:
            break
    assert pages == [ids[::-1][:2], ids[::-1][2:]]
    assert [d.dataset_id for d in search_datasets(experiment_ids=experiment_id, max_results=1)] == [ids[2]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filter_string": "colour = 'red'"}, "colour"),
        ({"filter_string": "tags.colour > 'a'"}, "comparator"),
        ({"filter_string": "created_time > 'yesterday'"}, "created_time"),
        ({"filter_string": "name = 'a' OR name = 'b'"}, "OR"),
        ({"order_by": ["tags.colour"]}, "order_by"),
        ({"order_by": ["created_by"]}, "created_by"),
    ],
)
def test_a_search_the_grammar_refuses_is_invalid_parameter_value(mlflow_client, experiment_id, kwargs, message):
    with pytest.raises(MlflowException, match=message) as caught:
        MlflowClient().search_datasets(experiment_ids=[experiment_id], **kwargs)
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"


def test_tags_are_set_merged_and_deleted(mlflow_client, experiment_id):
    dataset = create_dataset(name=unique_name("ds"), tags={"a": "1", "b": "2"})
    set_dataset_tags(dataset.dataset_id, {"b": "3", "c": True})
    delete_dataset_tag(dataset.dataset_id, "a")
    delete_dataset_tag(dataset.dataset_id, "never-there")  # nothing to delete: not an error
    tags = get_dataset(dataset_id=dataset.dataset_id).tags
    assert {k: v for k, v in tags.items() if k != "mlflow.user"} == {"b": "3", "c": "True"}
    with pytest.raises(MlflowException) as caught:
        set_dataset_tags("d-00000000000000000000000000000000", {"a": "1"})
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"


def test_a_dataset_links_to_more_experiments_and_leaves_them(mlflow_client, experiment_id):
    dataset = create_dataset(name=unique_name("ds"))
    other = mlflow_client.create_experiment(unique_name("other"))
    linked = add_dataset_to_experiments(dataset.dataset_id, [other, experiment_id])
    assert linked.dataset_id == dataset.dataset_id
    assert sorted(get_dataset(dataset_id=dataset.dataset_id).experiment_ids, key=int) == sorted(
        [experiment_id, other], key=int
    )
    assert [d.dataset_id for d in search_datasets(experiment_ids=other)] == [dataset.dataset_id]

    remove_dataset_from_experiments(dataset.dataset_id, [experiment_id, "123456789"])
    assert get_dataset(dataset_id=dataset.dataset_id).experiment_ids == [other]
    assert search_datasets(experiment_ids=experiment_id) == []

    with pytest.raises(MlflowException, match="No Experiment with id=123456789") as caught:
        add_dataset_to_experiments(dataset.dataset_id, ["123456789"])
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as caught:
        add_dataset_to_experiments("d-00000000000000000000000000000000", [other])
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"


def test_a_deleted_dataset_is_gone_with_its_records(mlflow_client, experiment_id):
    dataset = create_dataset(name=unique_name("ds"), tags={"t": "1"})
    dataset.merge_records([{"inputs": {"i": i}} for i in range(5)])
    delete_dataset(dataset_id=dataset.dataset_id)
    with pytest.raises(MlflowException) as caught:
        get_dataset(dataset_id=dataset.dataset_id)
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"
    assert search_datasets(experiment_ids=experiment_id) == []
    assert _store()._load_dataset_records(dataset.dataset_id) == ([], None)
    delete_dataset(dataset_id=dataset.dataset_id)  # again: nothing to delete, not an error


def test_two_datasets_of_one_name_are_told_apart_by_id(mlflow_client, experiment_id):
    name = unique_name("twin")
    create_dataset(name=name)
    create_dataset(name=name)
    with pytest.raises(MlflowException, match="Multiple datasets") as caught:
        get_dataset(name=name)
    assert error_code(caught) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as caught:
        get_dataset(name=unique_name("missing"))
    assert error_code(caught) == "RESOURCE_DOES_NOT_EXIST"


def test_evaluate_runs_a_custom_scorer_over_a_dataset(mlflow_client, experiment_id):
    from mlflow.genai.scorers import scorer

    dataset = create_dataset(name=unique_name("eval"))
    dataset.merge_records(
        [
            {"inputs": {"question": "2+2?"}, "expectations": {"answer": "4"}},
            {"inputs": {"question": "3+3?"}, "expectations": {"answer": "6"}},
            {"inputs": {"question": "capital of France?"}, "expectations": {"answer": "Paris"}},
        ]
    )

    @scorer
    def exact(outputs, expectations):  # type: ignore[no-untyped-def]
        return outputs == expectations["answer"]

    def predict(question: str) -> str:
        return {"2+2?": "4", "3+3?": "6"}.get(question, "no idea")

    result = mlflow.genai.evaluate(data=get_dataset(dataset_id=dataset.dataset_id), predict_fn=predict, scorers=[exact])
    assert result.metrics["exact/mean"] == pytest.approx(2 / 3)
    run = mlflow_client.get_run(result.run_id)
    assert run.info.experiment_id == experiment_id
    inputs = run.inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [
        (dataset.name, get_dataset(dataset_id=dataset.dataset_id).digest)
    ]
    traces = mlflow.search_traces(run_id=result.run_id, return_type="list")
    assert len(traces) == 3
    verdicts = sorted(a.value for t in traces for a in t.info.assessments if a.name == "exact")
    assert verdicts == [False, True, True]


def test_records_merge_from_traces_with_their_expectations(mlflow_client, experiment_id):
    @mlflow.trace
    def answer(question: str) -> str:
        return "4" if question == "2+2?" else "?"

    answer("2+2?")
    mlflow.flush_trace_async_logging()
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.log_expectation(trace_id=trace_id, name="answer", value="4")
    traces = mlflow.search_traces(locations=[experiment_id], return_type="pandas")
    dataset = create_dataset(name=unique_name("from-traces"))
    dataset.merge_records(traces)
    (record,) = _store()._load_dataset_records(dataset.dataset_id)[0]
    assert record.inputs == {"question": "2+2?"} and record.outputs == "4"
    assert record.expectations == {"answer": "4"}
    assert (record.source.source_type, record.source_id) == ("TRACE", trace_id)
