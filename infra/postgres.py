"""PostgreSQL through a psycopg connection pool, opened explicitly, never at import,
and `PostgresSession`, one asynchronous connection for LISTEN/NOTIFY and advisory locks.

Statements are written with `?` placeholders, as for SQLite: the pool's cursors turn
them into psycopg's `%s` (and a literal `%` into `%%`) when they bind parameters.

Every failure to reach the server (refused, timed out, pool exhausted, dropped
connection) surfaces as `DependencyUnavailable("postgres", ...)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from infra.errors import DependencyUnavailable

CONNECT_TIMEOUT_SECONDS = 3
# A session mostly waits in silence: TCP keepalives tell it within about half a minute
# that a server has gone without a word (a dropped network), instead of never.
SESSION_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 8


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as e:
        raise DependencyUnavailable("postgres", str(e)) from e


def check_reachable(url: str) -> None:
    """Connect once and hang up: a refused connection fails at once, not after a pool timeout."""
    with _unavailable():
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()


@lru_cache(maxsize=256)
def _format_style(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


class QmarkCursor(psycopg.Cursor[tuple[Any, ...]]):
    """A psycopg cursor that takes `?` placeholders. A statement run without parameters
    is sent as written: psycopg reads no placeholders in it."""

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> QmarkCursor:
        if params is not None and isinstance(query, str):
            query = _format_style(query)
        return super().execute(query, params, prepare=prepare, binary=binary)

    def executemany(
        self, query: Any, params_seq: Iterable[Any], *, returning: bool = False
    ) -> None:
        if isinstance(query, str):
            query = _format_style(query)
        super().executemany(query, params_seq, returning=returning)


class PostgresDatabase:
    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def open(cls, url: str) -> PostgresDatabase:
        """Open a pool on `url` and wait for its first connection."""
        check_reachable(url)
        timeout = CONNECT_TIMEOUT_SECONDS  # also how long a caller waits for a free connection
        pool: ConnectionPool = ConnectionPool(
            url,
            min_size=POOL_MIN_SIZE,
            max_size=POOL_MAX_SIZE,
            open=False,
            timeout=timeout,
            # UTC sessions: timestamps come back the same whatever the server's zone.
            kwargs={"connect_timeout": timeout, "options": "-c TimeZone=UTC"},
            check=ConnectionPool.check_connection,  # survives a server restart
            name="imgproc",
        )
        try:
            pool.open(wait=True, timeout=timeout)
        except psycopg.OperationalError as e:
            pool.close()
            raise DependencyUnavailable("postgres", str(e)) from e
        return cls(pool)

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[QmarkCursor]:
        """`readonly` is only a hint here: PostgreSQL needs no write lock up front."""
        # The pool's context commits when the block succeeds and rolls back otherwise.
        with (
            _unavailable(),
            self._pool.connection() as connection,
            QmarkCursor(connection) as cursor,
        ):
            yield cursor

    def insert_rows(
        self,
        cursor: QmarkCursor,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> None:
        """COPY the rows into the table, within the cursor's transaction."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with _unavailable(), cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def close(self) -> None:
        self._pool.close()


class PostgresQueries:
    """The read queries' database (projections/queries.py) on psycopg's asynchronous
    pool: each statement is one round trip on the event loop, in autocommit, with no
    thread between the request and the server.

    Connections are not checked when taken from the pool (that would double the round
    trips): one broken by a server restart fails its statement with a 503, and the pool
    replaces it.
    """

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresQueries:
        check_reachable(url)
        timeout = CONNECT_TIMEOUT_SECONDS
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=POOL_MIN_SIZE,
            max_size=POOL_MAX_SIZE,
            open=False,
            timeout=timeout,
            kwargs={"connect_timeout": timeout, "options": "-c TimeZone=UTC", "autocommit": True},
            name="imgproc-reads",
        )
        try:
            await pool.open(wait=True, timeout=timeout)
        except psycopg.OperationalError as e:
            await pool.close()
            raise DependencyUnavailable("postgres", str(e)) from e
        return cls(pool)

    async def fetch(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with _unavailable():
            async with self._pool.connection() as connection:
                cursor = await connection.execute(_format_style(statement), params)
                rows: list[Any] = await cursor.fetchall()
                return rows

    async def close(self) -> None:
        await self._pool.close()


class PostgresSession:
    """One dedicated asynchronous connection: for LISTEN and for session advisory locks,
    which belong to a connection and so cannot come from a pool."""

    def __init__(self, connection: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, url: str) -> PostgresSession:
        with _unavailable():
            connection = await psycopg.AsyncConnection.connect(
                make_conninfo(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, **SESSION_KEEPALIVES),
                autocommit=True,
            )
        return cls(connection)

    async def close(self) -> None:
        await self._connection.close()

    async def wait_for_lock(self, key: int, *, poll_interval: float = 1.0) -> None:
        """Take the session advisory lock `key`, waiting while another session holds it.

        Polled rather than blocking, so that the wait can be cancelled on shutdown.
        """
        with _unavailable():
            while True:
                cursor = await self._connection.execute("SELECT pg_try_advisory_lock(%s)", [key])
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    return
                await asyncio.sleep(poll_interval)

    async def listen(
        self,
        channel: str,
        on_notify: Callable[[], None],
        *,
        on_listening: Callable[[], None] | None = None,
    ) -> None:
        """Call on_notify for every NOTIFY on channel until cancelled, and on_listening
        once, as soon as every later NOTIFY will be heard; DependencyUnavailable when the
        connection is lost."""
        with _unavailable():
            await self._connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            if on_listening is not None:
                on_listening()
            async for _ in self._connection.notifies():
                on_notify()
        raise DependencyUnavailable("postgres", f"stopped listening on {channel!r}")
