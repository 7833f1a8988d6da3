"""no (key, value) indexes on params, tags and latest metrics; a partial index of parent-run tags

Searches test each candidate run by (run_uuid, key), the primary key: the (key, value) indexes sped
up no search (measured at 10,000 runs on SQLite and 3,000 on PostgreSQL) and cost every new run one
B-tree leaf write per key (a run with 10 params, 5 tags and 5 metrics: logging them took about twice
as long). The web UI's nested view finds a run's children by the `mlflow.parentRunId` tag: only
those tags are indexed now (`ix_tags_parent_run`, partial).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PARENT = sa.text("key = 'mlflow.parentRunId'")
_DROPPED = (
    ("params", "ix_params_key_value"),
    ("tags", "ix_tags_key_value"),
    ("latest_metrics", "ix_latest_metrics_key_value"),
)


def upgrade() -> None:
    for table, index in _DROPPED:
        op.drop_index(index, table_name=table)
    op.create_index("ix_tags_parent_run", "tags", ["value"], sqlite_where=_PARENT, postgresql_where=_PARENT)


def downgrade() -> None:
    op.drop_index("ix_tags_parent_run", table_name="tags")
    for table, index in _DROPPED:
        op.create_index(index, table, ["key", "value"])
