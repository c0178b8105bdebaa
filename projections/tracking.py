"""Where each consumer of the event log has got to: one position per name in `tracking`."""

from __future__ import annotations

from typing import Protocol

from projections.sql import Cursor, Database

SET_POSITION = (
    "INSERT INTO tracking (name, position) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
)


class Tracking(Protocol):
    """Synchronous: call it from async code through a worker thread."""

    def position(self, name: str) -> int:
        """The last position stored under the name, 0 when there is none."""
        ...

    def set_position(self, name: str, position: int) -> None: ...


def stored_position(cursor: Cursor, name: str) -> int:
    """The position stored under the name, read in the cursor's transaction."""
    cursor.execute("SELECT position FROM tracking WHERE name = ?", [name])
    row = cursor.fetchone()
    return 0 if row is None else int(row[0])


class SqlTracking:
    def __init__(self, database: Database) -> None:
        self._db = database

    def position(self, name: str) -> int:
        with self._db.transaction(readonly=True) as cursor:
            return stored_position(cursor, name)

    def set_position(self, name: str, position: int) -> None:
        with self._db.transaction() as cursor:
            cursor.execute(SET_POSITION, [name, position])
