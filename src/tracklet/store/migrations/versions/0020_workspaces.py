"""workspaces (`--enable-workspaces`): the `workspaces` table, and the workspace of each experiment,
registered model, evaluation dataset, webhook and registered-model grant (existing rows: `default`);
experiment and registered model names become unique per workspace

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_DEFAULT = "default"
_DEFAULT_DESCRIPTION = "Default workspace for legacy resources"


def _workspace_column() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("workspace", sa.String(length=63), nullable=False, server_default=_DEFAULT)


def _old_experiments() -> sa.Table:
    """`experiments` as 0001 made it, without its unnamed UNIQUE(name), which SQLite can only lose by
    copying the table (batch mode copies from this definition)."""
    return sa.Table(
        "experiments",
        sa.MetaData(),
        sa.Column("experiment_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("artifact_location", sa.Text(), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
    )


def _old_registered_models() -> sa.Table:
    return sa.Table(
        "registered_models",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_time", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
    )


def upgrade() -> None:
    workspaces = op.create_table(
        "workspaces",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_artifact_root", sa.Text(), nullable=True),
        sa.Column("trace_archival_location", sa.Text(), nullable=True),
        sa.Column("trace_archival_retention", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(workspaces, [{"name": _DEFAULT, "description": _DEFAULT_DESCRIPTION}])

    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, unique_key in (
        (_old_experiments(), "experiments_name_key"),
        (_old_registered_models(), "registered_models_name_key"),
    ):
        if sqlite:
            with op.batch_alter_table(table.name, recreate="always", copy_from=table) as batch:
                batch.add_column(_workspace_column())
        else:
            op.drop_constraint(unique_key, table.name, type_="unique")
            op.add_column(table.name, _workspace_column())
        op.create_index(f"ux_{table.name}_workspace_name", table.name, ["workspace", "name"], unique=True)

    for name in ("evaluation_datasets", "webhooks"):
        op.add_column(name, _workspace_column())
        op.create_index(f"ix_{name}_workspace", name, ["workspace"])

    # A grant on a registered model is a grant on the model of that name in that workspace.
    if sqlite:  # a new primary key: a new table (SQLite alters no key), the grants copied into it
        op.create_table(
            "registered_model_permissions_new",
            sa.Column("name", sa.String(length=256), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("permission", sa.String(length=20), nullable=False),
            _workspace_column(),
            sa.ForeignKeyConstraint(["user_id"], ["users.user_id"]),
            sa.PrimaryKeyConstraint("user_id", "workspace", "name"),
        )
        op.execute(
            "INSERT INTO registered_model_permissions_new (name, user_id, permission, workspace) "
            f"SELECT name, user_id, permission, '{_DEFAULT}' FROM registered_model_permissions"
        )
        op.drop_table("registered_model_permissions")
        op.rename_table("registered_model_permissions_new", "registered_model_permissions")
    else:
        op.add_column("registered_model_permissions", _workspace_column())
        op.drop_constraint("registered_model_permissions_pkey", "registered_model_permissions", type_="primary")
        op.create_primary_key(
            "registered_model_permissions_pkey", "registered_model_permissions", ["user_id", "workspace", "name"]
        )


def downgrade() -> None:
    bind = op.get_bind()
    for table in ("experiments", "registered_models", "evaluation_datasets", "webhooks"):
        if bind.execute(sa.text(f"SELECT 1 FROM {table} WHERE workspace <> '{_DEFAULT}'")).first():  # noqa: S608
            raise RuntimeError(
                f"Cannot go below 0019: {table} has rows outside the '{_DEFAULT}' workspace (delete those "
                "workspaces with mode SET_DEFAULT or CASCADE first)"
            )
    sqlite = bind.dialect.name == "sqlite"
    for name in ("evaluation_datasets", "webhooks"):
        op.drop_index(f"ix_{name}_workspace", table_name=name)
        with op.batch_alter_table(name) as batch:
            batch.drop_column("workspace")
    for name in ("experiments", "registered_models"):
        op.drop_index(f"ux_{name}_workspace_name", table_name=name)
        with op.batch_alter_table(name) as batch:
            batch.drop_column("workspace")
            batch.create_unique_constraint(f"{name}_name_key", ["name"])
    if sqlite:
        op.create_table(
            "registered_model_permissions_old",
            sa.Column("name", sa.String(length=256), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("permission", sa.String(length=20), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["users.user_id"]),
            sa.PrimaryKeyConstraint("user_id", "name"),
        )
        op.execute(
            "INSERT INTO registered_model_permissions_old (name, user_id, permission) "
            "SELECT name, user_id, permission FROM registered_model_permissions"
        )
        op.drop_table("registered_model_permissions")
        op.rename_table("registered_model_permissions_old", "registered_model_permissions")
    else:
        op.drop_constraint("registered_model_permissions_pkey", "registered_model_permissions", type_="primary")
        op.drop_column("registered_model_permissions", "workspace")
        op.create_primary_key("registered_model_permissions_pkey", "registered_model_permissions", ["user_id", "name"])
    op.drop_table("workspaces")
