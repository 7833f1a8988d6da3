"""webhooks of the model registry (MLflow's `webhooks/*` API) and the events each is subscribed to

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("creation_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id"),
    )
    op.create_index("ix_webhooks_created", "webhooks", ["creation_timestamp"])
    op.create_table(
        "webhook_events",
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("entity", sa.String(length=50), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.webhook_id"]),
        sa.PrimaryKeyConstraint("webhook_id", "entity", "action"),
    )
    op.create_index("ix_webhook_events_event", "webhook_events", ["entity", "action"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_event", table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index("ix_webhooks_created", table_name="webhooks")
    op.drop_table("webhooks")
