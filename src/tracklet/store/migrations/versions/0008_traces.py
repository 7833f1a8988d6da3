"""MLflow 3 traces: one row per trace, its tags and its metadata (spans stay artifacts)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _key_values(name: str) -> None:
    op.create_table(
        name,
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["traces.trace_id"]),
        sa.PrimaryKeyConstraint("trace_id", "key"),
    )


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("request_time", sa.BigInteger(), nullable=False),
        sa.Column("execution_duration", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("client_request_id", sa.String(length=250), nullable=True),
        sa.Column("request_preview", sa.Text(), nullable=True),
        sa.Column("response_preview", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("trace_id"),
    )
    op.create_index("ix_traces_experiment_time", "traces", ["experiment_id", "request_time"])
    _key_values("trace_tags")
    _key_values("trace_metadata")


def downgrade() -> None:
    op.drop_table("trace_metadata")
    op.drop_table("trace_tags")
    op.drop_index("ix_traces_experiment_time", table_name="traces")
    op.drop_table("traces")
