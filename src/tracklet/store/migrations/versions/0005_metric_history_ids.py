"""metric points stored under an integer history id instead of (run_uuid, key)

Every history gets an integer id in `latest_metrics.history_id` (unique, never reused; PostgreSQL
draws new ones from the sequence `metric_history_ids`), and `metrics` is rebuilt keyed by
(history_id, timestamp, step, value, is_nan): half the width of the key each point inserts, which
makes ingestion and history reads cheaper and the database smaller. Every point is copied; the
migration checks the count and fails (changing nothing) if any point has no `latest_metrics` row.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ORDER = ("timestamp", "step", "value", "is_nan")


def _point_columns() -> list[sa.Column]:
    return [
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
    ]


def _count(table: str) -> int:
    return int(op.get_bind().execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _replace_metrics(key_columns: tuple[str, ...], columns: list[sa.Column], copy_sql: str) -> None:
    """Rebuild `metrics` with a new key, copying every point with `copy_sql`; all or nothing."""
    op.create_table(
        "metrics_new",
        *columns,
        *_point_columns(),
        sa.PrimaryKeyConstraint(*key_columns, *_ORDER, name="metrics_new_pkey"),
        sqlite_with_rowid=False,
    )
    op.execute(f"INSERT INTO metrics_new SELECT {copy_sql}")
    copied, points = _count("metrics_new"), _count("metrics")
    if copied != points:
        raise RuntimeError(
            f"metrics migration: {points - copied} of {points} points have no latest_metrics row; nothing changed"
        )
    op.drop_table("metrics")
    op.rename_table("metrics_new", "metrics")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE metrics RENAME CONSTRAINT metrics_new_pkey TO metrics_pkey")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("latest_metrics", sa.Column("history_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE latest_metrics SET history_id = numbered.i FROM "
        "(SELECT run_uuid, key, ROW_NUMBER() OVER (ORDER BY run_uuid, key) AS i FROM latest_metrics) AS numbered "
        "WHERE latest_metrics.run_uuid = numbered.run_uuid AND latest_metrics.key = numbered.key"
    )
    if postgres:
        op.execute("CREATE SEQUENCE metric_history_ids AS BIGINT")
        op.execute("SELECT setval('metric_history_ids', COALESCE(MAX(history_id), 0) + 1, false) FROM latest_metrics")
        op.alter_column("latest_metrics", "history_id", nullable=False)
    else:  # SQLite cannot add NOT NULL to a column in place
        with op.batch_alter_table("latest_metrics", recreate="always", table_kwargs={"sqlite_with_rowid": False}) as b:
            b.alter_column("history_id", existing_type=sa.BigInteger(), nullable=False)
    op.create_index("ix_latest_metrics_history_id", "latest_metrics", ["history_id"], unique=True)
    _replace_metrics(
        ("history_id",),
        [sa.Column("history_id", sa.BigInteger(), nullable=False)],
        "l.history_id, m.timestamp, m.step, m.value, m.is_nan FROM metrics m "
        "JOIN latest_metrics l ON l.run_uuid = m.run_uuid AND l.key = m.key",
    )


def downgrade() -> None:
    _replace_metrics(
        ("run_uuid", "key"),
        [
            sa.Column("run_uuid", sa.String(length=32), nullable=False),
            sa.Column("key", sa.String(length=250), nullable=False),
        ],
        "l.run_uuid, l.key, m.timestamp, m.step, m.value, m.is_nan FROM metrics m "
        "JOIN latest_metrics l ON l.history_id = m.history_id",
    )
    op.drop_index("ix_latest_metrics_history_id", table_name="latest_metrics")
    with op.batch_alter_table("latest_metrics", recreate="auto", table_kwargs={"sqlite_with_rowid": False}) as b:
        b.drop_column("history_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE metric_history_ids")
