"""The SQL database the read model and the log consumers' positions live in.

Two adapters of the port (projections/sql.py's Database), chosen by Settings:
`SqliteDatabase` (infra/sqlite.py), a file under the data dir, and
`PostgresDatabase` (infra/postgres.py), a connection pool. Both hand out DB-API
cursors inside a transaction, and both take `?` placeholders.
"""

from __future__ import annotations

from infra.postgres import PostgresDatabase
from infra.settings import Settings
from infra.sqlite import SqliteDatabase
from projections.sql import Database as Database  # the port, where callers look for it


def open_database(settings: Settings) -> Database:
    """Connect to the configured database; DependencyUnavailable if it cannot be reached."""
    if settings.database_url is not None:
        return PostgresDatabase.open(settings.database_url)
    return SqliteDatabase.open(settings.sqlite_path)
