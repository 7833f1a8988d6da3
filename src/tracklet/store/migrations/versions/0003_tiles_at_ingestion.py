"""metric tiles kept at ingestion: points counted per history, older histories rebuilt on first read

`latest_metrics.n_points` counts the points of each history (tiles are kept once a history holds
more than 1,000). Tiles are a cache, so the old ones (built lazily, with a 16-step level 0, possibly
missing late points) are dropped, and every long history is listed in `metric_tile_rebuilds`: its
first chart read builds its tiles from its points. Counting reads every point once.

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

TILED_AFTER = 1_000  # tracklet.store.tiles.TILED_AFTER when this migration was written


def upgrade() -> None:
    op.add_column("latest_metrics", sa.Column("n_points", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE latest_metrics SET n_points = (SELECT count(*) FROM metrics "
        "WHERE metrics.run_uuid = latest_metrics.run_uuid AND metrics.key = latest_metrics.key)"
    )
    op.drop_table("metric_tile_state")
    op.execute("DELETE FROM metric_tiles")
    rebuilds = op.create_table(
        "metric_tile_rebuilds",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
    )
    latest = sa.table("latest_metrics", sa.column("run_uuid"), sa.column("key"), sa.column("n_points"))
    long_histories = sa.select(latest.c.run_uuid, latest.c.key).where(latest.c.n_points > TILED_AFTER)
    op.execute(rebuilds.insert().from_select(["run_uuid", "key"], long_histories))


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
    with op.batch_alter_table("latest_metrics") as batch:
        batch.drop_column("n_points")
