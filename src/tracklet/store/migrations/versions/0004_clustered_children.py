"""a run's params, tags and latest metrics stored together (SQLite), tags indexed by key and value

On SQLite, `params`, `tags` and `latest_metrics` become WITHOUT ROWID tables clustered on their
primary key (run_uuid, key): writing a row touches one B-tree instead of two, and reading a run's
children is one contiguous range. PostgreSQL has no such option and keeps its heap tables.
`ix_tags_key_value` serves tag filters and the parent-run lookups of nested runs.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CLUSTERED = ("params", "tags", "latest_metrics")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _CLUSTERED:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_with_rowid": False}):
                pass
    op.create_index("ix_tags_key_value", "tags", ["key", "value"])


def downgrade() -> None:
    op.drop_index("ix_tags_key_value", table_name="tags")
    if op.get_bind().dialect.name == "sqlite":
        for table in _CLUSTERED:
            with op.batch_alter_table(table, recreate="always"):
                pass
