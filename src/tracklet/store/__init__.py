"""The metadata store: SQLAlchemy Core over SQLite or PostgreSQL."""
