"""The queries the HTTP API answers from the read model, asynchronous, and the pulse that
tells a waiting reader the projection has moved on.

The projector writes through the synchronous ReadModel (projections/store.py); reads
go through `ReadQueries`, one statement each, on a driver that needs no thread where
one exists (psycopg's async pool), or on whatever costs least (SQLite).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from domain.status import ImageStatus
from projections.rows import ImageRow, Page
from projections.sql import list_statement, page_of, row_from_values, select_statement


class ReadQueries(Protocol):
    async def get(self, image_id: UUID) -> ImageRow | None: ...

    async def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        """Newest first; deleted images only when asked for by status."""
        ...


class QueryDatabase(Protocol):
    """Runs one read-only statement written with `?` placeholders; its rows. Drivers'
    failures to answer are DependencyUnavailable, as for Database (projections/sql.py)."""

    async def fetch(self, sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]: ...


GET_ONE = select_statement("image_status", 1)


class SqlReadQueries:
    """ReadQueries on a SQL database: the same statements as SqlReadModel."""

    def __init__(self, db: QueryDatabase) -> None:
        self._db = db

    async def get(self, image_id: UUID) -> ImageRow | None:
        rows = await self._db.fetch(GET_ONE, [str(image_id)])
        return row_from_values(rows[0]) if rows else None

    async def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        query, params = list_statement(status=status, limit=limit, cursor=cursor)
        rows = await self._db.fetch(query, params)
        return page_of([row_from_values(values) for values in rows], limit)


class Pulse:
    """Beats each time the projector in this process has saved a batch; a reader waiting
    for a row to reach a version takes the next beat before it reads the row, so a beat
    between its read and its wait is not missed. Used on the event loop only."""

    def __init__(self) -> None:
        self._next = asyncio.Event()

    def next_beat(self) -> asyncio.Event:
        """Set at the next beat."""
        return self._next

    def beat(self) -> None:
        beat, self._next = self._next, asyncio.Event()
        beat.set()
