"""The baseline of the reads bench: a bare Litestar app whose one handler reads one row
of the status body's shape and answers it as JSON, and nothing else.

    python -m uvicorn --factory bench._bare_reads:create_app --port N

BENCH_BARE_DATABASE names the database: a SQLite file, or a postgresql:// URL. The
table (TABLE) is made and filled by `create_table` and `put_row` before the server
starts. SQLite is read with the sqlite3 module on the event loop (one short query on a
connection kept open: the fastest way there is); PostgreSQL with psycopg's async pool.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
import psycopg
from litestar import Litestar, get
from litestar.exceptions import NotFoundException
from psycopg_pool import AsyncConnectionPool

TABLE = "bench_bare_status"
COLUMNS = (
    "id, status, file_name, content_type, size, width, height, spec, error, "
    "result_content_type, result_size, result_width, result_height, created_at, updated_at"
)
PREFIX = "/api/v1/images"


class Picture(msgspec.Struct):
    content_type: str
    size: int
    width: int
    height: int


class Links(msgspec.Struct):
    self_: str = msgspec.field(name="self")
    image: str
    original: str
    process: str
    events: str


class StatusBody(msgspec.Struct):
    """The shape of the service's status body."""

    id: UUID
    status: str
    file_name: str
    content_type: str
    size: int
    width: int
    height: int
    spec: str | None
    error: str | None
    result: Picture | None
    created_at: datetime
    updated_at: datetime
    links: Links


def _body(row: tuple[Any, ...]) -> StatusBody:
    image = row[0] if isinstance(row[0], UUID) else UUID(row[0])
    created, updated = (
        v if isinstance(v, datetime) else datetime.fromisoformat(v) for v in row[13:15]
    )
    base = f"{PREFIX}/{image}"
    return StatusBody(
        id=image,
        status=row[1],
        file_name=row[2],
        content_type=row[3],
        size=row[4],
        width=row[5],
        height=row[6],
        spec=row[7],
        error=row[8],
        result=None if row[9] is None else Picture(row[9], row[10], row[11], row[12]),
        created_at=created,
        updated_at=updated,
        links=Links(
            f"{base}/status", base, f"{base}/original", f"{base}/process", f"{base}/events"
        ),
    )


def create_table(database: str) -> None:
    if database.startswith("postgresql"):
        with psycopg.connect(database, autocommit=True) as connection:
            connection.execute(
                f"CREATE TABLE {TABLE} (id uuid PRIMARY KEY, status text NOT NULL, "
                "file_name text NOT NULL, content_type text NOT NULL, size bigint NOT NULL, "
                "width integer NOT NULL, height integer NOT NULL, spec text, error text, "
                "result_content_type text, result_size bigint, result_width integer, "
                "result_height integer, created_at timestamptz NOT NULL, "
                "updated_at timestamptz NOT NULL)"
            )
        return
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(
            f"CREATE TABLE {TABLE} (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
            "file_name TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL, "
            "width INTEGER NOT NULL, height INTEGER NOT NULL, spec TEXT, error TEXT, "
            "result_content_type TEXT, result_size INTEGER, result_width INTEGER, "
            "result_height INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )


def put_row(database: str, status: Mapping[str, Any]) -> None:
    """The row of a status body the service answered."""
    result = status.get("result") or {}
    values = (
        status["id"],
        status["status"],
        status["file_name"],
        status["content_type"],
        status["size"],
        status["width"],
        status["height"],
        status.get("spec"),
        status.get("error"),
        result.get("content_type"),
        result.get("size"),
        result.get("width"),
        result.get("height"),
        status["created_at"],
        status["updated_at"],
    )
    if database.startswith("postgresql"):
        marks = ", ".join(["%s"] * len(values))
        with psycopg.connect(database, autocommit=True) as connection:
            connection.execute(f"INSERT INTO {TABLE} ({COLUMNS}) VALUES ({marks})", values)
        return
    marks = ", ".join(["?"] * len(values))
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(f"INSERT INTO {TABLE} ({COLUMNS}) VALUES ({marks})", values)


QUERY_SQLITE = f"SELECT {COLUMNS} FROM {TABLE} WHERE id = ?"
QUERY_POSTGRES = f"SELECT {COLUMNS} FROM {TABLE} WHERE id = %s"


def create_app() -> Litestar:
    database = os.environ["BENCH_BARE_DATABASE"]
    if database.startswith("postgresql"):
        return _postgres_app(database)
    return _sqlite_app(database)


def _sqlite_app(path: str) -> Litestar:
    connection = sqlite3.connect(path, check_same_thread=False)

    @get(f"{PREFIX}/{{image_id:str}}/status")
    async def status(image_id: str) -> StatusBody:
        row = connection.execute(QUERY_SQLITE, (image_id,)).fetchone()
        if row is None:
            raise NotFoundException()
        return _body(row)

    return Litestar([status], on_shutdown=[connection.close])


def _postgres_app(url: str) -> Litestar:
    pool = AsyncConnectionPool(url, min_size=4, max_size=16, open=False)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await pool.open(wait=True)
        try:
            yield
        finally:
            await pool.close()

    @get(f"{PREFIX}/{{image_id:str}}/status")
    async def status(image_id: str) -> StatusBody:
        async with pool.connection() as connection:
            cursor = await connection.execute(QUERY_POSTGRES, (UUID(image_id),))
            row = await cursor.fetchone()
        if row is None:
            raise NotFoundException()
        return _body(row)

    return Litestar([status], lifespan=[lifespan])
