"""assessments of traces (feedback, expectations, issue references); traces linked to runs; a run's
traces by index

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SOURCE_RUN = sa.text("key = 'mlflow.sourceRun'")


def upgrade() -> None:
    op.create_table(
        "trace_assessments",
        sa.Column("assessment_id", sa.String(length=50), nullable=False),
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("overrides", sa.String(length=50), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("number", sa.Float(precision=53), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["traces.trace_id"]),
        sa.PrimaryKeyConstraint("assessment_id"),
    )
    op.create_index("ix_trace_assessments_trace", "trace_assessments", ["trace_id", "create_time"])
    op.create_table(
        "trace_run_links",
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["traces.trace_id"]),
        sa.PrimaryKeyConstraint("trace_id", "run_id"),
    )
    op.create_index("ix_trace_run_links_run", "trace_run_links", ["run_id"])
    op.create_index(
        "ix_trace_metadata_source_run",
        "trace_metadata",
        ["value"],
        sqlite_where=_SOURCE_RUN,
        postgresql_where=_SOURCE_RUN,
    )


def downgrade() -> None:
    op.drop_index("ix_trace_metadata_source_run", table_name="trace_metadata")
    op.drop_index("ix_trace_run_links_run", table_name="trace_run_links")
    op.drop_table("trace_run_links")
    op.drop_index("ix_trace_assessments_trace", table_name="trace_assessments")
    op.drop_table("trace_assessments")
