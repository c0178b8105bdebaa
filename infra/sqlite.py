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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from infra.errors import DependencyUnavailable

BUSY_TIMEOUT_SECONDS = 10.0


class SqliteDatabase:
    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> SqliteDatabase:
        """Open (creating the directory) and check that the file can be used."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DependencyUnavailable("sqlite", str(e)) from e
        database = cls(path, busy_timeout=busy_timeout)
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
        except sqlite3.OperationalError as e:
            _rollback(connection)
            raise DependencyUnavailable("sqlite", str(e)) from e
        except BaseException:
            _rollback(connection)
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for _thread, connection in connections:
            connection.close()

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise DependencyUnavailable("sqlite", "the database has been closed")
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        with self._lock:
            self._close_connections_of_ended_threads()
            try:
                connection = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,  # closed by another thread
                )
                connection.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL never corrupts; the read model can be rebuilt anyway.
                connection.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as e:
                raise DependencyUnavailable("sqlite", str(e)) from e
            self._connections.append((threading.current_thread(), connection))
        self._local.connection = connection
        return connection

    def _close_connections_of_ended_threads(self) -> None:
        """An ended thread never uses its connection again (its thread-local is gone)."""
        kept: list[tuple[threading.Thread, sqlite3.Connection]] = []
        for thread, connection in self._connections:
            if thread.is_alive():
                kept.append((thread, connection))
            else:
                connection.close()
        self._connections = kept


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.execute("ROLLBACK")
