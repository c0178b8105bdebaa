"""The event store: eventsourcing's configuration for ImageCommands, and the log it records.

The tables are created by the migrations, never by the library (CREATE_TABLE
is false), so `infra.migrate.upgrade` must have run before `open_image_commands`.
A notification id is an event's position in the log: the rowid on SQLite,
`notification_id` on PostgreSQL.

On PostgreSQL the library's recorders run on `FailFastDatastore`, built by our
`PostgresFactory` (the library's factory has no setting for a datastore class).
The SSL mode of the database URL reaches the library's connections as libpq's
own PGSSLMODE: the library passes no connection option beyond host, port, name,
user and password.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from time import monotonic
from typing import Any, cast
from uuid import UUID

import eventsourcing.postgres
import psycopg
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    BaseInfrastructureFactory,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, EnvType, strtobool
from psycopg import Connection
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow

from commands.application import ImageCommands
from domain.events import EventEnvelope, envelope
from domain.image import Image
from infra.errors import DependencyUnavailable
from infra.log_stream import PostgresLogStream, SqliteLogStream, event_topics
from infra.postgres import check_reachable
from infra.settings import Settings

SQLITE_LOCK_TIMEOUT_SECONDS = 10
POSTGRES_POOL_SIZE = 2  # kept open
POSTGRES_MAX_OVERFLOW = 8  # opened under load
# How long one try waits for a pooled connection; the library's recorder makes ten tries.
POSTGRES_POOL_TIMEOUT_SECONDS = 1
# libpq's own minimum: how long checking a server that drops packets may take.
POSTGRES_CHECK_TIMEOUT_SECONDS = 2
# A transaction left idle this long is ended by the server (the library's default).
POSTGRES_IDLE_IN_TRANSACTION_SECONDS = 5


def event_store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for ImageCommands on the configured database."""
    if settings.database_url is None:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path.absolute()),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
            "CREATE_TABLE": "false",
        }
    params = conninfo_to_dict(settings.database_url)
    return {
        "PERSISTENCE_MODULE": f"{__name__}:{PostgresFactory.__name__}",
        "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
        "POSTGRES_HOST": str(params.get("host", "localhost")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_POOL_TIMEOUT_SECONDS),
        "POSTGRES_SSLMODE": str(params.get("sslmode", "")),
        "POSTGRES_POOL_SIZE": str(POSTGRES_POOL_SIZE),
        "POSTGRES_MAX_OVERFLOW": str(POSTGRES_MAX_OVERFLOW),
        "POSTGRES_PRE_PING": "true",  # a restarted server costs no failed command
        "CREATE_TABLE": "false",
    }


class FailFastDatastore(PostgresDatastore):
    """The library's datastore, reporting a server that has gone within seconds.

    The recorder tries each call ten times, and each try waits up to the pool
    timeout for a connection the pool cannot make: a dead server took ten pool
    timeouts to report. Once a try has failed, the next ones first connect
    directly, which a dead server refuses at once; a server that drops packets
    is checked at most every `POSTGRES_CHECK_TIMEOUT_SECONDS`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Where the pool connects (libpq reads the SSL mode from PGSSLMODE, as for the pool).
        self._server = {key: kwargs[key] for key in ("dbname", "host", "port", "user", "password")}
        self._suspect = False  # a try failed: check the server before the next one
        self._down_until = 0.0

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        if self._suspect:
            self._check_server()
        try:
            with super().get_connection() as connection:
                yield connection
        except (InterfaceError, OperationalError):
            self._suspect = True
            raise

    def _check_server(self) -> None:
        if monotonic() < self._down_until:
            raise OperationalError("PostgreSQL was unreachable moments ago")
        try:
            psycopg.connect(**self._server, connect_timeout=POSTGRES_CHECK_TIMEOUT_SECONDS).close()
        except psycopg.OperationalError as e:
            self._down_until = monotonic() + POSTGRES_CHECK_TIMEOUT_SECONDS
            raise OperationalError(str(e)) from e
        self._suspect = False


class PostgresFactory(eventsourcing.postgres.PostgresFactory):
    """The library's PostgreSQL persistence (recorders, tables, statements) on a
    `FailFastDatastore` built from the settings `event_store_env` writes."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        # Not the library factory's own __init__: all it does is build a plain datastore.
        BaseInfrastructureFactory.__init__(self, env)
        setting = self.env.get
        if sslmode := setting("POSTGRES_SSLMODE"):
            os.environ["PGSSLMODE"] = sslmode  # read by libpq for every connection it makes
        self.datastore = FailFastDatastore(
            dbname=setting("POSTGRES_DBNAME") or "postgres",
            host=setting("POSTGRES_HOST") or "localhost",
            port=setting("POSTGRES_PORT") or "5432",
            user=setting("POSTGRES_USER") or "postgres",
            password=setting("POSTGRES_PASSWORD") or "",
            connect_timeout=int(setting("POSTGRES_CONNECT_TIMEOUT") or 30),
            idle_in_transaction_session_timeout=POSTGRES_IDLE_IN_TRANSACTION_SECONDS,
            pool_size=int(setting("POSTGRES_POOL_SIZE") or 5),
            max_overflow=int(setting("POSTGRES_MAX_OVERFLOW") or 10),
            pre_ping=strtobool(setting("POSTGRES_PRE_PING") or "no"),
        )


def notification_channel(app: ImageCommands) -> str | None:
    """The channel PostgreSQL NOTIFYs when events are recorded; None on SQLite."""
    recorder = app.recorder
    return recorder.channel_name if isinstance(recorder, PostgresApplicationRecorder) else None


def open_image_commands(
    settings: Settings, *, on_recorded: Callable[[], None] | None = None
) -> ImageCommands:
    """ImageCommands on the configured event store, calling `on_recorded` after each
    commit; DependencyUnavailable if the store is down."""
    if settings.database_url is not None:
        check_reachable(settings.database_url)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    with _unavailable():
        return ImageCommands(env=event_store_env(settings), on_recorded=on_recorded)


class SqlEventLog:
    """The EventLog port (commands/log.py) over the event store's notification log."""

    def __init__(self, app: ImageCommands) -> None:
        self._app = app

    def read(self, after: int, limit: int) -> Sequence[EventEnvelope]:
        with _unavailable():
            notifications = self._app.recorder.select_notifications(
                start=after, limit=limit, inclusive_of_start=False
            )
        return [self._envelope(n.id, n) for n in notifications]

    def stream(
        self, after: int, size: int, *, up_to: int | None = None
    ) -> Iterator[list[EventEnvelope]]:
        """The events after `after` (up to `up_to`, included), in order, in batches of at
        most `size`, until the log as it stood when the stream began has no more: decoded
        by msgspec straight from the rows (infra/log_stream.py), not through the mapper."""
        with _unavailable():
            yield from self._streamer().batches(after, size, up_to)

    def _streamer(self) -> SqliteLogStream | PostgresLogStream | _LibraryLogStream:
        recorder, mapper = self._app.recorder, self._app.mapper
        if mapper.compressor is not None or mapper.cipher is not None:
            return _LibraryLogStream(self.read)
        topics = event_topics(Image)
        if isinstance(recorder, SQLiteApplicationRecorder):
            datastore = recorder.datastore
            return SqliteLogStream(
                lambda: datastore.transaction(commit=False),
                recorder.events_table_name,
                topics,
                self.read,
            )
        if isinstance(recorder, PostgresApplicationRecorder):
            pg = recorder.datastore
            return PostgresLogStream(
                pg.get_connection, pg.schema, recorder.events_table_name, topics, self.read
            )
        return _LibraryLogStream(self.read)

    def head(self) -> int:
        with _unavailable():
            return self._app.recorder.max_notification_id() or 0

    def history(self, image_id: UUID, after_version: int = 0) -> Sequence[EventEnvelope]:
        # The recorders' `select_events` leaves out the notification id, and
        # `select_notifications` cannot select one originator: hence this query.
        recorder = self._app.recorder
        key: object
        if isinstance(recorder, SQLiteApplicationRecorder):
            position, placeholder, key = "rowid", "?", image_id.hex  # as the recorder stores it
        elif isinstance(recorder, PostgresApplicationRecorder):
            position, placeholder, key = "notification_id", "%s", image_id
        else:
            raise TypeError(f"no history query for {type(recorder).__name__}")
        query = (
            f"SELECT {position} AS position, originator_version, topic, state "
            f"FROM {recorder.events_table_name} WHERE originator_id={placeholder} "
            f"AND originator_version>{placeholder} ORDER BY originator_version"
        )
        with _unavailable(), recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (key, after_version))
            rows = cursor.fetchall()
        return [
            self._envelope(
                row["position"],
                StoredEvent(image_id, row["originator_version"], row["topic"], bytes(row["state"])),
            )
            for row in rows
        ]

    def _envelope(self, position: int, stored: StoredEvent) -> EventEnvelope:
        event = cast(DomainEvent, self._app.mapper.to_domain_event(stored))
        return envelope(
            event_type=type(event).__name__,
            image_id=event.originator_id,
            version=event.originator_version,
            position=position,
            occurred_at=event.timestamp,
            state=event.__dict__,
        )


class _LibraryLogStream:
    """Batches read through the library's mapper, for an event store the fast stream
    cannot decode."""

    def __init__(self, read: Callable[[int, int], Sequence[EventEnvelope]]) -> None:
        self._read = read

    def batches(self, after: int, size: int, up_to: int | None) -> Iterator[list[EventEnvelope]]:
        while up_to is None or after < up_to:
            batch = [e for e in self._read(after, size) if up_to is None or e.position <= up_to]
            if not batch:
                return
            yield batch
            after = batch[-1].position


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except PersistenceError as e:
        raise DependencyUnavailable("event store", str(e)) from e
