"""SQLite: one connection per thread to the file under the data dir.

Threads come and go (anyio retires a worker thread idle for 10 s), so each new
connection first closes those of threads that have ended: a long-running
process keeps as many connections as it has live threads, not one per thread
it ever had.

The driver's own transaction handling is off (`isolation_level=None`); each
transaction starts with an explicit BEGIN IMMEDIATE, so a writer takes the lock
before reading and never fails halfway with "database is locked".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread

from infra.errors import DependencyUnavailable

BUSY_TIMEOUT_SECONDS = 10.0


class SqliteDatabase:
    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> SqliteDatabase:
        """Open (creating the directory) and check that the file can be used."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DependencyUnavailable("sqlite", str(e)) from e
        database = cls(path)
        with database.transaction(readonly=True) as cursor:
            cursor.execute("SELECT 1")
        return database

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[sqlite3.Cursor]:
        connection = self._connection()
        try:
            connection.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
            cursor = connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
            connection.execute("COMMIT")
        except BaseException as e:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError):
                raise DependencyUnavailable("sqlite", str(e)) from e
            raise

    def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of one read-only statement, run outside BEGIN and COMMIT: SQLite runs
        a lone statement in a transaction of its own, and saves two round trips."""
        connection = self._connection()
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            raise DependencyUnavailable("sqlite", str(e)) from e

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise DependencyUnavailable("sqlite", "the database has been closed")
        thread = threading.current_thread()
        if (connection := self._connections.get(thread)) is not None:
            return connection
        with self._lock:
            # An ended thread never uses its connection again.
            for ended in [t for t in self._connections if not t.is_alive()]:
                self._connections.pop(ended).close()
            try:
                connection = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,  # closed by another thread
                )
                connection.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL never corrupts; the read model can be rebuilt anyway.
                connection.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as e:
                raise DependencyUnavailable("sqlite", str(e)) from e
            self._connections[thread] = connection
        return connection


class SqliteQueries:
    """The read queries' database (projections/queries.py) on SQLite.

    A one-row look-up by primary key takes a few microseconds, less than handing it to
    a worker thread and back, so by default it runs on the caller's thread (the event
    loop's) on that thread's own connection. With WAL a reader never waits for a writer.
    """

    def __init__(self, database: SqliteDatabase, *, in_thread: bool = False) -> None:
        self._database = database
        self._in_thread = in_thread

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self._in_thread:
            return await anyio.to_thread.run_sync(self._database.fetch, sql, params)
        return self._database.fetch(sql, params)
