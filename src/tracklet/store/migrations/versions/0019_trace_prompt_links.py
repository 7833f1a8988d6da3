"""the prompt versions linked to traces (`traces/link-prompts`)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trace_prompt_links",
        sa.Column("trace_id", sa.String(length=50), sa.ForeignKey("traces.trace_id"), nullable=False),
        sa.Column("prompt_version", sa.String(length=300), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "prompt_version"),
    )
    op.create_index("ix_trace_prompt_links_prompt", "trace_prompt_links", ["prompt_version"])


def downgrade() -> None:
    op.drop_index("ix_trace_prompt_links_prompt", table_name="trace_prompt_links")
    op.drop_table("trace_prompt_links")
