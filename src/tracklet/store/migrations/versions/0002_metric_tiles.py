"""metric tiles: per-pixel summaries of metric histories for the web UI's charts

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_tiles",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("axis", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("first_x", sa.BigInteger(), nullable=False),
        sa.Column("last_x", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.Float(precision=53), nullable=False),
        sa.Column("min_value", sa.Float(precision=53), nullable=False),
        sa.Column("max_value", sa.Float(precision=53), nullable=False),
        sa.Column("min_ts", sa.BigInteger(), nullable=False),
        sa.Column("max_ts", sa.BigInteger(), nullable=False),
        sa.Column("n_points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key", "axis", "level", "bucket"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "metric_tile_state",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("axis", sa.Integer(), nullable=False),
        sa.Column("built_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key", "axis"),
    )


def downgrade() -> None:
    op.drop_table("metric_tile_state")
    op.drop_table("metric_tiles")
