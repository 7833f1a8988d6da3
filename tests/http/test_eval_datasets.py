"""Evaluation datasets over plain HTTP: MLflow's wire shapes, what its client never sends (refused with
INVALID_PARAMETER_VALUE, never a 5xx), and the `--auth` rules (a dataset is judged by its experiments)."""

from __future__ import annotations

import base64
import json
import math
import uuid
from typing import Any

import httpx
import pytest

from tests.http.conftest import ADMIN, error, new_experiment, ok

DATASETS = "/api/3.0/mlflow/datasets"


def create(api: httpx.Client, experiment_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": f"ds-{uuid.uuid4().hex[:8]}", "experiment_ids": [experiment_id or new_experiment(api)], **fields}
    return ok(api.post(f"{DATASETS}/create", json=body))["dataset"]  # type: ignore[no-any-return]


def upsert(api: httpx.Client, dataset_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return ok(api.post(f"{DATASETS}/{dataset_id}/records", json={"records": json.dumps(records)}))  # type: ignore[no-any-return]


def records_of(api: httpx.Client, dataset_id: str, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
    answer = ok(api.get(f"{DATASETS}/{dataset_id}/records", params=params))
    return json.loads(answer["records"]), answer.get("next_page_token")


def test_a_dataset_on_the_wire_is_mlflows_message(api):
    experiment_id = new_experiment(api)
    made = create(api, experiment_id, tags=json.dumps({"a": "1", "n": 5, "gone": None, "mlflow.user": "ann"}))
    assert made["experiment_ids"] == [experiment_id]
    assert made["dataset_id"].startswith("d-") and len(made["dataset_id"]) == 34
    assert json.loads(made["tags"]) == {"a": "1", "n": "5", "mlflow.user": "ann"}
    assert made["created_by"] == made["last_updated_by"] == "ann"
    assert isinstance(made["created_time"], int) and made["created_time"] == made["last_update_time"]
    assert "schema" not in made and "profile" not in made
    fetched = ok(api.get(f"{DATASETS}/{made['dataset_id']}"))["dataset"]
    assert fetched == {k: v for k, v in made.items() if k != "experiment_ids"}  # get leaves them out
    assert ok(api.get(f"{DATASETS}/{made['dataset_id']}/experiment-ids")) == {"experiment_ids": [experiment_id]}


def test_records_on_the_wire_are_json_text_of_mlflows_dicts(api):
    dataset_id = create(api)["dataset_id"]
    counts = upsert(
        api,
        dataset_id,
        [
            {"inputs": {"q": "a", "n": 1}, "expectations": {"e": 1}, "tags": {"mlflow.user": "ann"}},
            {
                "inputs": {"q": "b"},
                "outputs": None,
                "source": {"source_type": "trace", "source_data": {"trace_id": "tr-1"}},
            },
            {"inputs": {"n": 1, "q": "a"}, "expectations": {"f": 2}},  # the first one's inputs: merged into it
        ],
    )
    assert counts == {"inserted_count": 2, "updated_count": 1}
    first, second = records_of(api, dataset_id)[0]
    assert first["inputs"] == {"q": "a", "n": 1}
    assert first["outputs"] == {}  # a new record without outputs
    assert first["expectations"] == {"e": 1, "f": 2}
    assert first["tags"] == {"mlflow.user": "ann"} and first["created_by"] == "ann"
    assert "source" not in first and "source_type" not in first
    assert "outputs" not in second and second["tags"] == {}
    assert second["source"] == {"source_type": "TRACE", "source_data": {"trace_id": "tr-1"}}
    assert (second["source_type"], second["source_id"]) == ("TRACE", "tr-1")
    assert first["dataset_id"] == second["dataset_id"] == dataset_id
    dataset = ok(api.get(f"{DATASETS}/{dataset_id}"))["dataset"]
    assert json.loads(dataset["profile"]) == {"num_records": 2}
    assert json.loads(dataset["schema"]) == {
        "inputs": {"q": "string", "n": "integer"},
        "outputs": {},
        "expectations": {"e": "integer", "f": "integer"},
        "version": "1.0",
    }
    assert dataset["last_updated_by"] == "ann"


def test_nan_from_pandas_is_kept_in_values_and_means_absent_for_fields(api):
    dataset_id = create(api)["dataset_id"]
    # What `json.dumps` of a DataFrame's records writes for missing cells.
    text = '[{"inputs": {"x": NaN}, "expectations": NaN, "outputs": NaN, "tags": NaN, "source": NaN}]'
    ok(api.post(f"{DATASETS}/{dataset_id}/records", json={"records": text}))
    answer = ok(api.get(f"{DATASETS}/{dataset_id}/records"))
    (record,) = json.loads(answer["records"])
    assert math.isnan(record["inputs"]["x"])
    assert record["outputs"] == {} and "expectations" not in record and "source" not in record


def test_records_page_by_keyset_and_by_offset(api):
    dataset_id = create(api)["dataset_id"]
    upsert(api, dataset_id, [{"inputs": {"i": i}} for i in range(5)])
    page, token = records_of(api, dataset_id, max_results=2)
    assert [r["inputs"]["i"] for r in page] == [0, 1]
    created, _, last_id = base64.b64decode(token).decode().partition(":")  # MLflow's token: "time:id"
    assert (int(created), last_id) == (page[-1]["created_time"], page[-1]["dataset_record_id"])
    page, token = records_of(api, dataset_id, max_results=2, page_token=token)
    assert [r["inputs"]["i"] for r in page] == [2, 3]
    page, token = records_of(api, dataset_id, max_results=2, page_token=token)
    assert [r["inputs"]["i"] for r in page] == [4] and token is None
    assert [r["inputs"]["i"] for r in records_of(api, dataset_id, page_token="3")[0]] == [3, 4]  # an offset
    assert len(records_of(api, dataset_id, max_results=0)[0]) == 5  # 0: the default page


def test_what_does_not_exist_is_404_or_nothing_as_in_mlflow(api):
    missing = "d-" + "0" * 32
    assert error(api.get(f"{DATASETS}/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.post(f"{DATASETS}/{missing}/records", json={"records": "[]"}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.patch(f"{DATASETS}/{missing}/tags", json={"tags": '{"a": "1"}'}), 404, "RESOURCE_DOES_NOT_EXIST")
    body = {"experiment_ids": ["0"]}
    error(api.post(f"{DATASETS}/{missing}/add-experiments", json=body), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.post(f"{DATASETS}/{missing}/remove-experiments", json=body), 404, "RESOURCE_DOES_NOT_EXIST")
    assert ok(api.delete(f"{DATASETS}/{missing}")) == {}
    assert ok(api.delete(f"{DATASETS}/{missing}/tags/a")) == {}
    assert ok(api.request("DELETE", f"{DATASETS}/{missing}/records", json={"dataset_record_ids": ["dr-x"]})) == {
        "deleted_count": 0
    }
    assert ok(api.get(f"{DATASETS}/{missing}/records")) == {"records": "[]"}
    assert ok(api.get(f"{DATASETS}/{missing}/experiment-ids")) == {}
    body = {"name": "x", "experiment_ids": ["987654321"]}
    assert "No Experiment with id=987654321" in error(
        api.post(f"{DATASETS}/create", json=body), 404, "RESOURCE_DOES_NOT_EXIST"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing value for required parameter 'name'"),
        ({"name": ""}, "Missing value for required parameter 'name'"),
        ({"name": "n" * 256}, "255"),
        ({"name": "x", "tags": "not json"}, "not valid JSON"),
        ({"name": "x", "tags": "[1, 2]"}, "expected a JSON object"),
        ({"name": "x", "tags": json.dumps({"k" * 256: "v"})}, "255"),
        ({"name": "x", "tags": json.dumps({"k": "v" * 5001})}, "5000"),
        ({"name": "x", "tags": json.dumps({"k": "a\x00b"})}, "NUL"),
        ({"name": "x", "tags": json.dumps({"": "v"})}, "empty"),
        ({"name": "x", "experiment_ids": "0"}, "experiment_ids"),
    ],
)
def test_create_refuses_what_mlflow_cannot_store(api, body, message):
    assert message in error(api.post(f"{DATASETS}/create", json=body))


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (None, "Missing value for required parameter 'records'"),
        ("", "Missing value for required parameter 'records'"),
        ("{", "not valid JSON"),
        ("{}", "expected a JSON array"),
        ('["a"]', "records[0]"),
        ('[{"inputs": [1, 2]}]', "records[0].inputs"),
        ('[{"inputs": {}, "expectations": "yes"}]', "records[0].expectations"),
        ('[{"inputs": {}, "tags": 3}]', "records[0].tags"),
        ('[{"inputs": {}, "source": "me"}]', "records[0].source"),
        ('[{"inputs": {}, "source": {"source_type": "ROBOT"}}]', "source type"),
        ('[{"inputs": {}, "source": {"source_type": "HUMAN", "who": 1}}]', "unknown fields"),
        ('[{"inputs": {}, "source": {"source_type": "HUMAN", "source_data": []}}]', "source_data"),
        ('[{"inputs": {}, "tags": {"mlflow.user": "' + "u" * 256 + '"}}]', "255"),
    ],
)
def test_upsert_refuses_records_mlflow_would_fail_on_without_writing(api, records, message):
    dataset_id = create(api)["dataset_id"]
    body = {} if records is None else {"records": records}
    assert message in error(api.post(f"{DATASETS}/{dataset_id}/records", json=body))
    assert records_of(api, dataset_id) == ([], None)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"max_results": 0}, "max_results"),
        ({"max_results": 50_001}, "50000"),
        ({"page_token": "not a token"}, "page token"),
        ({"filter_string": "nope = 1"}, "nope"),
        ({"filter_string": "tags.a IN ('1')"}, "comparator"),
        ({"filter_string": "created_time > 1.5"}, "integer"),
        ({"order_by": ["name UP"]}, "name UP"),
        ({"order_by": ["created_by"]}, "created_by"),
        ({"experiment_ids": ["one"]}, "one"),
    ],
)
def test_search_refuses_what_its_grammar_does_not_take(api, request_, message):
    assert message in error(api.post(f"{DATASETS}/search", json=request_))


def test_search_answers_get_with_a_query_and_pages_with_offset_tokens(api):
    experiment_id = new_experiment(api)
    ids = [create(api, experiment_id)["dataset_id"] for _ in range(3)]
    answer = ok(api.get(f"{DATASETS}/search", params={"experiment_ids": experiment_id, "max_results": 2}))
    assert [d["dataset_id"] for d in answer["datasets"]] == ids[::-1][:2]
    assert json.loads(base64.b64decode(answer["next_page_token"])) == {"offset": 2}
    rest = ok(
        api.post(
            f"{DATASETS}/search", json={"experiment_ids": [experiment_id], "page_token": answer["next_page_token"]}
        )
    )
    assert [d["dataset_id"] for d in rest["datasets"]] == ids[:1] and "next_page_token" not in rest
    assert ok(api.post(f"{DATASETS}/search", json={"experiment_ids": [new_experiment(api)]})) == {}


def test_records_read_and_delete_refuse_bad_arguments(api):
    dataset_id = create(api)["dataset_id"]
    assert "page token" in error(api.get(f"{DATASETS}/{dataset_id}/records", params={"page_token": "%%%"}))
    assert "50000" in error(api.get(f"{DATASETS}/{dataset_id}/records", params={"max_results": 50_001}))
    assert "max_results" in error(api.get(f"{DATASETS}/{dataset_id}/records", params={"max_results": -1}))
    body = {"dataset_record_ids": "dr-1"}
    assert "dataset_record_ids" in error(api.request("DELETE", f"{DATASETS}/{dataset_id}/records", json=body))
    assert "NUL" in error(api.patch(f"{DATASETS}/{dataset_id}/tags", json={"tags": json.dumps({"a\x00": "1"})}))


def test_links_are_idempotent_and_deleting_a_dataset_deletes_its_rows(api):
    experiment_id = new_experiment(api)
    dataset = create(api, experiment_id)
    dataset_id = dataset["dataset_id"]
    upsert(api, dataset_id, [{"inputs": {"i": 1}}])
    body = {"experiment_ids": [experiment_id, experiment_id]}
    again = ok(api.post(f"{DATASETS}/{dataset_id}/add-experiments", json=body))["dataset"]
    assert "experiment_ids" not in again and again["last_update_time"] >= dataset["last_update_time"]
    assert ok(api.get(f"{DATASETS}/{dataset_id}/experiment-ids")) == {"experiment_ids": [experiment_id]}
    ok(api.delete(f"{DATASETS}/{dataset_id}"))
    assert records_of(api, dataset_id) == ([], None)
    assert ok(api.get(f"{DATASETS}/{dataset_id}/experiment-ids")) == {}
    # the experiment is still there, free of the link
    assert ok(api.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id}))


# -- --auth -----------------------------------------------------------------------------------------


def _user(http: httpx.Client) -> tuple[str, str]:
    credentials = (f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    ok(http.post("/api/2.0/mlflow/users/create", json={"username": credentials[0], "password": credentials[1]}))
    return credentials


def test_with_auth_a_dataset_is_judged_by_the_experiments_it_is_linked_to(guarded):
    with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
        alice, bob = _user(admin), _user(admin)
    with (
        httpx.Client(base_url=guarded.url, auth=alice, timeout=60) as as_alice,
        httpx.Client(base_url=guarded.url, auth=bob, timeout=60) as as_bob,
    ):
        mine = new_experiment(as_alice)  # alice MANAGEs it; bob may READ it (the default)
        dataset_id = create(as_alice, mine)["dataset_id"]
        upsert(as_alice, dataset_id, [{"inputs": {"i": 1}}])

        assert ok(as_bob.get(f"{DATASETS}/{dataset_id}"))["dataset"]["dataset_id"] == dataset_id
        assert len(records_of(as_bob, dataset_id)[0]) == 1
        assert ok(as_bob.post(f"{DATASETS}/search", json={"experiment_ids": [mine]}))["datasets"]
        records = {"records": json.dumps([{"inputs": {"i": 2}}])}
        error(as_bob.post(f"{DATASETS}/{dataset_id}/records", json=records), 403, "PERMISSION_DENIED")
        error(as_bob.patch(f"{DATASETS}/{dataset_id}/tags", json={"tags": "{}"}), 403, "PERMISSION_DENIED")
        error(as_bob.delete(f"{DATASETS}/{dataset_id}"), 403, "PERMISSION_DENIED")
        # a non-admin names the experiments of a search or a new dataset
        error(as_bob.post(f"{DATASETS}/search", json={}), 403, "PERMISSION_DENIED")
        error(as_bob.post(f"{DATASETS}/create", json={"name": "x"}), 403, "PERMISSION_DENIED")
        error(as_bob.post(f"{DATASETS}/create", json={"name": "x", "experiment_ids": [mine]}), 403, "PERMISSION_DENIED")
        # linking to an experiment needs EDIT there too
        theirs = new_experiment(as_bob)
        body = {"experiment_ids": [mine]}
        error(as_bob.post(f"{DATASETS}/{dataset_id}/add-experiments", json=body), 403, "PERMISSION_DENIED")
        body = {"experiment_ids": [theirs]}  # alice may only READ bob's experiment
        error(as_alice.post(f"{DATASETS}/{dataset_id}/add-experiments", json=body), 403, "PERMISSION_DENIED")
        with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
            ok(admin.post(f"{DATASETS}/{dataset_id}/add-experiments", json=body))
        error(as_bob.delete(f"{DATASETS}/{dataset_id}"), 403, "PERMISSION_DENIED")  # MANAGE in both

        grant = {"experiment_id": mine, "username": bob[0], "permission": "NO_PERMISSIONS"}
        ok(as_alice.post("/api/2.0/mlflow/experiments/permissions/create", json=grant))
        error(as_bob.get(f"{DATASETS}/{dataset_id}"), 403, "PERMISSION_DENIED")

        # a dataset linked to no experiment (or none at all) is for admins only
        body = {"experiment_ids": [mine, theirs]}
        error(as_alice.post(f"{DATASETS}/{dataset_id}/remove-experiments", json=body), 403, "PERMISSION_DENIED")
        with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
            ok(admin.post(f"{DATASETS}/{dataset_id}/remove-experiments", json=body))
        error(as_alice.get(f"{DATASETS}/{dataset_id}"), 403, "PERMISSION_DENIED")
        error(as_alice.get(f"{DATASETS}/d-{'0' * 32}"), 403, "PERMISSION_DENIED")
    with httpx.Client(base_url=guarded.url, auth=ADMIN, timeout=60) as admin:
        assert ok(admin.get(f"{DATASETS}/{dataset_id}"))["dataset"]["dataset_id"] == dataset_id


def test_concurrent_merges_into_one_dataset_lose_nothing(api, server):
    from concurrent.futures import ThreadPoolExecutor

    dataset_id = create(api)["dataset_id"]

    def merge(worker: int) -> dict[str, Any]:
        shared = [{"inputs": {"q": i}, "expectations": {f"by{worker}": worker}} for i in range(50)]
        own = [{"inputs": {"q": f"{worker}-{i}"}} for i in range(50)]
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return ok(client.post(f"{DATASETS}/{dataset_id}/records", json={"records": json.dumps(shared + own)}))  # type: ignore[no-any-return]

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(merge, range(4)))
    assert sum(c["inserted_count"] for c in counts) == 50 + 4 * 50
    assert sum(c["updated_count"] for c in counts) == 3 * 50
    records, _ = records_of(api, dataset_id, max_results=1000)
    assert len(records) == 250
    shared = [r for r in records if isinstance(r["inputs"]["q"], int)]
    assert all(r["expectations"] == {f"by{w}": w for w in range(4)} for r in shared)  # every merge kept
