"""access tokens have a scope: "all" (what their user may do, as every token before) or "read"

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every token so far could do all its user may: they keep it.
    op.add_column("access_tokens", sa.Column("scope", sa.String(length=16), nullable=False, server_default="all"))


def downgrade() -> None:
    with op.batch_alter_table("access_tokens") as batch:
        batch.drop_column("scope")
