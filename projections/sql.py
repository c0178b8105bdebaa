"""The read model in SQL: the database port, and the rows of `image_status` (or of a table
shaped like it) read and written through it.

Portable SQL for SQLite and PostgreSQL (tables from the migrations), written with `?`
placeholders, which the PostgreSQL adapter binds itself. Values are bound as plain
text and numbers, which both accept: UUIDs and timestamps as strings, which
PostgreSQL casts to its uuid and timestamptz columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal, Protocol, get_type_hints, runtime_checkable
from uuid import UUID

import msgspec

from domain.status import ImageStatus
from projections.rows import COLUMNS, ImageRow, Page
from projections.store import decode_cursor, encode_cursor

# Rows per statement: 20 parameters each keeps well under SQLite's and
# PostgreSQL's limits on bound parameters.
BATCH_ROWS = 500

Dialect = Literal["sqlite", "postgresql"]


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> object: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...


class Database(Protocol):
    """SQLite (infra/sqlite.py) or PostgreSQL (infra/postgres.py); both take `?`."""

    @property
    def dialect(self) -> Dialect:
        """For the few statements that differ (projections/shadow.py)."""
        ...

    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[Cursor]:
        """A cursor in a transaction: committed on success, rolled back on error.

        `readonly` lets SQLite skip taking the write lock up front.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class BulkInsert(Protocol):
    """A database that adds many new rows faster than a statement binding them does:
    PostgreSQL's COPY (infra/postgres.py). On SQLite, multi-row statements measure
    fastest, and `SqlRows.save` writes those already."""

    def insert_rows(
        self, cursor: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Add rows of `columns` values to `table`, which holds none of their keys yet."""
        ...


class SqlRows:
    """The rows of one table shaped like image_status, in the caller's transaction.

    `save` writes at most one row per image, and never replaces a row by an older
    version of itself: batches may overlap (a Kafka partition that moved between
    consumers, a projector that lagged behind a rebuild's swap).
    """

    def __init__(
        self,
        cursor: Cursor,
        dialect: Dialect,
        table: str = "image_status",
        *,
        bulk: BulkInsert | None = None,
    ) -> None:
        self._cursor = cursor
        self._dialect = dialect
        self._table = table
        self._bulk = bulk

    def get_many(self, image_ids: Iterable[UUID]) -> dict[UUID, ImageRow]:
        ids = [str(image_id) for image_id in dict.fromkeys(image_ids)]
        found: dict[UUID, ImageRow] = {}
        for chunk in _chunks(ids, BATCH_ROWS):
            self._cursor.execute(select_statement(self._table, len(chunk)), chunk)
            found.update((row.id, row) for row in map(row_from_values, self._cursor.fetchall()))
        return found

    def save(self, rows: Sequence[ImageRow]) -> None:
        if self._dialect == "postgresql":  # every row in one short statement, as JSON
            if rows:
                rows_json = msgspec.json.encode(rows).decode()
                self._cursor.execute(_upsert_json_statement(self._table), [rows_json])
            return
        for chunk in _chunks(rows, BATCH_ROWS):
            self._cursor.execute(_upsert_statement(self._table, len(chunk)), row_values(chunk))

    def insert(self, rows: Sequence[ImageRow]) -> None:
        """Add rows of images the table has no row for yet: through `bulk` if given, as
        `save` does otherwise."""
        if self._bulk is None:
            self.save(rows)
        elif rows:
            width = len(COLUMNS)
            values = row_values(rows)
            tuples = [values[start : start + width] for start in range(0, len(values), width)]
            self._bulk.insert_rows(self._cursor, self._table, COLUMNS, tuples)


class SqlReadModel:
    """The ReadModel port (projections/store.py) on a SQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, image_id: UUID) -> ImageRow | None:
        return self.get_many([image_id]).get(image_id)

    def get_many(self, image_ids: Iterable[UUID]) -> dict[UUID, ImageRow]:
        with self._db.transaction(readonly=True) as cursor:
            return SqlRows(cursor, self._db.dialect).get_many(image_ids)

    def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        query, params = list_statement(status=status, limit=limit, cursor=cursor)
        with self._db.transaction(readonly=True) as db_cursor:
            db_cursor.execute(query, params)
            rows = [row_from_values(row) for row in db_cursor.fetchall()]
        return page_of(rows, limit)

    def save(self, rows: Sequence[ImageRow]) -> None:
        """Upsert the rows in one transaction; of several rows of one image, the last."""
        latest = list({row.id: row for row in rows}.values())
        if latest:
            with self._db.transaction() as cursor:
                SqlRows(cursor, self._db.dialect).save(latest)


def list_statement(
    *, status: ImageStatus | None, limit: int, cursor: str | None
) -> tuple[str, list[Any]]:
    """A page of image_status, newest first, and its parameters: one row more than the
    page, which says whether another follows (page_of)."""
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    params: list[Any]
    if status is None:
        conditions, params = ["status <> ?"], [ImageStatus.DELETED.value]
    else:
        conditions, params = ["status = ?"], [status.value]
    if cursor is not None:
        conditions.append("created_position < ?")
        params.append(decode_cursor(cursor))
    query = (
        f"SELECT {', '.join(COLUMNS)} FROM image_status WHERE {' AND '.join(conditions)} "
        f"ORDER BY created_position DESC LIMIT {limit + 1:d}"
    )
    return query, params


def page_of(rows: Sequence[ImageRow], limit: int) -> Page:
    """The page list_statement's rows make."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(items[-1].created_position) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


def bulk_insert(db: Database) -> BulkInsert | None:
    """The database's bulk insert, if it has one."""
    return db if isinstance(db, BulkInsert) else None


def row_from_values(values: Sequence[Any]) -> ImageRow:
    """A row as a SELECT of COLUMNS returns it."""
    return msgspec.convert(dict(zip(COLUMNS, values, strict=True)), ImageRow, strict=False)


def row_values(rows: Iterable[ImageRow]) -> list[Any]:
    """The bound values of rows, in COLUMNS order, one row after the other. Only the
    columns that need it are converted: this runs for every row of a rebuild."""
    values: list[Any] = []
    for row in rows:
        start = len(values)
        values.extend(msgspec.structs.astuple(row))
        for index, convert in _CONVERTERS:
            values[start + index] = convert(values[start + index])
    return values


_CONVERSIONS: dict[Any, Callable[[Any], Any]] = {
    UUID: str,
    datetime: datetime.isoformat,
    ImageStatus: attrgetter("value"),
}
# (column index, conversion) for each column of those types. None is optional: one that
# was would need None passed through.
_CONVERTERS = tuple(
    (index, _CONVERSIONS[kind])
    for index, kind in enumerate(get_type_hints(ImageRow).values())
    if kind in _CONVERSIONS
)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _on_conflict(table: str) -> str:
    updates = ", ".join(f"{column} = excluded.{column}" for column in COLUMNS if column != "id")
    return f" ON CONFLICT (id) DO UPDATE SET {updates} WHERE {table}.version < excluded.version"


def select_statement(table: str, count: int) -> str:
    marks = ", ".join("?" for _ in range(count))
    return f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE id IN ({marks})"


def _upsert_statement(table: str, count: int) -> str:
    row = "(" + ", ".join("?" for _ in COLUMNS) + ")"
    values = ", ".join(row for _ in range(count))
    return f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {values}{_on_conflict(table)}"


def _upsert_json_statement(table: str) -> str:
    """PostgreSQL: any number of rows bound as one JSON array of objects, encoded and
    decoded in C on both sides."""
    columns = ", ".join(COLUMNS)
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "
        f"FROM json_populate_recordset(NULL::{table}, ?::json){_on_conflict(table)}"
    )
