"""The read model in SQL: `image_status` rows and the `tracking` positions.

Portable SQL for SQLite and PostgreSQL (tables from the migrations). Values are
bound as plain text and numbers, which both accept: UUIDs and timestamps as
strings, which PostgreSQL casts to its uuid and timestamptz columns.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from enum import Enum
from typing import Any, Protocol
from uuid import UUID

import msgspec

from domain.status import ImageStatus
from projections.rows import COLUMNS, ImageRow, Page
from projections.store import InvalidCursor

# Rows per statement: 20 parameters each keeps well under SQLite's and
# PostgreSQL's limits on bound parameters.
BATCH_ROWS = 500

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM image_status"
_UPSERT_PREFIX = f"INSERT INTO image_status ({', '.join(COLUMNS)}) VALUES "
_UPSERT_ROW = "(" + ", ".join("?" for _ in COLUMNS) + ")"
_UPSERT_SUFFIX = " ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in COLUMNS if column != "id"
)
_SET_POSITION = (
    "INSERT INTO tracking (name, position) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> object: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...


class Database(Protocol):
    """What the read model needs of infra's databases (infra/database.py)."""

    @property
    def paramstyle(self) -> str: ...

    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[Cursor]: ...


class SqlReadModel:
    """The ReadModel port (projections/store.py) on a SQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, image_id: UUID) -> ImageRow | None:
        with self._read() as cursor:
            self._execute(cursor, f"{_SELECT} WHERE id = ?", [str(image_id)])
            row = cursor.fetchone()
        return None if row is None else _image_row(row)

    def get_many(self, image_ids: Iterable[UUID]) -> dict[UUID, ImageRow]:
        ids = [str(image_id) for image_id in dict.fromkeys(image_ids)]
        found: dict[UUID, ImageRow] = {}
        with self._read() as cursor:
            for batch in _batches(ids, BATCH_ROWS):
                marks = ", ".join("?" for _ in batch)
                self._execute(cursor, f"{_SELECT} WHERE id IN ({marks})", batch)
                found.update((row.id, row) for row in map(_image_row, cursor.fetchall()))
        return found

    def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        if limit < 1:
            raise ValueError(f"limit must be positive, not {limit}")
        params: list[Any]
        if status is None:
            conditions, params = ["status <> ?"], [ImageStatus.DELETED.value]
        else:
            conditions, params = ["status = ?"], [status.value]
        if cursor is not None:
            conditions.append("created_position < ?")
            params.append(_decode_cursor(cursor))
        query = (
            f"{_SELECT} WHERE {' AND '.join(conditions)} "
            f"ORDER BY created_position DESC LIMIT {limit + 1:d}"
        )
        with self._read() as db_cursor:
            self._execute(db_cursor, query, params)
            rows = [_image_row(row) for row in db_cursor.fetchall()]
        items = rows[:limit]
        next_cursor = _encode_cursor(items[-1].created_position) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)

    def save(self, tracker: str, rows: Sequence[ImageRow], position: int) -> None:
        # One row per image: PostgreSQL refuses to upsert the same key twice in a statement.
        latest = list({row.id: row for row in rows}.values())
        with self._db.transaction() as cursor:
            for batch in _batches(latest, BATCH_ROWS):
                query = _UPSERT_PREFIX + ", ".join(_UPSERT_ROW for _ in batch) + _UPSERT_SUFFIX
                self._execute(cursor, query, [_param(v) for row in batch for v in _values(row)])
            self._execute(cursor, _SET_POSITION, [tracker, position])

    def position(self, tracker: str) -> int:
        with self._read() as cursor:
            self._execute(cursor, "SELECT position FROM tracking WHERE name = ?", [tracker])
            row = cursor.fetchone()
        return 0 if row is None else int(row[0])

    def set_position(self, tracker: str, position: int) -> None:
        with self._db.transaction() as cursor:
            self._execute(cursor, _SET_POSITION, [tracker, position])

    def _read(self) -> AbstractContextManager[Cursor]:
        return self._db.transaction(readonly=True)

    def _execute(self, cursor: Cursor, query: str, params: Sequence[Any]) -> None:
        if self._db.paramstyle != "qmark":
            query = query.replace("?", "%s")
        cursor.execute(query, params)


def _values(row: ImageRow) -> Iterator[Any]:
    return (getattr(row, column) for column in COLUMNS)


def _param(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _image_row(values: Sequence[Any]) -> ImageRow:
    return msgspec.convert(dict(zip(COLUMNS, values, strict=True)), ImageRow, strict=False)


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _encode_cursor(created_position: int) -> str:
    return base64.urlsafe_b64encode(str(created_position).encode()).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> int:
    """The created_position the previous page ended at; InvalidCursor for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
        position = int(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(cursor) from None
    if position < 1 or _encode_cursor(position) != cursor:
        raise InvalidCursor(cursor)
    return position
