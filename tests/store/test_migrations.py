"""The migrations build exactly the schema the code uses (`store/schema.py`), as one line of revisions."""

from __future__ import annotations

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
