"""Applying many events to the rows of one table at a time, as a rebuild does.

The live projector reads every row it touches and writes them back each batch; a
rebuild writes every row of its table itself, so it remembers the rows it wrote
and reads one back only once it has had to forget some. Writes are multi-row
upserts, one row per image per batch (on PostgreSQL, the whole batch in one statement
whose rows are bound as one JSON document).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from uuid import UUID

from domain.events import EventEnvelope
from projections.projector import apply
from projections.rows import ImageRow
from projections.sql import (
    BATCH_ROWS,
    Cursor,
    row_from_values,
    row_parameters,
    rows_json,
    select_rows_statement,
    upsert_json_statement,
    upsert_rows_statement,
)

# Rows kept in memory: about 1 KiB each. Images change in bursts (upload, request,
# completion), so the rows a batch touches are mostly among the recent ones.
CACHE_ROWS = 100_000


class TableProjector:
    """Projects events into `table` through whatever cursor each call is given.

    `empty` says the table starts empty, so until the cache first overflows an
    image it has not seen has no row, and nothing needs reading. The rows a
    transaction wrote are remembered only once the caller reports it committed
    (`committed`); after a rollback (`rolled_back`) they are forgotten.
    """

    def __init__(
        self, table: str, paramstyle: str, *, empty: bool, cache_rows: int = CACHE_ROWS
    ) -> None:
        self.table = table
        self._paramstyle = paramstyle
        # Keyed by UUID.int: hashing a UUID itself runs Python code, once per lookup.
        self._cache: dict[int, ImageRow] = {}
        self._uncommitted: dict[int, ImageRow] = {}
        self._cache_rows = cache_rows
        self._cache_is_whole_table = empty
        self.rows_written = 0

    def apply(self, cursor: Cursor, events: Sequence[EventEnvelope]) -> None:
        """Apply the events in order and write the rows they changed."""
        if not events:
            return
        rows = self._rows(cursor, {event.image_id.int: event.image_id for event in events})
        changed: dict[int, ImageRow] = {}
        for event in events:
            key = event.image_id.int
            before = rows.get(key)
            after = apply(before, event)
            if after is not None and after is not before:
                rows[key] = changed[key] = after
        self._write(cursor, list(changed.values()))
        self._uncommitted.update(changed)

    def committed(self) -> None:
        """The transaction of the last applies committed: their rows are in the table."""
        self._remember(self._uncommitted)
        self._uncommitted.clear()

    def rolled_back(self) -> None:
        """The transaction of the last applies rolled back: their rows are not."""
        self._uncommitted.clear()

    def _rows(self, cursor: Cursor, ids: dict[int, UUID]) -> dict[int, ImageRow]:
        found: dict[int, ImageRow] = {}
        for key in ids:
            row = self._uncommitted.get(key) or self._cache.get(key)
            if row is not None:
                found[key] = row
        missing = [str(image_id) for key, image_id in ids.items() if key not in found]
        if self._cache_is_whole_table or not missing:
            return found
        for start in range(0, len(missing), BATCH_ROWS):
            chunk = missing[start : start + BATCH_ROWS]
            self._execute(cursor, select_rows_statement(self.table, len(chunk)), chunk)
            found.update((row.id.int, row) for row in map(row_from_values, cursor.fetchall()))
        return found

    def _write(self, cursor: Cursor, rows: Sequence[ImageRow]) -> None:
        if not rows:
            return
        if self._paramstyle != "qmark":  # PostgreSQL: every row in one statement, as JSON
            self._execute(cursor, upsert_json_statement(self.table), [rows_json(rows)])
        else:
            for start in range(0, len(rows), BATCH_ROWS):
                chunk = rows[start : start + BATCH_ROWS]
                statement = upsert_rows_statement(self.table, len(chunk))
                self._execute(cursor, statement, row_parameters(chunk))
        self.rows_written += len(rows)

    def _remember(self, rows: dict[int, ImageRow]) -> None:
        cache = self._cache
        for key, row in rows.items():
            cache.pop(key, None)  # re-inserted last: the most recently used
            cache[key] = row
        overflow = len(cache) - self._cache_rows
        if overflow > 0:
            for key in list(islice(cache, overflow)):  # the least recently used
                del cache[key]
            self._cache_is_whole_table = False

    def _execute(self, cursor: Cursor, statement: str, params: Sequence[object]) -> None:
        if self._paramstyle != "qmark":
            statement = statement.replace("?", "%s")
        cursor.execute(statement, params)
