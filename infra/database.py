"""The SQL database the read model and the log consumers' positions live in.

Two implementations, chosen by Settings: `SqliteDatabase` (infra/sqlite.py), a
file under the data dir, and `PostgresDatabase` (infra/postgres.py), a
connection pool. Both hand out plain DB-API cursors inside a transaction;
queries are written with `?` placeholders and adapted with `placeholders()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

from infra.postgres import PostgresDatabase
from infra.settings import Settings
from infra.sqlite import SqliteDatabase

ParamStyle = Literal["qmark", "format"]


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> object: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> object: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...


class Database(Protocol):
    @property
    def paramstyle(self) -> ParamStyle:
        """'qmark' (`?`, sqlite3) or 'format' (`%s`, psycopg)."""
        ...

    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[Cursor]:
        """A cursor in a transaction: committed on success, rolled back on error.

        `readonly` lets SQLite skip taking the write lock up front.
        """
        ...

    def close(self) -> None: ...


def placeholders(sql: str, paramstyle: ParamStyle) -> str:
    """Rewrite `?` placeholders for the driver (queries must hold no literal `?` or `%`)."""
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


def open_database(settings: Settings) -> Database:
    """Connect to the configured database; DependencyUnavailable if it cannot be reached."""
    if settings.database_url is not None:
        return PostgresDatabase.open(settings.database_url)
    return SqliteDatabase.open(settings.sqlite_path)
