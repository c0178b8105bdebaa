"""The read model in SQL: `image_status` rows, the `tracking` positions and `kafka_offsets`.

Portable SQL for SQLite and PostgreSQL (tables from the migrations). Values are
bound as plain text and numbers, which both accept: UUIDs and timestamps as
strings, which PostgreSQL casts to its uuid and timestamptz columns.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from enum import Enum
from operator import attrgetter
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
# Under Kafka, batches from a partition that moved between consumers may overlap:
# an older row never replaces a newer one.
_UPSERT_NEWER_SUFFIX = _UPSERT_SUFFIX + " WHERE image_status.version < excluded.version"
_SET_OFFSET = (
    "INSERT INTO kafka_offsets (consumer, topic, partition, next_offset) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = excluded.next_offset"
)
SET_POSITION = (
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
        """Write rows and the tracker's position in one transaction; a row older than the
        stored one is left out (a projector that lagged behind a rebuild's swap)."""
        with self._db.transaction() as cursor:
            self._upsert(cursor, rows, _UPSERT_NEWER_SUFFIX)
            self._execute(cursor, SET_POSITION, [tracker, position])

    def save_with_offsets(
        self, consumer: str, rows: Sequence[ImageRow], offsets: Mapping[tuple[str, int], int]
    ) -> None:
        """Write rows and the consumer's next Kafka offsets (by topic and partition) in one
        transaction; a row older than the stored one is left out."""
        with self._db.transaction() as cursor:
            self._upsert(cursor, rows, _UPSERT_NEWER_SUFFIX)
            for (topic, partition), offset in sorted(offsets.items()):
                self._execute(cursor, _SET_OFFSET, [consumer, topic, partition, offset])

    def offsets(self, consumer: str, topic: str) -> dict[int, int]:
        """The next offset to read of each partition the consumer has stored one for."""
        query = "SELECT partition, next_offset FROM kafka_offsets WHERE consumer = ? AND topic = ?"
        with self._read() as cursor:
            self._execute(cursor, query, [consumer, topic])
            return {int(partition): int(offset) for partition, offset in cursor.fetchall()}

    def position(self, tracker: str) -> int:
        with self._read() as cursor:
            self._execute(cursor, "SELECT position FROM tracking WHERE name = ?", [tracker])
            row = cursor.fetchone()
        return 0 if row is None else int(row[0])

    def set_position(self, tracker: str, position: int) -> None:
        with self._db.transaction() as cursor:
            self._execute(cursor, SET_POSITION, [tracker, position])

    def _upsert(self, cursor: Cursor, rows: Sequence[ImageRow], suffix: str) -> None:
        # One row per image: PostgreSQL refuses to upsert the same key twice in a statement.
        latest = list({row.id: row for row in rows}.values())
        for batch in _batches(latest, BATCH_ROWS):
            query = _UPSERT_PREFIX + ", ".join(_UPSERT_ROW for _ in batch) + suffix
            self._execute(cursor, query, [_param(v) for row in batch for v in _values(row)])

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


# Positions are BIGINT: a larger one could never have been issued, and the drivers
# refuse to bind it.
POSITION_LIMIT = 2**63


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
    if not 1 <= position < POSITION_LIMIT or _encode_cursor(position) != cursor:
        raise InvalidCursor(cursor)
    return position


# Statements on any table shaped like image_status: a rebuild writes a shadow or scratch
# table with them. Placeholders are `?`, as everywhere in this module.


def upsert_rows_statement(table: str, count: int) -> str:
    """Insert or replace `count` rows of `table` in one statement."""
    rows = ", ".join(_UPSERT_ROW for _ in range(count))
    return f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {rows}{_UPSERT_SUFFIX}"


def select_rows_statement(table: str, count: int) -> str:
    """The rows of `table` with any of `count` ids."""
    marks = ", ".join("?" for _ in range(count))
    return f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE id IN ({marks})"


def upsert_json_statement(table: str) -> str:
    """PostgreSQL: insert or replace any number of rows of `table`, bound as one JSON array
    of objects (see `rows_json`). One short statement whatever the number of rows, and
    the values are encoded and decoded in C on both sides."""
    columns = ", ".join(COLUMNS)
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "
        f"FROM json_populate_recordset(NULL::{table}, ?::json){_UPSERT_SUFFIX}"
    )


def rows_json(rows: Sequence[ImageRow]) -> str:
    """Rows as the JSON `upsert_json_statement` binds (UUIDs, times, enums as text)."""
    return msgspec.json.encode(rows).decode()


def row_parameters(rows: Iterable[ImageRow]) -> list[Any]:
    """The bound values of rows, in COLUMNS order, one row after the other: what `_param`
    gives, converting only the columns whose type needs it (this runs for every row of a
    rebuild)."""
    values: list[Any] = []
    for row in rows:
        start = len(values)
        values.extend(msgspec.structs.astuple(row))
        for index, convert in _CONVERTERS:
            values[start + index] = convert(values[start + index])
    return values


def row_from_values(values: Sequence[Any]) -> ImageRow:
    """A row as a SELECT of COLUMNS returns it."""
    return _image_row(values)


def _converters() -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """(column index, conversion) for each column whose values `_param` changes."""
    info = msgspec.inspect.type_info(ImageRow)
    assert isinstance(info, msgspec.inspect.StructType)
    exact: dict[type[msgspec.inspect.Type], Callable[[Any], Any]] = {
        msgspec.inspect.UUIDType: str,
        msgspec.inspect.DateTimeType: datetime.isoformat,
        msgspec.inspect.EnumType: attrgetter("value"),
    }

    def converter(kind: msgspec.inspect.Type) -> Callable[[Any], Any] | None:
        if isinstance(kind, msgspec.inspect.UnionType):  # optional: None passes through
            return _param if any(converter(member) for member in kind.types) else None
        return exact.get(type(kind))

    found = ((index, converter(field.type)) for index, field in enumerate(info.fields))
    return tuple((index, convert) for index, convert in found if convert is not None)


_CONVERTERS = _converters()
