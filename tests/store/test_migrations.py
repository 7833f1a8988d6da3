"""The migrations build exactly the schema the code uses (`store/schema.py`), as one line of revisions."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from tracklet.store import schema as s
from tracklet.store.migrations import alembic_config, current_revision
from tracklet.store.store import Store


def test_the_revisions_form_one_line_and_a_new_store_is_at_its_head(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        scripts = ScriptDirectory.from_config(alembic_config(store.db.engine))
        assert len(scripts.get_heads()) == 1, "two migrations revise the same revision"
        assert current_revision(store.db.engine) == scripts.get_current_head()
    finally:
        store.close()


def test_a_migrated_store_has_the_tables_columns_keys_and_indexes_of_the_schema(store_uri: str) -> None:
    store = Store(store_uri)
    try:
        inspector = inspect(store.db.engine)
        assert set(s.metadata.tables) <= set(inspector.get_table_names())
        for name, table in s.metadata.tables.items():
            assert {c["name"] for c in inspector.get_columns(name)} == set(table.c.keys()), name
            assert inspector.get_pk_constraint(name)["constrained_columns"] == [c.name for c in table.primary_key], name
            # (PostgreSQL lists unique constraints as indexes too; SQLite names its own `sqlite_…`)
            indexes = {
                ix["name"]: ix["column_names"]
                for ix in inspector.get_indexes(name)
                if not ix.get("duplicates_constraint") and not str(ix["name"]).startswith("sqlite_")
            }
            assert indexes == {ix.name: [c.name for c in ix.columns] for ix in table.indexes}, name
    finally:
        store.close()


def test_spans_stored_before_0013_are_kept_and_become_searchable(store_uri: str) -> None:
    """OTLP spans written by an older tracklet (no name, type or status): the upgrade keeps them, and
    the fields span filters compare are filled in when a span filter first needs them."""
    from sqlalchemy import text

    from tracklet.store.database import Database
    from tracklet.store.migrations import upgrade

    db = Database(store_uri)
    try:
        upgrade(db.engine, "0012")
        span = '{"name": "llm", "status": {"code": "STATUS_CODE_ERROR"}, "attributes": {"model": "\\"tiny\\""}}'
        with db.write() as conn:
            conn.execute(text("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
                              "last_update_time) VALUES ('old', 'mlflow-artifacts:/old', 'active', 0, 0)"))  # fmt: skip
            experiment_id = conn.execute(text("SELECT experiment_id FROM experiments WHERE name = 'old'")).scalar()
            conn.execute(
                text(
                    "INSERT INTO traces (trace_id, experiment_id, request_time, state) VALUES ('tr-old', :e, 1, 'OK')"
                ),
                {"e": experiment_id},
            )
            conn.execute(
                text("INSERT INTO trace_spans (trace_id, span_id, start_time, content) VALUES ('tr-old', :s, 1, :c)"),
                {"s": "00000000000000aa", "c": span},
            )
    finally:
        db.dispose()

    store = Store(store_uri)
    try:
        found = "span.name = 'llm' AND span.status = 'ERROR' AND span.attributes.model = 'tiny'"
        assert store.search_traces([experiment_id], found, [], 10, None)[0] == []  # not filled in yet
        assert store.has_unindexed_spans([experiment_id])
        assert store.index_stored_spans([experiment_id]) == 1
        assert not store.has_unindexed_spans([experiment_id])
        traces, _ = store.search_traces([experiment_id], found, [], 10, None)
        assert [t.trace_id for t in traces] == ["tr-old"]
    finally:
        store.close()


def test_rows_from_before_0020_belong_to_the_default_workspace_and_names_become_unique_per_workspace(
    store_uri: str,
) -> None:
    """A store of 0019 with experiments, runs, registered models and grants: the upgrade keeps them all, in
    `default`; afterwards another workspace may reuse their names, `default` still may not."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from tracklet.store.database import Database
    from tracklet.store.migrations import upgrade

    db = Database(store_uri)
    try:
        upgrade(db.engine, "0019")
        with db.write() as conn:
            conn.execute(text("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
                              "last_update_time) VALUES ('old', 'mlflow-artifacts:/old', 'active', 0, 0)"))  # fmt: skip
            experiment_id = conn.execute(text("SELECT experiment_id FROM experiments WHERE name = 'old'")).scalar()
            conn.execute(
                text(
                    "INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, lifecycle_stage, "
                    "artifact_uri, user_id) VALUES ('r-old', :e, 'run', 'RUNNING', 1, 'active', 'x', 'u')"
                ),
                {"e": experiment_id},
            )
            conn.execute(
                text("INSERT INTO registered_models (name, creation_time, last_updated_time) VALUES ('m', 0, 0)")
            )
            conn.execute(text("INSERT INTO users (username, password_hash, is_admin) VALUES ('u', 'h', false)"))
            conn.execute(
                text(
                    "INSERT INTO registered_model_permissions (name, user_id, permission) "
                    "SELECT 'm', user_id, 'EDIT' FROM users WHERE username = 'u'"
                )
            )
        upgrade(db.engine)
        with db.read() as conn:
            assert conn.execute(text("SELECT name, description FROM workspaces")).all() == [
                ("default", "Default workspace for legacy resources")
            ]
            assert conn.execute(text("SELECT workspace FROM experiments WHERE name = 'old'")).scalar() == "default"
            assert (
                conn.execute(text("SELECT experiment_id FROM runs WHERE run_uuid = 'r-old'")).scalar() == experiment_id
            )
            assert conn.execute(text("SELECT workspace FROM registered_models")).all() == [("default",)]
            assert conn.execute(text("SELECT name, workspace, permission FROM registered_model_permissions")).all() == [
                ("m", "default", "EDIT")
            ]
        with db.write() as conn:
            conn.execute(text("INSERT INTO workspaces (name) VALUES ('team-a')"))
            conn.execute(text("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
                              "last_update_time, workspace) VALUES ('old', 'x', 'active', 0, 0, 'team-a')"))  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO registered_models (name, creation_time, last_updated_time, workspace) "
                    "VALUES ('m', 0, 0, 'team-a')"
                )
            )
        for duplicate in (
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) "
            "VALUES ('old', 'x', 'active', 0, 0)",
            "INSERT INTO registered_models (name, creation_time, last_updated_time) VALUES ('m', 0, 0)",
        ):
            with pytest.raises(IntegrityError), db.write() as conn:
                conn.execute(text(duplicate))
    finally:
        db.dispose()


def test_0020_goes_down_and_up_again_unless_another_workspace_holds_something(store_uri: str) -> None:
    from alembic import command
    from sqlalchemy import text

    store = Store(store_uri)
    engine = store.db.engine
    try:
        store.create_experiment("kept")
        command.downgrade(alembic_config(engine), "0019")
        upgrade_again = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        command.upgrade(alembic_config(engine), upgrade_again)  # type: ignore[arg-type]
        with engine.begin() as conn:
            assert conn.execute(text("SELECT workspace FROM experiments WHERE name = 'kept'")).scalar() == "default"
            conn.execute(text("INSERT INTO workspaces (name) VALUES ('team-a')"))
            conn.execute(text("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
                              "last_update_time, workspace) VALUES ('kept', 'x', 'active', 0, 0, 'team-a')"))  # fmt: skip
        with pytest.raises(RuntimeError, match="experiments has rows outside the 'default' workspace"):
            command.downgrade(alembic_config(engine), "0019")
        assert current_revision(engine) == upgrade_again
    finally:
        store.close()
