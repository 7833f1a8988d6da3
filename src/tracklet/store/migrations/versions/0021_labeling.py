"""MLflow 3's human labeling: label schemas, review queues (their users, schemas and items), issues (and the
issue references among trace assessments, indexed for their counts)

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_schemas",
        sa.Column("schema_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("enable_comment", sa.Boolean(), nullable=False),
        sa.Column("input_type", sa.String(length=32), nullable=False),
        sa.Column("input_config", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("schema_id"),
    )
    op.create_index("ix_label_schemas_experiment_name", "label_schemas", ["experiment_id", "name"], unique=True)
    op.create_table(
        "review_queues",
        sa.Column("queue_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("name_key", sa.String(length=250), nullable=False),
        sa.Column("queue_type", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("creation_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("queue_id"),
    )
    op.create_index("ix_review_queues_experiment_name_key", "review_queues", ["experiment_id", "name_key"], unique=True)
    op.create_table(
        "review_queue_users",
        sa.Column("queue_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["review_queues.queue_id"]),
        sa.PrimaryKeyConstraint("queue_id", "user_id"),
    )
    op.create_index("ix_review_queue_users_user", "review_queue_users", ["user_id"])
    op.create_table(
        "review_queue_label_schemas",
        sa.Column("queue_id", sa.String(length=36), nullable=False),
        sa.Column("schema_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["review_queues.queue_id"]),
        sa.PrimaryKeyConstraint("queue_id", "schema_id"),
    )
    op.create_table(
        "review_queue_items",
        sa.Column("queue_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=50), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_by", sa.String(length=250), nullable=True),
        sa.Column("completed_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("creation_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["review_queues.queue_id"]),
        sa.PrimaryKeyConstraint("queue_id", "item_id"),
    )
    op.create_index("ix_review_queue_items_item", "review_queue_items", ["item_id"])
    op.create_table(
        "issues",
        sa.Column("issue_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("severity", sa.String(length=50), nullable=True),
        sa.Column("root_causes", sa.Text(), nullable=True),
        sa.Column("source_run_id", sa.String(length=32), nullable=True),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.ForeignKeyConstraint(["source_run_id"], ["runs.run_uuid"]),
        sa.PrimaryKeyConstraint("issue_id"),
    )
    op.create_index("ix_issues_experiment", "issues", ["experiment_id", "created_timestamp"])
    op.create_index("ix_issues_source_run", "issues", ["source_run_id"])
    issue_references = sa.text("kind = 'issue'")
    op.create_index(
        "ix_trace_assessments_issue",
        "trace_assessments",
        ["name", "trace_id"],
        sqlite_where=issue_references,
        postgresql_where=issue_references,
    )


def downgrade() -> None:
    op.drop_index("ix_trace_assessments_issue", table_name="trace_assessments")
    op.drop_table("issues")
    for table in ("review_queue_items", "review_queue_label_schemas", "review_queue_users", "review_queues"):
        op.drop_table(table)
    op.drop_table("label_schemas")
