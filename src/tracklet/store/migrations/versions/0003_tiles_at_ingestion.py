"""metric tiles kept at ingestion: histories logged before are listed for a rebuild on first read

Tiles are a cache, so the old ones (built lazily, with a 16-step level 0, possibly missing late
points) are dropped, and every existing history is listed in `metric_tile_rebuilds`: its first chart
read builds its tiles from its points. `latest_metrics` has one row per (run, metric) ever logged.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("metric_tile_state")
    op.execute("DELETE FROM metric_tiles")
    rebuilds = op.create_table(
        "metric_tile_rebuilds",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
    )
    latest = sa.table("latest_metrics", sa.column("run_uuid"), sa.column("key"))
    op.execute(rebuilds.insert().from_select(["run_uuid", "key"], sa.select(latest.c.run_uuid, latest.c.key)))


def downgrade() -> None:
    op.drop_table("metric_tile_rebuilds")
    op.execute("DELETE FROM metric_tiles")
    op.create_table(
        "metric_tile_state",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("axis", sa.Integer(), nullable=False),
        sa.Column("built_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key", "axis"),
    )
