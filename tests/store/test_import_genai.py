"""The store's import methods for MLflow 3's evaluation datasets and registered scorers (`tracklet
import-mlflow`): ids, numbers and times kept, each whole in one transaction, nothing written twice."""

from __future__ import annotations

import json
import math
import time

from tracklet.store.eval_datasets import EvaluationDataset, NewRecord
from tracklet.store.scorers import ScorerVersion
from tracklet.store.store import Store

DATASET_ID = "d-0123456789abcdef0123456789abcdef"


def _copied(**changes: object) -> EvaluationDataset:
    fields: dict[str, object] = dict(
        dataset_id=DATASET_ID, name="qa", tags="", digest="ab12cd34", created_time=1000, last_update_time=2000,
        schema='{"inputs": {"q": "string"}, "outputs": {}, "expectations": {}, "version": "1.0"}',
        profile='{"num_records": 2}', created_by="ada", last_updated_by="bob",
    )  # fmt: skip
    return EvaluationDataset(**{**fields, **changes})  # type: ignore[arg-type]


RECORDS = [
    {"dataset_record_id": "dr-1", "dataset_id": DATASET_ID, "inputs": {"q": "2+2?"}, "outputs": {"a": "4"},
     "expectations": {"a": "4"}, "tags": {"mlflow.user": "ada"}, "source": {"source_type": "HUMAN",
     "source_data": {"source_id": "s-1"}}, "source_id": "s-1", "source_type": "HUMAN", "created_time": 1000,
     "last_update_time": 1500, "created_by": "ada", "last_updated_by": "bob"},
    {"dataset_record_id": "dr-2", "dataset_id": DATASET_ID, "inputs": {"q": "why?", "x": math.nan},
     "tags": {}, "created_time": 1200, "last_update_time": 1200},
]  # fmt: skip


def test_an_imported_dataset_keeps_its_id_fields_records_and_links(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        other = int(store.create_experiment("other"))
        assert store.import_dataset(_copied(), {"team": "genai"}, RECORDS, [0, other])
        got = store.get_dataset(DATASET_ID)
        assert (got.name, got.digest, got.created_time, got.last_update_time) == ("qa", "ab12cd34", 1000, 2000)
        assert (got.created_by, got.last_updated_by, got.profile) == ("ada", "bob", '{"num_records": 2}')
        assert json.loads(got.tags) == {"team": "genai"} and got.schema == _copied().schema
        assert store.dataset_experiment_ids(DATASET_ID) == ["0", str(other)]
        page, token = store.dataset_records(DATASET_ID, 1, None)
        (first,) = json.loads(page)
        assert first == {k: v for k, v in RECORDS[0].items()} and token is not None
        page, token = store.dataset_records(DATASET_ID, 1, token)
        (second,) = json.loads(page)  # Python's JSON: NaN stays NaN
        assert second["dataset_record_id"] == "dr-2" and math.isnan(second["inputs"]["x"]) and token is None
        assert "outputs" not in second and "source" not in second and second["tags"] == {}

        assert not store.import_dataset(_copied(name="again"), {}, [], [0])  # there already: nothing written
        assert store.get_dataset(DATASET_ID).name == "qa"
        # A record is found again by its inputs, as if it had been merged here.
        merged = NewRecord({"q": "2+2?"}, False, None, {"checked": True}, None, None)
        assert store.upsert_dataset_records(DATASET_ID, [merged]) == (0, 1)
        page, _ = store.dataset_records(DATASET_ID, 10, None)
        assert json.loads(page)[0]["expectations"] == {"a": "4", "checked": True}
    finally:
        store.close()


def test_a_copied_dataset_gains_only_the_links_it_lacks_and_stays_as_it_was(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        other = int(store.create_experiment("other"))
        store.import_dataset(_copied(), {}, [], [0])
        assert store.link_imported_dataset(DATASET_ID, [0, other]) == 1
        assert store.link_imported_dataset(DATASET_ID, [0, other]) == 0
        assert store.dataset_experiment_ids(DATASET_ID) == ["0", str(other)]
        assert store.get_dataset(DATASET_ID).last_update_time == 2000
    finally:
        store.close()


def test_a_copied_dataset_is_brought_up_to_date_and_keeps_what_was_added_here(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        store.import_dataset(_copied(), {"team": "genai"}, RECORDS, [0])
        # Here, after the first import: a record of its own, and dr-2 changed (at a time later than the source's).
        mine = NewRecord({"q": "added here"}, False, None, {"a": "x"}, None, None)
        store.upsert_dataset_records(DATASET_ID, [mine])
        changed_here = NewRecord({"q": "why?", "x": math.nan}, True, "because", None, None, None)
        store.upsert_dataset_records(DATASET_ID, [changed_here])
        here = {r["dataset_record_id"]: r for r in json.loads(store.dataset_records(DATASET_ID, 10, None)[0])}
        # At the source, since (a minute from now): dr-1 changed, dr-3 added, a tag changed and one added.
        later = int(time.time() * 1000) + 60_000
        changed_there = {**RECORDS[0], "outputs": {"a": "four"}, "last_update_time": later, "last_updated_by": "cy"}
        added_there = {**RECORDS[1], "dataset_record_id": "dr-3", "inputs": {"q": "new?"}, "created_time": later,
                       "last_update_time": later}  # fmt: skip
        stale_dr2 = {**RECORDS[1], "outputs": "older"}  # as the source still has it (time 1200)
        source = _copied(digest="ef56", last_update_time=later, last_updated_by="cy")
        tags = {"team": "evals", "split": "test"}

        assert store.sync_imported_dataset(source, tags, [changed_there, stale_dr2, added_there]) == (1, 1)
        got = store.get_dataset(DATASET_ID)
        assert (got.digest, got.last_update_time, got.last_updated_by) == ("ef56", later, "cy")
        assert json.loads(got.tags) == tags and json.loads(got.profile or "") == {"num_records": 4}
        now = {r["dataset_record_id"]: r for r in json.loads(store.dataset_records(DATASET_ID, 10, None)[0])}
        assert set(now) == set(here) | {"dr-3"}  # the record added here stays
        assert now["dr-1"]["outputs"] == {"a": "four"} and now["dr-1"]["last_updated_by"] == "cy"
        assert now["dr-2"]["outputs"] == "because"  # changed here later than there: kept
        assert now["dr-3"]["inputs"] == {"q": "new?"}
        # Again, nothing new at the source: nothing changes.
        assert store.sync_imported_dataset(source, tags, [changed_there, stale_dr2, added_there]) == (0, 0)
        # A source older than this copy does not take its fields back.
        assert store.sync_imported_dataset(_copied(digest="old"), {}, []) == (0, 0)
        assert store.get_dataset(DATASET_ID).digest == "ef56"
    finally:
        store.close()


def _version(experiment_id: int, number: int, text: str, name: str = "polite") -> ScorerVersion:
    return ScorerVersion(experiment_id, name, number, json.dumps({"name": name, "text": text}), 100 + number, "")


def test_imported_scorer_versions_keep_their_numbers_id_and_text(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        scorer_id = "6e33766a-8b22-4ab1-b50b-9bcac3966e83"
        copied = [_version(0, 1, "one"), _version(0, 3, "three")]
        assert store.import_scorer_versions(0, scorer_id, copied) == 2
        assert store.list_scorer_versions(0, "polite") == [
            ScorerVersion(0, "polite", 1, copied[0].serialized_scorer, 101, scorer_id),
            ScorerVersion(0, "polite", 3, copied[1].serialized_scorer, 103, scorer_id),
        ]
        assert store.scorer_version_numbers(0, "polite") == {1, 3}
        # Again, with one more: only that one is new; those there keep their text.
        assert store.import_scorer_versions(0, scorer_id, [_version(0, 1, "changed"), _version(0, 4, "four")]) == 1
        assert store.get_scorer(0, "polite", 1).serialized_scorer == copied[0].serialized_scorer
        assert store.register_scorer(0, "polite", '{"name": "polite"}').scorer_version == 5  # numbered after them

        # Its id is taken (by the scorer above), so a scorer of that name elsewhere gets one of its own.
        other = int(store.create_experiment("other"))
        assert store.import_scorer_versions(other, scorer_id, [_version(other, 2, "two")]) == 1
        moved = store.get_scorer(other, "polite", None)
        assert moved.scorer_version == 2 and moved.scorer_id != scorer_id
        # A scorer of that name in the experiment already: the versions join it under its id.
        existing = store.register_scorer(other, "brief", '{"name": "brief"}')
        assert store.import_scorer_versions(other, "x-1", [_version(other, 2, "b2", "brief")]) == 1
        assert [(v.scorer_version, v.scorer_id) for v in store.list_scorer_versions(other, "brief")] == [
            (1, existing.scorer_id),
            (2, existing.scorer_id),
        ]
        assert store.scorer_version_numbers(other, "nothing") == set()
    finally:
        store.close()
