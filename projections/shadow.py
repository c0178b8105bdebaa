"""Copies of a live table, filled aside: a rebuild's shadow, swapped in atomically, or a
verification's scratch table, dropped at the end of its transaction.

A copy takes its shape (columns, keys, indexes) from the live table as the
migrations made it, so no table is defined twice:

- PostgreSQL: `CREATE TABLE … (LIKE live INCLUDING ALL)`. The swap drops the live
  table, renames the shadow and gives its indexes the live ones' names.
- SQLite: the live table's own CREATE statement under another name. SQLite cannot
  rename an index, so the swap replays the live table's index statements on the
  renamed shadow.
"""

from __future__ import annotations

import re

from projections.sql import Cursor, Dialect

# How long the swap waits for the live table (PostgreSQL): meanwhile readers queue
# behind it, so it gives up early and the caller tries again.
LOCK_TIMEOUT_SECONDS = 5

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class ShapeMismatch(RuntimeError):
    """The shadow does not have an index the live table has: the swap is abandoned."""


def _checked(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a table name: {name!r}")
    return name


def create_copy(
    cursor: Cursor, dialect: Dialect, live: str, copy: str, *, scratch: bool = False
) -> None:
    """An empty table shaped like `live`; a scratch copy is temporary and unindexed
    (but for its key), and goes when the transaction (PostgreSQL) or connection ends."""
    live, copy = _checked(live), _checked(copy)
    if dialect == "postgresql":
        if scratch:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {copy} "
                f"(LIKE {live} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) ON COMMIT DROP"
            )
            cursor.execute(f"ALTER TABLE {copy} ADD PRIMARY KEY (id)")
            return
        cursor.execute(f"DROP TABLE IF EXISTS {copy}")
        cursor.execute(f"CREATE TABLE {copy} (LIKE {live} INCLUDING ALL)")
        return
    cursor.execute(f"DROP TABLE IF EXISTS {'temp.' if scratch else ''}{copy}")
    cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [live])
    (statement,) = cursor.fetchone()
    renamed, found = re.subn(
        rf'^CREATE TABLE\s+"?{live}"?',
        f"CREATE {'TEMPORARY ' if scratch else ''}TABLE {copy}",
        statement,
        count=1,
    )
    if not found:
        raise ShapeMismatch(f"cannot read the definition of {live}: {statement[:80]!r}")
    cursor.execute(renamed)


def drop(cursor: Cursor, table: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {_checked(table)}")


def hold_writers(cursor: Cursor, dialect: Dialect, live: str) -> None:
    """Keep every other writer of `live` out until the transaction ends.

    On SQLite the transaction's write lock does it already. On PostgreSQL the
    EXCLUSIVE lock still lets readers read the live table while the shadow catches up.
    """
    if dialect == "postgresql":
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")
        cursor.execute(f"LOCK TABLE {_checked(live)} IN EXCLUSIVE MODE")


def swap(cursor: Cursor, dialect: Dialect, live: str, shadow: str) -> None:
    """Replace `live` by `shadow`, under the live table's name and index names."""
    live, shadow = _checked(live), _checked(shadow)
    if dialect == "postgresql":
        wanted = _postgres_indexes(cursor, live)
        built = {key: name for name, key in _postgres_indexes(cursor, shadow).items()}
        cursor.execute(f"DROP TABLE {live}")
        cursor.execute(f"ALTER TABLE {shadow} RENAME TO {live}")
        for name, key in wanted.items():
            if key not in built:
                raise ShapeMismatch(f"{shadow} has no index like {name} ({key})")
            cursor.execute(f"ALTER INDEX {built[key]} RENAME TO {name}")
        return
    cursor.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        [live],
    )
    indexes = [statement for (statement,) in cursor.fetchall()]
    cursor.execute(f"DROP TABLE {live}")
    cursor.execute(f"ALTER TABLE {shadow} RENAME TO {live}")
    for statement in indexes:
        cursor.execute(statement)


def _postgres_indexes(cursor: Cursor, table: str) -> dict[str, str]:
    """Index name → what it indexes and how (its definition without names)."""
    cursor.execute(
        "SELECT i.relname, x.indisunique, pg_get_indexdef(i.oid) "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = to_regclass(?)",
        [table],
    )
    return {
        name: f"{'unique ' if unique else ''}{definition.split(' USING ', 1)[1]}"
        for name, unique, definition in cursor.fetchall()
    }
