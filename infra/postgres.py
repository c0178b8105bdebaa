"""PostgreSQL through a psycopg connection pool, opened explicitly, never at import.

Every failure to reach the server (refused, timed out, pool exhausted, dropped
connection) surfaces as `DependencyUnavailable("postgres", ...)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import psycopg
from psycopg_pool import ConnectionPool

from infra.errors import DependencyUnavailable

CONNECT_TIMEOUT_SECONDS = 3
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 8


def check_reachable(url: str, *, timeout: int = CONNECT_TIMEOUT_SECONDS) -> None:
    """Connect once and hang up: a refused connection fails at once, not after a pool timeout."""
    try:
        psycopg.connect(url, connect_timeout=timeout).close()
    except psycopg.OperationalError as e:
        raise DependencyUnavailable("postgres", str(e)) from e


class PostgresDatabase:
    paramstyle: Literal["format"] = "format"

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def open(
        cls,
        url: str,
        *,
        min_size: int = POOL_MIN_SIZE,
        max_size: int = POOL_MAX_SIZE,
        timeout: int = CONNECT_TIMEOUT_SECONDS,
    ) -> PostgresDatabase:
        """Open a pool on `url` and wait for its first connection."""
        check_reachable(url, timeout=timeout)
        pool: ConnectionPool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=timeout,  # also how long a caller waits for a free connection
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
    def transaction(
        self, *, readonly: bool = False
    ) -> Iterator[psycopg.Cursor[tuple[object, ...]]]:
        """`readonly` is only a hint here: PostgreSQL needs no write lock up front."""
        try:
            # The pool's context commits when the block succeeds and rolls back otherwise.
            with self._pool.connection() as connection, connection.cursor() as cursor:
                yield cursor
        except psycopg.OperationalError as e:
            raise DependencyUnavailable("postgres", str(e)) from e

    def close(self) -> None:
        self._pool.close()
