"""span filters: every span searchable in the database

`trace_spans` now also holds the spans of traces whose client uploaded them as `traces.json` (copied when
the server receives the file, or when a span filter first needs them), and each span's name, type and
status; `trace_span_attributes` holds its attributes, decoded. Rows written before this revision have
no status (`ix_trace_spans_unindexed`): a span filter fills them in first.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trace_spans", sa.Column("name", sa.Text(), nullable=True))
    op.add_column("trace_spans", sa.Column("type", sa.Text(), nullable=True))
    op.add_column("trace_spans", sa.Column("status", sa.String(length=20), nullable=True))
    op.create_index(
        "ix_trace_spans_unindexed",
        "trace_spans",
        ["trace_id"],
        sqlite_where=sa.text("status IS NULL"),
        postgresql_where=sa.text("status IS NULL"),
    )
    op.create_table(
        "trace_span_attributes",
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["trace_id", "span_id"], ["trace_spans.trace_id", "trace_spans.span_id"]),
        sa.PrimaryKeyConstraint("trace_id", "span_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("trace_span_attributes")
    op.drop_index("ix_trace_spans_unindexed", table_name="trace_spans")
    with op.batch_alter_table("trace_spans") as batch:
        batch.drop_column("status")
        batch.drop_column("type")
        batch.drop_column("name")
