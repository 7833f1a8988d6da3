"""Alembic environment: runs migrations on the engine handed over in `config.attributes`."""

from __future__ import annotations

from alembic import context

from tracklet.store.schema import metadata

engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    if sqlite:
        # Batch mode copies a table to change it and drops the original: with foreign keys enforced, a
        # table others point at (experiments) could not be dropped. SQLite takes this pragma only outside a
        # transaction, so it goes to the driver before SQLAlchemy begins one.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        # One transaction for the whole run on SQLite too (Alembic commits after each migration there
        # unless told that its DDL is transactional, which it is): an upgrade or downgrade that fails
        # part way leaves the store as it found it, not between two revisions.
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=sqlite, transactional_ddl=True
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:  # the connection goes back to the pool as the store expects it
            connection.rollback()
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
