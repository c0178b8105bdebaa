"""Alembic environment, configured entirely through `config.attributes`.

`infra.migrate` passes an open SQLAlchemy connection as attributes["connection"];
for offline SQL generation (`--sql`) it passes a URL as attributes["url"].
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

# Any constant will do, as long as every process migrating this database agrees on it.
MIGRATION_LOCK_KEY = 0x696D6770726F63  # "imgproc"


def run_offline(url: str) -> None:
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: Connection) -> None:
    # transactional_ddl: SQLite supports it too, and then a failed migration leaves nothing behind.
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes may start at once against an empty database; the
            # first migrates, the others wait here and then find nothing to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


attributes = context.config.attributes
if context.is_offline_mode():
    run_offline(str(attributes["url"]))
else:
    run_online(attributes["connection"])
