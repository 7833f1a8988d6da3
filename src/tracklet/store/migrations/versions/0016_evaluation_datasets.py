"""MLflow 3's evaluation datasets: datasets, their tags, records and links to experiments

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_datasets",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("schema", sa.Text(), nullable=True),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("last_updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("dataset_id"),
    )
    op.create_index("ix_evaluation_datasets_name", "evaluation_datasets", ["name"])
    op.create_index("ix_evaluation_datasets_created_time", "evaluation_datasets", ["created_time"])
    op.create_table(
        "evaluation_dataset_tags",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=5000), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["evaluation_datasets.dataset_id"]),
        sa.PrimaryKeyConstraint("dataset_id", "key"),
    )
    op.create_table(
        "evaluation_dataset_records",
        sa.Column("dataset_record_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=True),
        sa.Column("expectations", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("last_updated_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["evaluation_datasets.dataset_id"]),
        sa.PrimaryKeyConstraint("dataset_record_id"),
    )
    op.create_index(
        "ix_evaluation_dataset_records_inputs", "evaluation_dataset_records", ["dataset_id", "input_hash"], unique=True
    )
    op.create_index(
        "ix_evaluation_dataset_records_page",
        "evaluation_dataset_records",
        ["dataset_id", "created_time", "dataset_record_id"],
    )
    op.create_table(
        "evaluation_dataset_experiments",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["evaluation_datasets.dataset_id"]),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("dataset_id", "experiment_id"),
    )
    op.create_index("ix_evaluation_dataset_experiments_experiment", "evaluation_dataset_experiments", ["experiment_id"])


def downgrade() -> None:
    op.drop_table("evaluation_dataset_experiments")
    op.drop_table("evaluation_dataset_records")
    op.drop_table("evaluation_dataset_tags")
    op.drop_table("evaluation_datasets")
