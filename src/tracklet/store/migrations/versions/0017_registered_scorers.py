"""MLflow 3's registered scorers: a scorer per (experiment, name), its versions

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scorers",
        sa.Column("scorer_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("scorer_name", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("scorer_id"),
    )
    op.create_index("ix_scorers_experiment_name", "scorers", ["experiment_id", "scorer_name"], unique=True)
    op.create_table(
        "scorer_versions",
        sa.Column("scorer_id", sa.String(length=36), nullable=False),
        sa.Column("scorer_version", sa.Integer(), nullable=False),
        sa.Column("serialized_scorer", sa.Text(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["scorer_id"], ["scorers.scorer_id"]),
        sa.PrimaryKeyConstraint("scorer_id", "scorer_version"),
    )


def downgrade() -> None:
    op.drop_table("scorer_versions")
    op.drop_table("scorers")
