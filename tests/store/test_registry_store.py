"""The registry store's rules, on SQLite and on a real PostgreSQL (the `store_uri` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select

from tracklet.entities import KeyValue
from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store.database import Database
from tracklet.store.migrations import upgrade
from tracklet.store.store import Store

REGISTRY_TABLES = ("registered_models", "registered_model_tags", "registered_model_aliases", "model_versions",
                   "model_version_tags")  # fmt: skip


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    st = Store(store_uri)
    yield st
    st.close()


def _version(store: Store, name: str, source: str = "s3://bucket/model") -> str:
    return store.create_model_version(name, source, None, [], "", "", None).version


def test_migration_0007_creates_the_tables_of_the_schema(store_uri: str) -> None:
    """A store at 0006 (with data) upgrades to the registry; the columns are exactly those of `schema`."""
    db = Database(store_uri)
    upgrade(db.engine, "0006")
    assert not set(REGISTRY_TABLES) & set(inspect(db.engine).get_table_names())
    with db.write() as conn:  # data as the code of revision 0006 wrote it
        conn.execute(
            s.experiments.insert().values(
                experiment_id=1, name="before", artifact_location="x", lifecycle_stage="active",
                creation_time=0, last_update_time=0,
            )
        )  # fmt: skip
    db.dispose()
    experiment_id = "1"

    store = Store(store_uri)
    try:
        inspector = inspect(store.db.engine)
        for table in REGISTRY_TABLES:
            columns = {c["name"] for c in inspector.get_columns(table)}
            assert columns == set(s.metadata.tables[table].c.keys()), table
            primary = inspector.get_pk_constraint(table)["constrained_columns"]
            assert primary == [c.name for c in s.metadata.tables[table].primary_key.columns], table
        assert store.get_experiment(int(experiment_id)).name == "before"
        store.create_registered_model("after", [], None)
        assert _version(store, "after") == "1"
    finally:
        store.close()


def test_concurrent_versions_get_distinct_numbers(store: Store) -> None:
    store.create_registered_model("busy", [], None)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(5):
                numbers.append(_version(store, "busy"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers, key=int) == [str(n) for n in range(1, 31)]


def test_a_failed_version_create_writes_nothing(store: Store) -> None:
    store.create_registered_model("atomic", [], None)
    before = store.get_registered_model("atomic").last_updated_timestamp
    with pytest.raises(ResourceDoesNotExist):
        store.create_model_version("atomic", "models:/m-none", None, [KeyValue("k", "v")], "", "", "m-none")
    with pytest.raises(InvalidParameterValue):
        store.create_model_version("atomic", "runs:/abc/model", "def", [], "", "", None)
    with store.db.read() as conn:
        assert conn.execute(select(s.model_versions)).all() == []
        assert conn.execute(select(s.model_version_tags)).all() == []
    assert store.get_registered_model("atomic").last_updated_timestamp == before
    assert _version(store, "atomic") == "1"


def test_rename_keeps_versions_tags_and_aliases(store: Store) -> None:
    store.create_registered_model("old", [KeyValue("team", "a")], "about")
    _version(store, "old")
    store.set_model_version_tag("old", 1, "q", "good")
    store.set_registered_model_alias("old", "champion", 1)
    renamed = store.rename_registered_model("old", "new")
    assert (renamed.name, renamed.description, renamed.tags) == ("new", "about", {"team": "a"})
    version = store.get_model_version_by_alias("new", "champion")
    assert (version.name, version.version, version.tags) == ("new", "1", {"q": "good"})
    with pytest.raises(ResourceDoesNotExist):
        store.get_model_version("old", 1)
    # The old name is free: a new model under it starts at version 1.
    store.create_registered_model("old", [], None)
    assert _version(store, "old") == "1"


def test_a_deleted_version_is_redacted_and_its_number_kept(store: Store) -> None:
    store.create_registered_model("redact", [], None)
    _version(store, "redact", "s3://secret/place")
    store.delete_model_version("redact", 1)
    with store.db.read() as conn:
        row = conn.execute(select(s.model_versions)).one()
    assert (row.version, row.current_stage, row.source, row.run_id) == (
        1, "Deleted_Internal", "REDACTED-SOURCE-PATH", "REDACTED-RUN-ID",
    )  # fmt: skip
    assert store.get_registered_model("redact").latest_versions == []
    assert _version(store, "redact") == "2"
    found, token = store.search_model_versions("name = 'redact'", 10, [], None)
    assert [v.version for v in found] == ["2"] and token is None


def test_latest_versions_are_the_newest_of_each_stage(store: Store) -> None:
    store.create_registered_model("stages", [], None)
    for _ in range(4):
        _version(store, "stages")
    store.transition_model_version_stage("stages", 1, "Production", False)
    store.transition_model_version_stage("stages", 2, "Production", False)
    latest = store.get_registered_model("stages").latest_versions
    assert [(v.version, v.current_stage) for v in latest] == [("2", "Production"), ("4", "None")]
    assert [v.version for v in store.get_latest_versions("stages", ["production"])] == ["2"]
    assert store.get_model_version_by_alias("stages", "latest").version == "4"
